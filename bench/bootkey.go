package bench

import "fmt"

// bootKeys returns, for each boot of boots (by position), the key the
// analysis pairs and groups its runs by: the guest's boot id, which is a
// random UUID and so names the boot on its own — unless two boots report
// the same one. Under -icount a guest's execution can be close to
// deterministic, and a kernel without a hardware random source could then
// draw the same boot id twice; such boots are told apart by their index
// in the schedule ("<boot id>#<index>"), which is unique in a Results.
func bootKeys(boots []BootRecord) []string {
	seen := make(map[string]int, len(boots))
	for _, b := range boots {
		seen[b.BootID]++
	}
	keys := make([]string, len(boots))
	for i, b := range boots {
		keys[i] = b.BootID
		if b.BootID == "" || seen[b.BootID] > 1 {
			keys[i] = fmt.Sprintf("%s#%d", b.BootID, b.Index)
		}
	}
	return keys
}
