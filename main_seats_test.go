package main

// Whole-tool tests of classroom seats, the address probe and several labs
// on one VirtualBox: the real CLI against the stateful fake VBoxManage and
// the simulated guests (whose LAN answers the real address-probe step).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"labctl/fleet"
	"labctl/internal/vboxtest"
	"labctl/lab"
	"labctl/labenv"
	"labctl/steps"
	"labctl/steps/steptest"
)

func init() {
	// No whole-tool test probes from this computer: the fake's lab network
	// (TEST-NET-1) may be the test machine's own; addrprobe's and steps'
	// tests prove the host probe in namespaces they create.
	labenv.HostProbe = nil
}

// plus is a + k, counted one address at a time (not the code under test).
func plus(a netip.Addr, k int) netip.Addr {
	for ; k > 0; k-- {
		a = a.Next()
	}
	return a
}

// labctlIn runs the CLI on file against u's fake.
func (u *upLab) labctlIn(file string, args ...string) (int, string, string) {
	u.t.Helper()
	argv := append([]string{"labctl", "--lab", file, "--vboxmanage", u.fake.Bin}, args...)
	var out, errb bytes.Buffer
	err := newApp(strings.NewReader(""), &out, &errb).RunContext(context.Background(), argv)
	code := upExitCode(err, &errb)
	if testing.Verbose() {
		u.t.Logf("labctl --lab %s %s: exit %d\n%s%s", filepath.Base(file), strings.Join(args, " "), code, out.String(), errb.String())
	}
	return code, out.String(), errb.String()
}

func TestSeatsTableAndJSONFromComputedAddresses(t *testing.T) {
	u := newUpLab(t, false)
	code, out, errOut := u.labctl(context.Background(), "seats", "--count", "10")
	if code != 0 {
		t.Fatalf("seats --count 10: exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for _, l := range lines {
		if len([]rune(l)) > 80 {
			t.Errorf("line wider than 80 columns (%d): %q", len([]rune(l)), l)
		}
	}
	rows := map[int][]string{}
	for _, l := range lines {
		f := strings.Fields(l)
		var n int
		if len(f) >= 5 && f[1] == fmt.Sprintf("%s-seat%s", upLabName, f[0]) {
			fmt.Sscan(f[0], &n)
			rows[n] = f
		}
	}
	if len(rows) != 10 {
		t.Fatalf("%d seat rows, want 10:\n%s", len(rows), out)
	}
	p := u.plan
	for n := 1; n <= 10; n++ {
		f := rows[n]
		if want := plus(p.VIP, 8*n).String(); f[3] != want {
			t.Errorf("seat %d: VIP %s, want %s", n, f[3], want)
		}
		if want := fmt.Sprint(lab.SeatRouterID(p.VRRPRouterID, n)); f[2] != want {
			t.Errorf("seat %d: VRRP %s, want %s", n, f[2], want)
		}
		// Runs: "192.0.2.108-110," then ".168-170".
		db, web := plus(p.Nodes[0].IP, 8*n), plus(p.Nodes[3].IP, 8*n)
		wantRuns := fmt.Sprintf("%s-%d, .%d-%d", db, db.As4()[3]+2, web.As4()[3], web.As4()[3]+2)
		if got := strings.Join(f[4:], " "); got != wantRuns {
			t.Errorf("seat %d: addresses %q, want %q", n, got, wantRuns)
		}
	}

	code, out, errOut = u.labctl(context.Background(), "seats", "--count", "10", "--json")
	if code != 0 {
		t.Fatalf("seats --json: exit %d\n%s", code, errOut)
	}
	var room struct {
		Network string `json:"network"`
		Block   int    `json:"block"`
		Seats   []struct {
			Seat     int    `json:"seat"`
			Lab      string `json:"lab"`
			RouterID int    `json:"vrrp_router_id"`
			VIP      string `json:"vip"`
			Nodes    []struct{ VM, Hostname, Role, IP string }
		} `json:"seats"`
	}
	if err := json.Unmarshal([]byte(out), &room); err != nil {
		t.Fatalf("seats --json is not JSON: %v\n%s", err, out)
	}
	if room.Network != "192.0.2.0/24" || room.Block != 8 || len(room.Seats) != 10 {
		t.Fatalf("room %s block %d with %d seats", room.Network, room.Block, len(room.Seats))
	}
	seen := map[string]string{}
	for _, n := range p.Nodes {
		seen[n.IP.String()] = "seat 0"
	}
	for i, s := range room.Seats {
		n := i + 1
		if s.Seat != n || s.Lab != fmt.Sprintf("%s-seat%d", upLabName, n) || s.VIP != plus(p.VIP, 8*n).String() {
			t.Errorf("seat %d: %+v", n, s)
		}
		for j, nd := range s.Nodes {
			want := p.Nodes[j]
			if nd.VM != fmt.Sprintf("%s-S%d", want.VM, n) || nd.Hostname != want.Hostname || nd.IP != plus(want.IP, 8*n).String() {
				t.Errorf("seat %d node %d: %+v, want %s-S%d %s %s", n, j, nd, want.VM, n, want.Hostname, plus(want.IP, 8*n))
			}
			if other, dup := seen[nd.IP]; dup {
				t.Errorf("seat %d: %s is also %s's", n, nd.IP, other)
			}
			seen[nd.IP] = fmt.Sprint("seat ", n)
		}
	}
}

func TestSeatsRefusesARoomThatDoesNotFit(t *testing.T) {
	u := newUpLab(t, true)
	code, out, errOut := u.labctl(context.Background(), "seats", "--count", "30")
	if code == 0 {
		t.Fatalf("30 seats on a /24 were accepted:\n%s", out)
	}
	// Seat 11 moves the VIP .167 by 88: 192.0.2.255, the broadcast address.
	for _, want := range []string{"seat 11", "192.0.2.255", "broadcast", "seats 1-10", "/23", "fewer seats", "natnetwork"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, errOut)
		}
	}
	// up on that seat: the same error, before any VBoxManage call.
	n0 := len(u.fake.Argv())
	code, _, upErr := u.labctl(context.Background(), "--seat", "11", "up")
	if code == 0 || !strings.Contains(upErr, "seat 11 does not fit") || !strings.Contains(upErr, "192.0.2.255") {
		t.Fatalf("up --seat 11: exit %d\n%s", code, upErr)
	}
	if calls := u.fake.Argv()[n0:]; len(calls) != 0 {
		t.Errorf("up --seat 11 called VBoxManage: %v", calls)
	}
}

