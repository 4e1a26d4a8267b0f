package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"labctl/vbox"
)

// TagInfo describes the lab to `labctl list`, which reads VirtualBox only
// (no lab.toml): a LabInfo as JSON, one tag so a clone costs one more
// setextradata whatever the lab says of itself. Labs cloned before it
// existed show "-" for what it holds.
const TagInfo = "labctl/info"

// LabInfo is what TagInfo holds.
type LabInfo struct {
	StateDir string `json:"state_dir,omitempty"` // the lab's state folder on this host
	Seat     int    `json:"seat,omitempty"`      // the classroom seat; 0 = none
	Mode     string `json:"mode,omitempty"`      // the network mode; "" = not recorded
}

// Tag is the TagInfo value of info.
func (info LabInfo) Tag() string {
	b, _ := json.Marshal(info)
	return string(b)
}

// groupPrefix is the start of every lab's VirtualBox group.
const groupPrefix = "/labctl/"

// LabVM is one VM of a listed lab.
type LabVM struct {
	Name  string       `json:"name"`
	Node  string       `json:"node,omitempty"` // the node's hostname tag; "" for a clone never tagged
	State vbox.VMState `json:"state"`
}

// LabSummary is one labctl lab on this host, as VirtualBox holds it.
type LabSummary struct {
	Name string `json:"name"`
	LabInfo
	Running int     `json:"vms_running"`
	Total   int     `json:"vms_total"`
	VMs     []LabVM `json:"vms"`
}

// extraLister reads all of a VM's extradata in one call (vbox.Client).
type extraLister interface {
	ExtraDataAll(ctx context.Context, vm string) (map[string]string, error)
}

// Labs lists every labctl lab on this host: each VM in a /labctl/<lab>
// group is read, and its labctl/lab tag (or, for a clone interrupted before
// it was tagged, its group) says which lab it is part of. Nothing is
// changed. A VM deleted while the list is read is skipped.
func Labs(ctx context.Context, api vbox.API, limit int) ([]LabSummary, error) {
	vms, err := api.ListVMs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list VMs: %w", err)
	}
	var (
		mu   sync.Mutex
		labs = map[string]*LabSummary{}
	)
	err = each(ctx, limit, vms, func(v vbox.VM) string { return v.Name }, func(ctx context.Context, v vbox.VM) error {
		info, err := api.Info(ctx, v.UUID)
		if errors.Is(err, vbox.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		group := labGroup(info.Groups)
		if info.Inaccessible || group == "" {
			return nil
		}
		tags, err := readTags(ctx, api, v.UUID)
		if errors.Is(err, vbox.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		name := tags[TagLab]
		if name == "" {
			name = group
		}
		mu.Lock()
		defer mu.Unlock()
		l := labs[name]
		if l == nil {
			l = &LabSummary{Name: name}
			labs[name] = l
		}
		l.Total++
		if info.State == vbox.StateRunning {
			l.Running++
		}
		l.VMs = append(l.VMs, LabVM{Name: info.Name, Node: tags[TagNode], State: info.State})
		var desc LabInfo
		if json.Unmarshal([]byte(tags[TagInfo]), &desc) == nil && l.LabInfo == (LabInfo{}) {
			l.LabInfo = desc
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]LabSummary, 0, len(labs))
	for _, l := range labs {
		sort.Slice(l.VMs, func(i, j int) bool { return l.VMs[i].Name < l.VMs[j].Name })
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// labGroup is the lab named by a /labctl/<lab> group, "" when none.
func labGroup(groups []string) string {
	for _, g := range groups {
		if name, ok := strings.CutPrefix(g, groupPrefix); ok && name != "" && !strings.Contains(name, "/") {
			return name
		}
	}
	return ""
}

// readTags reads the labctl tags of a VM: all at once where the backend
// can, else one by one.
func readTags(ctx context.Context, api vbox.API, vm string) (map[string]string, error) {
	if el, ok := api.(extraLister); ok {
		return el.ExtraDataAll(ctx, vm)
	}
	tags := map[string]string{}
	for _, k := range []string{TagLab, TagNode, TagInfo} {
		v, err := api.GetExtraData(ctx, vm, k)
		if err != nil {
			return nil, err
		}
		tags[k] = v
	}
	return tags, nil
}

// WriteLabs prints the labs as a table (state folders under home as ~/),
// or as JSON (an empty list when there are none).
func WriteLabs(out io.Writer, labs []LabSummary, asJSON bool) error {
	if asJSON {
		if labs == nil {
			labs = []LabSummary{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(labs)
	}
	if len(labs) == 0 {
		_, err := fmt.Fprintln(out, "No labctl labs on this host (no VM is in a /labctl/<lab> VirtualBox group).")
		return err
	}
	home, _ := os.UserHomeDir()
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAB\tSEAT\tMODE\tRUNNING\tSTATE FOLDER")
	for _, l := range labs {
		seat, mode, dir := "-", l.Mode, l.StateDir
		if l.Seat > 0 {
			seat = strconv.Itoa(l.Seat)
		}
		if mode == "" {
			mode = "-"
		}
		if dir == "" {
			dir = "-"
		} else if home != "" && strings.HasPrefix(dir, home+string(filepath.Separator)) {
			dir = "~" + dir[len(home):]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\n", l.Name, seat, mode, l.Running, l.Total, dir)
	}
	return tw.Flush()
}
