package kconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDependsOnIfTristate checks "depends on X if Y" with a tristate Y at
// m: the kernel builds X || (Y == n) with expr_trans_compare, so that
// "if !A" becomes A != n, which is y for A=m (not "the value of !A is n",
// which is false since !m is m). mips' ath25_defconfig has
// USB_CDNS_SUPPORT so (USB=m, USB_GADGET=n: "depends on USB_GADGET if
// !USB"): make writes it as "is not set".
func TestDependsOnIfTristate(t *testing.T) {
	dir := t.TempDir()
	kc := `config MODULES
	bool "modules"
	modules
	default y

config A
	tristate "A"
	default m

config B
	tristate "B"

config C
	tristate "C"
	depends on B if !A

config D
	tristate "D"
	depends on B if A

config E
	tristate "E"
	depends on A || B
	depends on A if !B
	depends on B if !A
`
	if err := os.WriteFile(filepath.Join(dir, "Kconfig"), []byte(kc), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := loadSmall(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := string(tr.OldDefconfig(nil).Bytes())
	for _, want := range []string{"CONFIG_A=m\n", "# CONFIG_B is not set\n", "# CONFIG_C is not set\n", "# CONFIG_E is not set\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("olddefconfig lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "CONFIG_D") {
		t.Errorf("D (B || A = n, with B=n and A=m) is invisible, yet written:\n%s", got)
	}
}
