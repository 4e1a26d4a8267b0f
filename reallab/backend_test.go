package reallab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// guest runs a shell script as root inside vm through guest control.
func guest(t *testing.T, e *Env, vm, stdin, script string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	return e.VBox(ctx, stdin, "guestcontrol", vm, "run", "--exe", "/bin/sh", "--username", "root",
		"--passwordfile", e.PassFile, "--timeout", "600000", "--wait-stdout", "--wait-stderr", "--", "-c", script)
}

func mustGuest(t *testing.T, e *Env, vm, script string) string {
	t.Helper()
	r := guest(t, e, vm, "", script)
	if r.Code != 0 {
		t.Fatalf("%s: %q: exit %d\nstdout: %s\nstderr: %s", vm, script, r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// TestBackend proves the nspawnvbox backend on its own: linked clones of the
// base boot as real machines on the private bridge, guest control runs real
// commands with VirtualBox's exit codes, packages install from the local
// repository, snapshots restore, and nothing is left behind.
func TestBackend(t *testing.T) {
	e := newEnv(t)
	names := []string{"rl-one", "rl-two", "rl-three"}
	macs := []string{"0800270A0011", "0800270A0012", "0800270A0013"}
	ips := []string{"10.231.0.11", "10.231.0.12", "10.231.0.13"}

	// The base is registered from NSPAWNVBOX_BASE_ROOTFS.
	list := vbox(t, e, "list", "vms").Stdout
	if !strings.Contains(list, `"`+e.BaseName+`" {`) {
		t.Fatalf("base VM not listed: %q", list)
	}
	if r := vbox(t, e, "--version"); !strings.HasPrefix(r.Stdout, "7.0.") {
		t.Fatalf("--version: %q", r.Stdout)
	}
	bridged := vbox(t, e, "list", "bridgedifs").Stdout
	if !strings.Contains(bridged, "Name:            "+BridgeName+"\n") || !strings.Contains(bridged, "IPAddress:       "+BridgeIP+"\n") {
		t.Fatalf("bridge %s not reported by list bridgedifs:\n%s", BridgeName, bridged)
	}

	// A linked clone needs a snapshot, exactly like VirtualBox.
	r := e.VBox(context.Background(), "", "clonevm", e.BaseName, "--options", "link", "--name", "x", "--register")
	if r.Code != 1 || !strings.Contains(r.Stderr, "Linked clone can only be created from a snapshot") {
		t.Fatalf("clone without snapshot: exit %d, %q", r.Code, r.Stderr)
	}
	vbox(t, e, "snapshot", e.BaseName, "take", "labctl-base")

	start := time.Now()
	for i, n := range names {
		r := vbox(t, e, "clonevm", e.BaseName, "--snapshot", "labctl-base", "--options", "link", "--name", n,
			"--groups", "/reallab", "--register")
		if !strings.Contains(r.Stdout, `Machine has been successfully cloned as "`+n+`"`) {
			t.Fatalf("clone output: %q", r.Stdout)
		}
		vbox(t, e, "modifyvm", n, "--cpus", "1", "--memory", "1024", "--nic1", "bridged", "--bridgeadapter1", BridgeName, "--macaddress1", macs[i])
		vbox(t, e, "setextradata", n, "labctl/lab", "reallab")
	}
	record("backend: 3 linked clones + modifyvm", time.Since(start))
	if v := vbox(t, e, "getextradata", names[0], "labctl/lab").Stdout; v != "Value: reallab\n" {
		t.Fatalf("getextradata: %q", v)
	}

	// Boot all three at once.
	start = time.Now()
	var wg sync.WaitGroup
	errs := make([]string, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.VBox(context.Background(), "", "startvm", n, "--type", "headless")
			if r.Code != 0 || !strings.Contains(r.Stdout, `VM "`+n+`" has been successfully started.`) {
				errs[i] = fmt.Sprintf("startvm %s: exit %d %s %s", n, r.Code, r.Stdout, r.Stderr)
			}
		}()
	}
	wg.Wait()
	for _, s := range errs {
		if s != "" {
			t.Fatal(s)
		}
	}
	record("backend: startvm x3 (parallel)", time.Since(start))
	for _, n := range names {
		waitRunLevel(t, e, n, 90*time.Second)
	}
	record("backend: boot to GuestAdditionsRunLevel=2 x3", time.Since(start))

	info := machineReadable(vbox(t, e, "showvminfo", names[0], "--machinereadable").Stdout)
	for k, want := range map[string]string{"name": names[0], "VMState": "running", "nic1": "bridged",
		"bridgeadapter1": BridgeName, "macaddress1": macs[0], "cpus": "1", "memory": "1024", "groups": "/reallab",
		"SessionName": "headless", "SnapshotName": "", "GuestAdditionsRunLevel": "2"} {
		if info[k] != want {
			t.Errorf("showvminfo %s=%q, want %q", k, info[k], want)
		}
	}
	// A running VM is locked for modifyvm and restore, as in VirtualBox.
	r = e.VBox(context.Background(), "", "modifyvm", names[0], "--memory", "2048")
	if r.Code != 1 || !strings.Contains(r.Stderr, "is already locked for a session") {
		t.Errorf("modifyvm on a running VM: exit %d %q", r.Code, r.Stderr)
	}

	// Guest control: the guest's own view, its MAC, exit codes, stdin, users.
	for i, n := range names {
		out := mustGuest(t, e, n, "cat /sys/class/net/host0/address; id -un")
		wantMAC := strings.ToLower(macs[i][0:2] + ":" + macs[i][2:4] + ":" + macs[i][4:6] + ":" + macs[i][6:8] + ":" + macs[i][8:10] + ":" + macs[i][10:12])
		if out != wantMAC+"\nroot\n" {
			t.Errorf("%s: host0 MAC/user = %q, want %q", n, out, wantMAC+"\nroot\n")
		}
		mustGuest(t, e, n, fmt.Sprintf("hostnamectl set-hostname %s 2>/dev/null || hostname %s; ip link set host0 up && ip addr add %s/24 dev host0", n, n, ips[i]))
	}
	if r := guest(t, e, names[0], "", "echo out; echo err >&2; exit 3"); r.Code != 35 || r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Errorf("exit 3 → VBoxManage exit %d (want 35), stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := guest(t, e, names[0], "", "exit 100"); r.Code != 126 {
		t.Errorf("exit 100 → %d, want 126", r.Code)
	}
	if r := guest(t, e, names[0], "", "kill -9 $$"); r.Code != 18 {
		t.Errorf("killed by a signal → %d, want 18", r.Code)
	}
	if r := guest(t, e, names[0], "hello from stdin\n", "cat"); r.Stdout != "hello from stdin\n" {
		t.Errorf("stdin passthrough: %q", r.Stdout)
	}
	timeoutRun := e.VBox(context.Background(), "", "guestcontrol", names[0], "run", "--exe", "/bin/sleep", "--username", "root",
		"--passwordfile", e.PassFile, "--timeout", "500", "--", "30")
	if timeoutRun.Code != 20 {
		t.Errorf("--timeout → %d, want 20", timeoutRun.Code)
	}
	bad := filepath.Join(e.Work, "bad-password")
	if err := os.WriteFile(bad, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = e.VBox(context.Background(), "", "guestcontrol", names[0], "run", "--exe", "/bin/true", "--username", "root", "--passwordfile", bad)
	if r.Code != 1 || !strings.Contains(r.Stderr, "The specified user was not able to logon on guest") {
		t.Errorf("wrong password: exit %d %q", r.Code, r.Stderr)
	}
	r = e.VBox(context.Background(), "", "guestcontrol", names[0], "run", "--exe", "/bin/nope", "--username", "root", "--passwordfile", e.PassFile)
	if r.Code != 1 || !strings.Contains(r.Stderr, `No such file or directory "/bin/nope" on guest`) {
		t.Errorf("missing exe: exit %d %q", r.Code, r.Stderr)
	}

	// The IP property is read from the running machine.
	for i, n := range names {
		if v := vbox(t, e, "guestproperty", "get", n, "/VirtualBox/GuestInfo/Net/0/V4/IP").Stdout; v != "Value: "+ips[i]+"\n" {
			t.Errorf("%s IP property: %q", n, v)
		}
	}
	// Real L2 between machines over the bridge, and to the host's bridge address.
	mustGuest(t, e, names[0], fmt.Sprintf("ping -c1 -W2 %s >/dev/null && ping -c1 -W2 %s >/dev/null && ping -c1 -W2 %s >/dev/null", ips[1], ips[2], BridgeIP))

	// Packages from the local repository, for real, in one machine.
	start = time.Now()
	mustGuest(t, e, names[0], fmt.Sprintf("echo 'deb %s ./' > /etc/apt/sources.list.d/reallab.list && apt-get -q update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -q -y install mysql-server >/tmp/apt.log 2>&1 || { tail -20 /tmp/apt.log; exit 1; }", e.RepoURL))
	record("backend: apt-get install mysql-server in a machine", time.Since(start))
	if out := mustGuest(t, e, names[0], "systemctl is-active mysql; mysql -NBe 'SELECT @@server_uuid'"); !strings.HasPrefix(out, "active\n") {
		t.Errorf("mysql after install: %q", out)
	}

	// Snapshot while running (frozen copy), restore only when powered off.
	start = time.Now()
	r = vbox(t, e, "snapshot", names[0], "take", "s1", "--description", "mysql installed")
	record("backend: snapshot take (running, mysql installed)", time.Since(start))
	if !strings.HasPrefix(r.Stdout, "Snapshot taken. UUID: ") {
		t.Errorf("snapshot take output %q", r.Stdout)
	}
	mustGuest(t, e, names[0], "echo after > /root/after-snapshot; sync")
	r = e.VBox(context.Background(), "", "snapshot", names[0], "restore", "s1")
	if r.Code != 1 || !strings.Contains(r.Stderr, "Cannot delete the current state of the running machine (machine state: Running)") {
		t.Errorf("restore while running: exit %d %q", r.Code, r.Stderr)
	}
	start = time.Now()
	vbox(t, e, "controlvm", names[0], "poweroff")
	record("backend: controlvm poweroff", time.Since(start))
	if st := machineReadable(vbox(t, e, "showvminfo", names[0], "--machinereadable").Stdout); st["VMState"] != "poweroff" || st["SessionName"] != "" {
		t.Errorf("after poweroff: VMState=%q SessionName=%q", st["VMState"], st["SessionName"])
	}
	r = e.VBox(context.Background(), "", "controlvm", names[0], "poweroff")
	if r.Code != 1 || !strings.Contains(r.Stderr, "is not currently running.") {
		t.Errorf("second poweroff: exit %d %q", r.Code, r.Stderr)
	}
	start = time.Now()
	vbox(t, e, "snapshot", names[0], "restore", "s1")
	record("backend: snapshot restore", time.Since(start))
	vbox(t, e, "startvm", names[0], "--type", "headless")
	waitRunLevel(t, e, names[0], 90*time.Second)
	if out := mustGuest(t, e, names[0], "test -e /root/after-snapshot && echo present || echo gone; dpkg-query -W -f='${Status}' mysql-server"); out != "gone\ninstall ok installed" {
		t.Errorf("after restore: %q", out)
	}

	// Lifecycle end: delete refuses a running VM, then everything goes.
	r = e.VBox(context.Background(), "", "unregistervm", names[1], "--delete")
	if r.Code != 1 || !strings.Contains(r.Stderr, "while it is locked") {
		t.Errorf("unregistervm on a running VM: exit %d %q", r.Code, r.Stderr)
	}
	start = time.Now()
	for _, n := range names {
		vbox(t, e, "controlvm", n, "poweroff")
		vbox(t, e, "unregistervm", n, "--delete")
	}
	record("backend: poweroff + unregistervm --delete x3", time.Since(start))
	if left := e.Leftovers(false); len(left) > 0 {
		t.Errorf("left behind after delete: %v", left)
	}
	if r := e.VBox(context.Background(), "", "showvminfo", names[0], "--machinereadable"); r.Code != 1 ||
		!strings.Contains(r.Stderr, "Could not find a registered machine named '"+names[0]+"'") {
		t.Errorf("showvminfo of a deleted VM: exit %d %q", r.Code, r.Stderr)
	}
}