func TestPlantedAddressStopsUpBeforeAnyNodeTakesAnAddress(t *testing.T) {
	u := newUpLab(t, true)
	planted := u.plan.Nodes.Find("SQL-TWO").IP
	const foreign = "52:54:00:ab:cd:ef"
	u.sim.Plant(planted, foreign)
	code, out, errOut := u.up()
	if code == 0 {
		t.Fatalf("up went on although %s answers from %s:\n%s", planted, foreign, out)
	}
	for _, want := range []string{"(address-probe) failed", planted.String(), foreign, "SQL-TWO", "--seat", "labctl seats", "no node of this lab has taken an address yet"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the error lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Count(errOut, "is already in use") != 1 {
		t.Errorf("want exactly one clash (only %s is planted):\n%s", planted, errOut)
	}
	// No node took an address, nor did anything after the probe run.
	for _, n := range u.plan.Nodes {
		for _, st := range []string{"fresh-identity", "guest-network"} {
			if u.sim.Applied(st, n.VM) {
				t.Errorf("%s ran on %s although the probe failed", st, n.VM)
			}
		}
	}
	probes := u.sim.Probes()
	if len(probes) != 1 {
		t.Fatalf("%d probes, want 1", len(probes))
	}
	var want []string
	for _, n := range u.plan.Nodes {
		want = append(want, n.IP.String())
	}
	want = append(want, u.plan.VIP.String())
	if got := strings.Fields(probes[0]); !slices.Equal(got, want) {
		t.Errorf("probed %v, want every node address and the VIP %v", got, want)
	}

	// The machine leaves: up builds the lab; a re-run, where the lab's own
	// VMs answer for every address, is not stopped and changes nothing.
	u.sim.Unplant(planted)
	u.mustUp("up after the planted machine left")
	u.assertComplete()
	applies := u.sim.Applies()
	out = u.mustUp("re-run on the built lab")
	if got := u.sim.Applies(); got != applies {
		t.Errorf("the re-run applied %d simulated steps", got-applies)
	}
	if n := len(u.sim.Probes()); n != 3 {
		t.Errorf("%d probes after three ups, want 3", n)
	}
	if !strings.Contains(out, "already done") && !strings.Contains(out, "0 step(s) changed") {
		t.Logf("re-run output:\n%s", out)
	}
}

// writeLab writes a lab file named name into dir: the test lab, its VM
// names prefixed (so two files can share one VirtualBox) and addresses
// from .first on.
func writeLab(t *testing.T, dir, name, vmPrefix, pwFile string, seat int) string {
	t.Helper()
	src := steptest.LabTOML(name, vboxtest.BaseVM, vboxtest.BridgeIf, pwFile)
	if vmPrefix != "" {
		src = strings.ReplaceAll(src, "vm = \"S", "vm = \""+vmPrefix+"S")
		src = strings.ReplaceAll(src, "vm = \"L", "vm = \""+vmPrefix+"L")
		src = strings.NewReplacer(`".100"`, `".20"`, `".101"`, `".21"`, `".102"`, `".22"`, `".160"`, `".30"`, `".161"`, `".31"`, `".162"`, `".32"`, `".167"`, `".40"`).Replace(src)
	}
	if seat > 0 {
		src = fmt.Sprintf("seat = %d\n", seat) + src
	}
	f := filepath.Join(dir, name+".toml")
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestTwoLabsSideBySide builds two labs on one fake VirtualBox, from two
// lab files and from two seats of one file; down and snapshot on one leave
// the other's VMs, snapshots and state untouched.
func TestTwoLabsSideBySide(t *testing.T) {
	for _, tc := range []struct{ name string }{{"two lab files"}, {"two seats"}} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpLab(t, true)
			dir := filepath.Dir(u.file)
			pw := filepath.Join(dir, "guest-password")
			var fileA, fileB string
			if tc.name == "two lab files" {
				fileA = u.file
				fileB = writeLab(t, dir, "otherlab", "B-", pw, 0)
			} else {
				// One file with seat = 1; seat 2 is the same file with --seat 2.
				fileA = writeLab(t, dir, "classlab", "", pw, 1)
				fileB = fileA
			}
			argsB := []string{}
			if tc.name == "two seats" {
				argsB = []string{"--seat", "2"}
			}
			planOf := func(file string, args []string) *lab.Plan {
				cfg, err := lab.Load(file)
				if err != nil {
					t.Fatal(err)
				}
				if len(args) == 2 {
					var n int
					fmt.Sscan(args[1], &n)
					if err := cfg.SetSeat(n); err != nil {
						t.Fatal(err)
					}
				}
				p, err := cfg.Plan(lab.HostNet{})
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			pa, pb := planOf(fileA, nil), planOf(fileB, argsB)
			if pa.Name == pb.Name || pa.StateDir == pb.StateDir || pa.VRRPRouterID == pb.VRRPRouterID {
				t.Fatalf("the two labs share a name, state folder or VRRP id: %s/%s %s/%s %d/%d",
					pa.Name, pb.Name, pa.StateDir, pb.StateDir, pa.VRRPRouterID, pb.VRRPRouterID)
			}
			for _, file := range []struct {
				f    string
				args []string
			}{{fileA, nil}, {fileB, argsB}} {
				if code, out, errOut := u.labctlIn(file.f, append(file.args, "up")...); code != 0 {
					t.Fatalf("up %s %v: exit %d\n%s\n%s", file.f, file.args, code, out, errOut)
				}
			}
			st := u.fake.State()
			for _, p := range []*lab.Plan{pa, pb} {
				for _, n := range p.Nodes {
					v := st.VM(n.VM)
					if v == nil || v.State != "running" || v.ExtraData[steps.TagLab] != p.Name || !slices.Contains(v.Groups, "/labctl/"+p.Name) {
						t.Fatalf("%s of lab %s: %+v", n.VM, p.Name, v)
					}
				}
			}
			secretsB := readState(t, pb.StateDir)

			// labctl list tells the two apart, seat and state folder included.
			code, out, errOut := u.labctlIn(fileA, "list", "--json")
			if code != 0 {
				t.Fatalf("list --json: exit %d %s", code, errOut)
			}
			var listed []fleet.LabSummary
			if err := json.Unmarshal([]byte(out), &listed); err != nil {
				t.Fatalf("list --json: %v\n%s", err, out)
			}
			for _, p := range []*lab.Plan{pa, pb} {
				i := slices.IndexFunc(listed, func(l fleet.LabSummary) bool { return l.Name == p.Name })
				if i < 0 {
					t.Errorf("list does not show lab %s:\n%s", p.Name, out)
					continue
				}
				if got := listed[i]; got.Seat != p.Seat || got.StateDir != p.StateDir || got.Running != 6 || got.Total != 6 || got.Mode != "bridged" {
					t.Errorf("list shows lab %s as %+v, want seat %d, state %s, 6/6 running, bridged", p.Name, got, p.Seat, p.StateDir)
				}
			}

			// snapshot on A: B's VMs get none.
			if code, _, errOut := u.labctlIn(fileA, "snapshot", "take", "checkpoint"); code != 0 {
				t.Fatalf("snapshot take on %s: %s", pa.Name, errOut)
			}
			st = u.fake.State()
			for _, n := range pa.Nodes {
				if !slices.Contains(st.VM(n.VM).SnapshotNames(), "checkpoint") {
					t.Errorf("%s lacks the snapshot", n.VM)
				}
			}
			for _, n := range pb.Nodes {
				if got := st.VM(n.VM).SnapshotNames(); slices.Contains(got, "checkpoint") {
					t.Errorf("snapshot on lab %s touched %s of lab %s: %v", pa.Name, n.VM, pb.Name, got)
				}
			}
			// down on A: B's VMs, state and secrets stay.
			n0 := len(u.fake.Argv())
			if code, _, errOut := u.labctlIn(fileA, "down", "--yes"); code != 0 {
				t.Fatalf("down %s: %s", pa.Name, errOut)
			}
			for _, call := range mutating(u.fake.Argv()[n0:]) {
				for _, n := range pb.Nodes {
					if slices.Contains(call, n.VM) || slices.Contains(call, st.VM(n.VM).UUID) {
						t.Errorf("down of %s touched %s: %v", pa.Name, n.VM, call)
					}
				}
			}
			st = u.fake.State()
			for _, n := range pa.Nodes {
				if st.VM(n.VM) != nil {
					t.Errorf("%s of lab %s survived down", n.VM, pa.Name)
				}
			}
			for _, n := range pb.Nodes {
				if v := st.VM(n.VM); v == nil || v.State != "running" {
					t.Errorf("down of %s took %s of lab %s: %+v", pa.Name, n.VM, pb.Name, v)
				}
			}
			if got := readState(t, pb.StateDir); got != secretsB {
				t.Errorf("down of %s changed lab %s's state folder", pa.Name, pb.Name)
			}
			// B still converges, changing nothing.
			applies := u.sim.Applies()
			if code, out, errOut := u.labctlIn(fileB, append(argsB, "up")...); code != 0 || u.sim.Applies() != applies {
				t.Errorf("up of %s after the other's down: exit %d, %d applies\n%s\n%s", pb.Name, code, u.sim.Applies()-applies, out, errOut)
			}
		})
	}
}

