package reallab

// Two labs side by side on one backend (issue 14, item 6): the main lab
// bridged on the suite's bridge, its seat 1 in NAT-network mode (the
// backend maps its NAT network to a private bridge of its own, with the
// port forwards as a real TCP forwarder on 127.0.0.1). Both are built and
// verified; a drill on the NAT lab leaves the bridged lab's VIP holder and
// WordPress untouched; tearing the NAT lab down leaves the other intact.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The second lab is seat 1 of the main lab's file in natnetwork mode: the
// seat names it reallab-seat1 and its VMs <VM>-S1; on a NAT network of its own
// it keeps the addresses as written.
const (
	natLabIdentity = "name = \"reallab\"\nseat = 1"
	natLabName     = "reallab-seat1"
	natVMSuffix    = "-S1"
)

func natVM(n string) string { return n + natVMSuffix }

func natDBNodes() []string {
	var out []string
	for _, n := range dbNodes {
		out = append(out, natVM(n))
	}
	return out
}

// writeNATLab is writeLab's lab in natnetwork mode: no bridge adapter and no
// network (labctl picks the NAT network's /24), host parts only.
func writeNATLab(t *testing.T, e *Env) string {
	t.Helper()
	main, err := os.ReadFile(writeLab(t, e))
	if err != nil {
		t.Fatal(err)
	}
	s := string(main)
	s = strings.Replace(s, `name = "reallab"`, natLabIdentity, 1)
	net := fmt.Sprintf("[network]\nbridge_adapter = %q\nnetwork = %q\ngateway = %q\ndns = [%q]\nvip = %q\n", BridgeName, Network, BridgeIP, BridgeIP, vip)
	if !strings.Contains(s, net) {
		t.Fatalf("writeLab's [network] table changed:\n%s", s)
	}
	s = strings.Replace(s, net, "[network]\nmode = \"natnetwork\"\nvip = \".100\"\n", 1)
	for _, n := range allNodes() {
		ip := nodeIP[n]
		s = strings.Replace(s, fmt.Sprintf("vm = %q\nhostname = %q\nip = %q", n, nodeHost[n], ip),
			fmt.Sprintf("vm = %q\nhostname = %q\nip = %q", n, nodeHost[n], ip[strings.LastIndex(ip, "."):]), 1)
	}
	path := filepath.Join(e.Work, "natlab.toml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// natRecord is the NAT lab's network record (labnet.Record).
type natRecord struct {
	Name     string            `json:"name"`
	Network  string            `json:"network"`
	Created  bool              `json:"created"`
	Forwards map[string]uint16 `json:"forwards"`
}

func readNATRecord(t *testing.T, state string) natRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, natLabName, "network.json"))
	if err != nil {
		t.Fatalf("the NAT lab's network record: %v", err)
	}
	var r natRecord
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// labPrimary is the DB node of the given lab whose own member row says PRIMARY.
func labPrimary(t *testing.T, e *Env, dbs []string) string {
	t.Helper()
	var prim []string
	for _, n := range dbs {
		r := guest(t, e, n, "", mysqlRoot+` -e "SELECT MEMBER_STATE, MEMBER_ROLE FROM performance_schema.replication_group_members WHERE MEMBER_ID=@@server_uuid"`)
		if strings.TrimSpace(r.Stdout) == "ONLINE\tPRIMARY" {
			prim = append(prim, n)
		}
	}
	if len(prim) != 1 {
		t.Fatalf("want exactly one ONLINE PRIMARY among %v, got %v", dbs, prim)
	}
	return prim[0]
}

// labVIPHolders lists the DB nodes carrying address on host0.
func labVIPHolders(t *testing.T, e *Env, dbs []string, address string) []string {
	t.Helper()
	var out []string
	for _, n := range dbs {
		if r := guest(t, e, n, "", "ip -4 -o addr show dev host0"); strings.Contains(r.Stdout, " "+address+"/") {
			out = append(out, n)
		}
	}
	return out
}

// getTitle fetches url and says whether it answered 200 with the site title.
func getTitle(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(siteTitle)) {
		return fmt.Errorf("GET %s: status %d, %.200s", url, resp.StatusCode, body)
	}
	return nil
}

