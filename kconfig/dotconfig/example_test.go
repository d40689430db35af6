package dotconfig_test

import (
	"fmt"
	"strings"

	"github.com/rflkit/rflkit/kconfig/dotconfig"
)

func ExampleParse() {
	const text = `#
# Automatically generated file; DO NOT EDIT.
#
CONFIG_64BIT=y
# CONFIG_RUST is not set
CONFIG_LOG_BUF_SHIFT=17
CONFIG_DEFAULT_HOSTNAME="(none)"
`
	cfg, err := dotconfig.Parse(strings.NewReader(text), ".config", dotconfig.ParseOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for sym, v := range cfg.All() {
		fmt.Printf("%s %s %s\n", sym, v.Kind(), v)
	}

	cfg.SetString("RUST", "y")
	cfg.Set("LOG_BUF_SHIFT", dotconfig.IntValue(18))
	cfg.Set("BLK_DEV_RUST_NULL", dotconfig.TristateValue(dotconfig.Mod))
	fmt.Print(cfg)
	// Output:
	// 64BIT tristate y
	// RUST not set n
	// LOG_BUF_SHIFT number 17
	// DEFAULT_HOSTNAME string "(none)"
	// #
	// # Automatically generated file; DO NOT EDIT.
	// #
	// CONFIG_64BIT=y
	// CONFIG_RUST=y
	// CONFIG_LOG_BUF_SHIFT=18
	// CONFIG_DEFAULT_HOSTNAME="(none)"
	// CONFIG_BLK_DEV_RUST_NULL=m
}

func ExampleParseOptions_lenient() {
	text := "CONFIG_A=y\nthis is not a config line\nCONFIG_B=m\n"
	_, err := dotconfig.Parse(strings.NewReader(text), "frag", dotconfig.ParseOptions{})
	fmt.Println(err)

	cfg, _ := dotconfig.Parse(strings.NewReader(text), "frag", dotconfig.ParseOptions{Lenient: true})
	for _, w := range cfg.Warnings() {
		fmt.Printf("%s:%d:%d: %s\n", w.File, w.Line, w.Col, w.Msg)
	}
	fmt.Println(cfg.Len(), "symbols")
	// Output:
	// kconfig: frag:2:1: unexpected data: want CONFIG_NAME=VALUE, "# CONFIG_NAME is not set" or a comment: "this is not a config line"
	// frag:2:1: unexpected data: want CONFIG_NAME=VALUE, "# CONFIG_NAME is not set" or a comment
	// 2 symbols
}

func ExampleMerge() {
	base, _ := dotconfig.Parse(strings.NewReader("CONFIG_SMP=y\n# CONFIG_RUST is not set\nCONFIG_LOG_BUF_SHIFT=17\n"), "x86_64_defconfig", dotconfig.ParseOptions{})
	frag, _ := dotconfig.Parse(strings.NewReader("CONFIG_RUST=y\nCONFIG_SMP=y\n"), "rust.config", dotconfig.ParseOptions{})
	merged, warnings := dotconfig.Merge(base, frag)
	for _, w := range warnings {
		fmt.Printf("%s: %s\n", w.Kind, w)
	}
	fmt.Print(merged)
	// Output:
	// redundant: Value of CONFIG_SMP is redundant by fragment rust.config:
	// redefined: Value of CONFIG_RUST is redefined by fragment rust.config:
	// Previous value: # CONFIG_RUST is not set
	// New value: CONFIG_RUST=y
	// CONFIG_LOG_BUF_SHIFT=17
	//
	// CONFIG_RUST=y
	// CONFIG_SMP=y
}

func ExampleDiff() {
	a, _ := dotconfig.Parse(strings.NewReader("CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\n"), "a", dotconfig.ParseOptions{})
	b, _ := dotconfig.Parse(strings.NewReader("CONFIG_B=y\nCONFIG_C=n\nCONFIG_D=\"new\"\n"), "b", dotconfig.ParseOptions{})
	d := dotconfig.Diff(a, b)
	fmt.Print(d)
	fmt.Println("--- as a fragment (diffconfig -m):")
	fmt.Print(d.MergeStyle())
	// Output:
	// -A y
	//  B m -> y
	// +D "new"
	// --- as a fragment (diffconfig -m):
	// CONFIG_B=y
	// CONFIG_D="new"
}

func ExampleVerify() {
	requested, _ := dotconfig.Parse(strings.NewReader("CONFIG_RUST=y\n# CONFIG_KASAN is not set\nCONFIG_NR_CPUS=4\n"), "rust.config", dotconfig.ParseOptions{})
	final, _ := dotconfig.Parse(strings.NewReader("# CONFIG_RUST is not set\nCONFIG_NR_CPUS=4\n"), ".config", dotconfig.ParseOptions{})
	for _, m := range dotconfig.Verify(requested, final) {
		fmt.Println(m)
	}
	// Output:
	// CONFIG_RUST differs:
	// Requested value: CONFIG_RUST=y
	// Actual value:    # CONFIG_RUST is not set
}
