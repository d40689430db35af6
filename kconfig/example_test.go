package kconfig_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/rflkit/rflkit/kconfig"
)

// Load a Kconfig tree, run olddefconfig on a fragment, and ask why a
// symbol did not take.
func ExampleTree_Explain() {
	ctx := context.Background()
	tree, err := kconfig.Load(ctx, kconfig.LoadOptions{
		SrcDir:       "testdata/lang/example",
		Env:          []string{"PATH=" + os.Getenv("PATH")},
		NoMacroCache: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	in, err := kconfig.Parse(strings.NewReader("CONFIG_NET=y\nCONFIG_RNULL=y\n"), "fragment", kconfig.ParseOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	res := tree.OldDefconfig(in)
	rnull, _ := res.Value("RNULL")
	fmt.Println("RNULL =", rnull)

	x, err := tree.Explain(in, "RNULL", "y")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range x.DependsOn {
		fmt.Printf("depends on %s [%s]\n", d.Expr, d.Value)
	}
	for _, a := range x.Fix {
		fmt.Println("fix:", a)
	}
	// Output:
	// RNULL = n
	// depends on NET [y]
	// depends on CONFIGFS_FS [n]
	// fix: CONFIG_CONFIGFS_FS=y
}
