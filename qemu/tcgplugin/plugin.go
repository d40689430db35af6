package tcgplugin

import (
	"strconv"
	"strings"
)

// Plugin is one use of the plugin in a QEMU run: which build, which map,
// where the snapshots go, and which instruction triggers them.
type Plugin struct {
	// Path is the plugin's shared object (Build's result).
	Path string
	// Map is the map file (SymbolTable.WriteMapFile).
	Map string
	// Out is the output file; the plugin truncates it when QEMU starts.
	Out string
	// Trigger is the address of the instruction whose every execution
	// writes a snapshot: the entry of a function nothing else runs
	// during a measurement (ksys_sync: the guest runs `sync`). 0 = none;
	// the only snapshot is then the one at exit.
	Trigger uint64
}

// QEMUArgs returns the QEMU arguments that load the plugin:
// "-plugin", "PATH,map=MAP,out=OUT[,trigger=0xADDR]". QEMU 7.2 hands each
// key=value to the plugin as one argument; a comma inside a path is
// doubled, QEMU's escape for it. Put them in qemu.Machine.ExtraArgs.
func (p Plugin) QEMUArgs() []string {
	opt := escape(p.Path) + ",map=" + escape(p.Map) + ",out=" + escape(p.Out)
	if p.Trigger != 0 {
		opt += ",trigger=0x" + strconv.FormatUint(p.Trigger, 16)
	}
	return []string{"-plugin", opt}
}

// escape doubles the commas of a QEMU option value.
func escape(s string) string { return strings.ReplaceAll(s, ",", ",,") }
