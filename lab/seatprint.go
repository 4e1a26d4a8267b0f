package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// roomWidth is the terminal width the seats table is laid out for.
const roomWidth = 80

// JSON writes the room for scripts.
func (r *Room) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Print writes the room as a table no wider than 80 columns: one row per
// seat (long address lists continue on the next line, under their column),
// then the naming rules the rows do not repeat.
func (r *Room) Print(w io.Writer) {
	// The file by its base name: a long path would break the 80 columns.
	fmt.Fprintf(w, "%d seats of lab %q (%s) on %s, gateway %s.\n", len(r.Seats), r.Lab, filepath.Base(r.File), r.Network, r.Gateway)
	if r.Block == 0 {
		fmt.Fprintf(w, "Each seat keeps the addresses as written, on a private network of its own; seat 0 is the lab as written.\n\n")
	} else {
		fmt.Fprintf(w, "Seat N moves every address up by N x %d; seat 0 is the lab as written.\n\n", r.Block)
	}
	head := []string{"SEAT", "LAB", "VRRP", "VIP"}
	rows := make([][]string, len(r.Seats))
	widths := make([]int, len(head))
	for i, h := range head {
		widths[i] = len(h)
	}
	for i, s := range r.Seats {
		rows[i] = []string{strconv.Itoa(s.Seat), s.Lab, strconv.Itoa(s.RouterID), s.VIP.String()}
		for j, c := range rows[i] {
			widths[j] = max(widths[j], len(c))
		}
	}
	const gap = "  "
	line := func(cells []string) string {
		var b strings.Builder
		for j, c := range cells {
			switch j {
			case 0, 2: // numbers right-aligned
				fmt.Fprintf(&b, "%*s%s", widths[j], c, gap)
			default:
				fmt.Fprintf(&b, "%-*s%s", widths[j], c, gap)
			}
		}
		return b.String()
	}
	indent := len(line(head))
	avail := max(roomWidth-indent, 24)
	fmt.Fprintln(w, strings.TrimRight(line(head)+"NODE ADDRESSES", " "))
	for i, s := range r.Seats {
		nodes := make([]netip.Addr, len(s.Nodes))
		for j, n := range s.Nodes {
			nodes[j] = n.IP
		}
		for k, part := range wrapList(addrRuns(nodes), avail) {
			prefix := line(rows[i])
			if k > 0 {
				prefix = strings.Repeat(" ", indent)
			}
			fmt.Fprintln(w, prefix+part)
		}
	}
	if len(r.Seats) == 0 {
		return
	}
	var names []string
	for _, n := range r.Seats[0].Nodes {
		names = append(names, strings.TrimSuffix(n.VM, "-S1")+"-S<N>")
	}
	fmt.Fprintln(w)
	for _, l := range wrapList(append([]string{"VM names on seat N:"}, names...), roomWidth) {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w, "Host names stay as written. On seat N run `labctl --seat N up`, or set seat = N")
	fmt.Fprintln(w, "in lab.toml. `labctl seats --json` prints every seat's nodes one by one.")
}

// addrRuns condenses addresses into sorted runs: "192.168.1.108-110",
// then ".168-170" while the first three numbers stay the same.
func addrRuns(addrs []netip.Addr) []string {
	sorted := append([]netip.Addr(nil), addrs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Less(sorted[j]) })
	var out []string
	prev := ""
	for i := 0; i < len(sorted); {
		j := i
		for j+1 < len(sorted) && sorted[j+1] == sorted[j].Next() && sorted[j+1].As4()[2] == sorted[i].As4()[2] {
			j++
		}
		a := sorted[i].As4()
		net3 := fmt.Sprintf("%d.%d.%d", a[0], a[1], a[2])
		s := sorted[i].String()
		if net3 == prev {
			s = "." + strconv.Itoa(int(a[3]))
		}
		if j > i {
			s += "-" + strconv.Itoa(int(sorted[j].As4()[3]))
		}
		out = append(out, s)
		prev = net3
		i = j + 1
	}
	return out
}

// wrapList joins items with ", " into lines of at most width characters
// (an item longer than width gets a line of its own).
func wrapList(items []string, width int) []string {
	var lines []string
	cur := ""
	for i, it := range items {
		sep := ", "
		if i == 0 || strings.HasSuffix(cur, ":") {
			sep = " "
		}
		if cur == "" {
			cur = it
			continue
		}
		if len(cur)+len(sep)+len(it) > width {
			lines = append(lines, strings.TrimRight(cur, " ")+strings.TrimSpace(sep[:1]))
			cur = it
			continue
		}
		cur += sep + it
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}