func TestTwoLabs(t *testing.T) {
	e := newEnv(t)
	bin := filepath.Join(e.Work, "bin", "labctl")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = e.RepoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build labctl: %v\n%s", err, out)
	}
	state := filepath.Join(e.Work, "state")
	main := labctlRunner{bin: bin, lab: writeLab(t, e), state: state, env: e}
	nat := labctlRunner{bin: bin, lab: writeNATLab(t, e), state: state, env: e}
	t.Cleanup(func() {
		if keepOnFailure(t) {
			return
		}
		_, _, _ = nat.run(t, 5*time.Minute, "down", "--yes")
		_, _, _ = main.run(t, 5*time.Minute, "down", "--yes")
	})

	// One lab builds at a time: the host has two cores for twelve machines.
	_, d, err := main.run(t, 25*time.Minute, "up")
	record("two labs: up of the bridged lab", d)
	if err != nil {
		t.Fatalf("labctl up (bridged lab): %v", err)
	}
	out, d, err := nat.run(t, 25*time.Minute, "up")
	record("two labs: up of the NAT-network lab", d)
	if err != nil {
		t.Fatalf("labctl up (NAT-network lab): %v", err)
	}
	rec := readNATRecord(t, state)
	lbURL := fmt.Sprintf("http://127.0.0.1:%d/", rec.Forwards["http-lb"])
	if rec.Name != "labctl-"+natLabName || !rec.Created || rec.Forwards["http-lb"] == 0 || len(rec.Forwards) != len(allNodes())+1 {
		t.Fatalf("NAT lab record %+v", rec)
	}
	if !strings.Contains(out, "How to reach WordPress: "+lbURL) {
		t.Errorf("the NAT lab's up does not name its forward %s", lbURL)
	}
	nets := vbox(t, e, "list", "--long", "natnets").Stdout
	if !strings.Contains(nets, "Name:         labctl-"+natLabName+"\n") || !strings.Contains(nets, "Network:      "+rec.Network+"\n") {
		t.Fatalf("the backend's NAT networks:\n%s", nets)
	}

	// Both verified; the NAT lab entirely through its forwards.
	for _, l := range []struct {
		name string
		r    labctlRunner
	}{{"bridged", main}, {"NAT-network", nat}} {
		_, d, err := l.r.run(t, 5*time.Minute, "verify")
		record("two labs: verify of the "+l.name+" lab", d)
		if err != nil {
			t.Errorf("labctl verify (%s lab): %v", l.name, err)
		}
	}
	checkLab(t, e)
	client := &http.Client{Timeout: 10 * time.Second}
	if err := getTitle(client, lbURL); err != nil {
		t.Errorf("the NAT lab's WordPress through the host forward: %v", err)
	}
	natPrimary := labPrimary(t, e, natDBNodes())
	// A seat on a private network keeps the addresses as written.
	natVIP := strings.TrimSuffix(rec.Network, "0/24") + "100"
	if h := labVIPHolders(t, e, natDBNodes(), natVIP); len(h) != 1 || h[0] != natPrimary {
		t.Errorf("NAT lab: VIP %s on %v, want only on its primary %s", natVIP, h, natPrimary)
	}

	// A drill on the NAT lab: the bridged lab's primary, VIP holder and
	// WordPress stay as they are (polled through the drill).
	mainPrimary := primaryNode(t, e)
	mainHolders := vipHolders(t, e)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var polls int
	var failures []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
			err := getTitle(client, "http://"+nodeIP[lbNode]+"/")
			mu.Lock()
			polls++
			if err != nil {
				failures = append(failures, err.Error())
			}
			mu.Unlock()
		}
	}()
	out, d, err = nat.run(t, 10*time.Minute, "drill", "--kind", "stop")
	close(stop)
	wg.Wait()
	record("two labs: drill --kind stop on the NAT lab", d)
	if err != nil {
		t.Errorf("labctl drill (NAT lab): %v", err)
	}
	if newP := labPrimary(t, e, natDBNodes()); newP == natPrimary {
		t.Errorf("the NAT lab's primary is still %s after the drill:\n%s", newP, lastLines(out, 10))
	}
	if p := primaryNode(t, e); p != mainPrimary {
		t.Errorf("the bridged lab's primary moved from %s to %s during the other lab's drill", mainPrimary, p)
	}
	if h := vipHolders(t, e); strings.Join(h, ",") != strings.Join(mainHolders, ",") {
		t.Errorf("the bridged lab's VIP moved from %v to %v during the other lab's drill", mainHolders, h)
	}
	if polls == 0 || len(failures) > 0 {
		t.Errorf("the bridged lab's WordPress during the other lab's drill: %d polls, failures %v", polls, failures)
	}
	t.Logf("bridged lab's WordPress answered all %d polls during the NAT lab's drill", polls)

	// Down of the NAT lab: its VMs and network go; the bridged lab stays whole.
	_, d, err = nat.run(t, 10*time.Minute, "down", "--yes")
	record("two labs: down of the NAT-network lab", d)
	if err != nil {
		t.Fatalf("labctl down (NAT lab): %v", err)
	}
	for _, vm := range ParseListVMs(vbox(t, e, "list", "vms").Stdout) {
		if strings.HasSuffix(vm[0], natVMSuffix) {
			t.Errorf("after the NAT lab's down, its VM %s is left", vm[0])
		}
	}
	if nets := vbox(t, e, "list", "--long", "natnets").Stdout; strings.Contains(nets, "labctl-"+natLabName) {
		t.Errorf("after down, the NAT network is left:\n%s", nets)
	}
	for _, n := range allNodes() {
		if st := vbox(t, e, "showvminfo", n, "--machinereadable").Stdout; !strings.Contains(st, `VMState="running"`) {
			t.Errorf("after the NAT lab's down, the bridged lab's %s is not running", n)
		}
	}
	_, d, err = main.run(t, 5*time.Minute, "verify")
	record("two labs: verify of the bridged lab after the other's down", d)
	if err != nil {
		t.Errorf("labctl verify (bridged lab after the NAT lab's down): %v", err)
	}
	if p, h := primaryNode(t, e), vipHolders(t, e); p != mainPrimary || strings.Join(h, ",") != strings.Join(mainHolders, ",") {
		t.Errorf("the bridged lab's primary/VIP changed: %s %v, was %s %v", p, h, mainPrimary, mainHolders)
	}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			if strings.HasPrefix(i.Name, "nvn") {
				t.Errorf("after the NAT lab's down, a NAT-network bridge is left: %s", i.Name)
			}
		}
	}
}
