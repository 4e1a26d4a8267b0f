package fleet

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// SnapshotJSON is one snapshot name in `snapshot list --json` (README
// "JSON output"): complete says every lab VM has it.
type SnapshotJSON struct {
	Name     string         `json:"name"`
	Complete bool           `json:"complete"`
	VMs      []SnapshotOnVM `json:"vms"`
}

// SnapshotOnVM is one VM's side of a SnapshotJSON.
type SnapshotOnVM struct {
	VM      string `json:"vm"`
	Present bool   `json:"present"`
	Current bool   `json:"current"`
	Taken   string `json:"taken,omitempty"` // RFC 3339, when VirtualBox reports it
}

// JSONList is `snapshot list --json`.
func (set *Set) JSONList() []SnapshotJSON {
	rows := []SnapshotJSON{}
	for _, r := range set.List() {
		row := SnapshotJSON{Name: r.Name, Complete: true, VMs: []SnapshotOnVM{}}
		for _, vm := range set.VMs {
			when, ok := r.VMs[vm.Name]
			on := SnapshotOnVM{VM: vm.Name, Present: ok, Current: slices.Contains(r.Current, vm.Name)}
			if ok && when != "yes" {
				on.Taken = when
			}
			row.Complete = row.Complete && ok
			row.VMs = append(row.VMs, on)
		}
		rows = append(rows, row)
	}
	return rows
}

// WriteList prints the snapshot × VM table, or its JSON.
func (set *Set) WriteList(out io.Writer, labName string, asJSON bool) error {
	rows := set.List()
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(set.JSONList())
	}
	if len(rows) == 0 {
		fmt.Fprintf(out, "Lab %q has no snapshots.\n", labName)
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "SNAPSHOT")
	for _, vm := range set.VMs {
		fmt.Fprintf(tw, "\t%s", vm.Name)
	}
	fmt.Fprintln(tw)
	for _, r := range rows {
		fmt.Fprint(tw, r.Name)
		for _, vm := range set.VMs {
			v, ok := r.VMs[vm.Name]
			if !ok {
				v = "MISSING"
			}
			fmt.Fprintf(tw, "\t%s", v)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
