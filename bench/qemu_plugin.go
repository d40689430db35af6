package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rflkit/rflkit/qemu/tcgplugin"
)

// bootPlugin is the instruction-counting plugin of one QEMU boot: the
// kernel's function table, the map and output files in a temporary
// directory of the boot.
type bootPlugin struct {
	tab    *tcgplugin.SymbolTable
	plugin tcgplugin.Plugin
	dir    string
}

// newBootPlugin reads the kernel's System.map, checks the kernel is not
// relocated at random (System.map's addresses must be the run-time ones),
// writes the map and sets ksys_sync as the trigger.
func newBootPlugin(k KernelArm, so string) (*bootPlugin, error) {
	if k.SystemMap == "" {
		return nil, fmt.Errorf("bench: kernel %s: no System.map (KernelArm.SystemMap) for the instruction-counting plugin; set QEMUOptions.NoPlugin to measure without it", k.Name)
	}
	if k.Config != "" {
		if err := checkNoKASLR(k.Config); err != nil {
			return nil, fmt.Errorf("bench: kernel %s: %w", k.Name, err)
		}
	}
	f, err := os.Open(k.SystemMap)
	if err != nil {
		return nil, fmt.Errorf("bench: kernel %s: %w", k.Name, err)
	}
	defer f.Close()
	tab, err := tcgplugin.ReadSystemMap(f)
	if err != nil {
		return nil, fmt.Errorf("bench: kernel %s: %w", k.Name, err)
	}
	trigger, ok := tab.Addr("ksys_sync")
	if !ok {
		return nil, fmt.Errorf("bench: kernel %s: ksys_sync is not in %s: no trigger for the plugin", k.Name, k.SystemMap)
	}
	dir, err := os.MkdirTemp("", "rflkit-bench-plugin-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	p := &bootPlugin{tab: tab, dir: dir, plugin: tcgplugin.Plugin{Path: so, Map: filepath.Join(dir, "kernel.map"),
		Out: filepath.Join(dir, "counts.txt"), Trigger: trigger}}
	if err := tab.WriteMapFile(p.plugin.Map); err != nil {
		p.remove()
		return nil, fmt.Errorf("bench: %w", err)
	}
	return p, nil
}

// snapshots parses the plugin's output so far.
func (p *bootPlugin) snapshots() ([]tcgplugin.Snapshot, error) {
	f, err := os.Open(p.plugin.Out)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	return tcgplugin.ParseOutput(f)
}

// remove deletes the boot's directory; nil-safe.
func (p *bootPlugin) remove() {
	if p != nil {
		_ = os.RemoveAll(p.dir)
	}
}

// checkNoKASLR fails for a .config with RANDOMIZE_BASE=y: the kernel
// would run at a random offset from System.map's addresses.
func checkNoKASLR(config string) error {
	f, err := os.Open(config)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "CONFIG_RANDOMIZE_BASE=y" {
			return fmt.Errorf("%s has CONFIG_RANDOMIZE_BASE=y: System.map's addresses are not the run-time ones", config)
		}
	}
	return sc.Err()
}