// readState is every file of a state folder but its run logs, for comparison.
func readState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "logs" {
				return filepath.SkipDir
			}
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s\n%s\n", path, data)
		return nil
	})
	if err != nil {
		t.Fatalf("read state %s: %v", dir, err)
	}
	if b.Len() == 0 {
		t.Fatalf("state folder %s is empty", dir)
	}
	return b.String()
}

// TestSeatShownByPlanDryRunAndStatus: a seat's plan is the seat's lab (its
// names and addresses) and says so; so do the dry run and status.
func TestSeatShownByPlanDryRunAndStatus(t *testing.T) {
	u := newUpLab(t, true)
	code, out, errOut := u.labctl(context.Background(), "--seat", "3", "plan")
	if code != 0 {
		t.Fatalf("--seat 3 plan: exit %d\n%s", code, errOut)
	}
	vip := plus(u.plan.VIP, 24)
	if !strings.Contains(out, fmt.Sprintf("Seat 3: lab %q", upLabName+"-seat3")) || !strings.Contains(out, "VIP "+vip.String()) {
		t.Errorf("the plan does not name seat 3 and its VIP %s:\n%s", vip, out[:min(len(out), 600)])
	}
	for _, n := range u.plan.Nodes {
		if !strings.Contains(out, n.VM+"-S3") || !strings.Contains(out, plus(n.IP, 24).String()) {
			t.Errorf("the plan lacks %s-S3 at %s", n.VM, plus(n.IP, 24))
		}
	}
	if strings.Contains(out, "--name "+u.plan.Nodes[0].VM+" ") {
		t.Errorf("the seat's plan clones the unsuffixed %s", u.plan.Nodes[0].VM)
	}
	code, out, errOut = u.labctl(context.Background(), "--seat", "3", "up", "--dry-run")
	if code != 0 || !strings.Contains(out, "Seat 3: lab") {
		t.Errorf("--seat 3 up --dry-run: exit %d, no seat line:\n%s\n%s", code, out, errOut)
	}
	if calls := mutating(u.fake.Argv()); len(calls) != 0 {
		t.Errorf("the dry run changed VirtualBox: %v", calls)
	}
	code, out, errOut = u.labctl(context.Background(), "--seat", "3", "status")
	if !strings.Contains(out+errOut, "seat3") {
		t.Errorf("status of seat 3: exit %d\n%s\n%s", code, out, errOut)
	}
}
