package vbox

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEmulatorFlow(t *testing.T) {
	pr := NewEmulator("AlmaLinux 8.4", "labctl-base")
	c := New(pr)
	c.PollInterval = time.Millisecond
	ctx := context.Background()

	v, err := c.Version(ctx)
	if err != nil || !v.AtLeast(7, 0) {
		t.Fatalf("version %v %v", v, err)
	}
	vms, err := c.ListVMs(ctx)
	if err != nil || len(vms) != 1 || vms[0].Name != "AlmaLinux 8.4" {
		t.Fatalf("list vms %+v %v", vms, err)
	}
	base, err := c.Info(ctx, "AlmaLinux 8.4")
	if err != nil || base.State != StatePowerOff || len(base.Snapshots) != 1 || base.Snapshots[0].Name != "labctl-base" || !base.Snapshots[0].Current {
		t.Fatalf("base %+v %v", base, err)
	}
	if created, err := EnsureSnapshot(ctx, c, "AlmaLinux 8.4", "labctl-base"); err != nil || created {
		t.Fatalf("base snapshot should already exist: %v %v", created, err)
	}
	_, err = c.Info(ctx, "SQL-ONE")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "Could not find a registered machine named 'SQL-ONE'") {
		t.Fatalf("lab VM before clone: %v", err)
	}
	ifs, err := c.BridgedIfs(ctx)
	if err != nil || len(ifs) != 1 || ifs[0].Status != "Up" {
		t.Fatalf("bridgedifs %+v %v", ifs, err)
	}

	uuid, err := c.CloneLinked(ctx, "AlmaLinux 8.4", "labctl-base", "SQL-ONE", "/labctl/wp")
	if err != nil || !uuidRE.MatchString(uuid) {
		t.Fatalf("clone %q %v", uuid, err)
	}
	if again := NewEmulator("AlmaLinux 8.4", "labctl-base"); true {
		u2, _ := New(again).CloneLinked(ctx, "AlmaLinux 8.4", "labctl-base", "SQL-ONE", "/labctl/wp")
		if u2 != uuid {
			t.Errorf("plan UUIDs must be stable: %q vs %q", uuid, u2)
		}
	}
	if _, err := c.CloneLinked(ctx, "AlmaLinux 8.4", "nope", "SQL-TWO", "/labctl/wp"); !errors.Is(err, ErrSnapshotNotFound) {
		t.Errorf("clone from a missing snapshot: %v", err)
	}
	if err := c.ModifyVM(ctx, "SQL-ONE", HardwareSettings{CPUs: 2, MemoryMB: 2048, BridgeAdapter: ifs[0].Name, MAC: "auto"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetExtraData(ctx, "SQL-ONE", "labctl/lab", "wp"); err != nil {
		t.Fatal(err)
	}
	if tag, err := c.GetExtraData(ctx, "SQL-ONE", "labctl/lab"); err != nil || tag != "wp" {
		t.Fatalf("tag %q %v", tag, err)
	}
	if err := c.Start(ctx, "SQL-ONE"); err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx, "SQL-ONE")
	if err != nil || info.State != StateRunning || info.GuestAddRunLvl < 2 || info.CPUs != 2 || info.MemoryMB != 2048 ||
		len(info.NICs) != 1 || info.NICs[0].Type != "bridged" || info.NICs[0].BridgeAdapter != "eth0" || info.Groups[0] != "/labctl/wp" {
		t.Fatalf("clone info %+v %v", info, err)
	}
	ip, err := c.WaitGuestProperty(ctx, "SQL-ONE", "/VirtualBox/GuestInfo/Net/0/V4/IP", time.Millisecond, nil)
	if err != nil || !strings.HasPrefix(ip, "192.168.1.2") {
		t.Fatalf("guest ip %q %v", ip, err)
	}
	res, err := c.GuestRun(ctx, "SQL-ONE", Credentials{User: "root", Password: "pw"}, time.Minute, []byte("x"), "/bin/true")
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("guest run %+v %v", res, err)
	}
	if err := c.PowerOff(ctx, "SQL-ONE"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "SQL-ONE"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "SQL-ONE"); err != nil {
		t.Fatalf("second delete: %v", err)
	}

	calls := pr.Calls()
	joined := make([]string, len(calls))
	for i, a := range calls {
		joined[i] = strings.Join(a, " ")
		if strings.Contains(joined[i], "pw") && !strings.Contains(joined[i], "--passwordfile") {
			t.Errorf("password on argv: %q", joined[i])
		}
	}
	for _, want := range []string{
		"clonevm AlmaLinux 8.4 --snapshot labctl-base --options link --name SQL-ONE --groups /labctl/wp --register",
		"modifyvm SQL-ONE --nic1 bridged --bridgeadapter1 eth0 --macaddress1 auto --cpus 2 --memory 2048",
		"startvm SQL-ONE --type headless",
		"controlvm SQL-ONE poweroff",
		"unregistervm SQL-ONE --delete",
	} {
		found := false
		for _, j := range joined {
			found = found || j == want
		}
		if !found {
			t.Errorf("no call %q in %q", want, joined)
		}
	}
	calls[0][0] = "mutated"
	if pr.Calls()[0][0] == "mutated" {
		t.Error("Calls must return a copy")
	}
}

func TestEmulatorBaseWithoutSnapshot(t *testing.T) {
	c := New(NewEmulator("base", ""))
	created, err := EnsureSnapshot(context.Background(), c, "base", "labctl-base")
	if err != nil || !created {
		t.Fatalf("want the snapshot taken: %v %v", created, err)
	}
	info, _ := c.Info(context.Background(), "base")
	if len(info.Snapshots) != 1 || info.Snapshots[0].Name != "labctl-base" || !info.Snapshots[0].Current {
		t.Errorf("snapshots %+v", info.Snapshots)
	}
	snaps, err := c.Snapshots(context.Background(), "base")
	if err != nil || len(snaps) != 1 {
		t.Errorf("snapshot list %+v %v", snaps, err)
	}
}
