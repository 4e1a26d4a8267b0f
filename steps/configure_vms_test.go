package steps

import (
	"strings"
	"testing"
	"time"

	"labctl/internal/vboxtest"
)

func TestConfigureVMsNeedsPowerCycleWhenRunning(t *testing.T) {
	f, env := vmtSetup(t)
	if _, _, err := vmtRun(t, env, ModeApply); err != nil {
		t.Fatal(err)
	}
	env.Plan.Nodes[0].MemoryMB = 4096 // lab.toml changed after the VM was started
	_, _, err := vmtRun(t, env, ModeApply)
	if err == nil || !strings.Contains(err.Error(), "SQL-ONE is running but its settings differ") ||
		!strings.Contains(err.Error(), "2048 MB memory, want 4096") || !strings.Contains(err.Error(), "shut it down") {
		t.Fatalf("err = %v", err)
	}
	if v := f.State().VM("SQL-ONE"); v.MemoryMB != 2048 || v.State != "running" {
		t.Errorf("SQL-ONE changed: %d MB, %s", v.MemoryMB, v.State)
	}
}

func TestConfigureVMsRepairsDuplicateMAC(t *testing.T) {
	f, env := vmtSetup(t)
	if _, _, err := vmtRun(t, env, ModeApply); err != nil {
		t.Fatal(err)
	}
	// Someone gave SQL-TWO the MAC of SQL-ONE (and, on SQL-THREE, the base's).
	st := f.State()
	one, base := st.VM("SQL-ONE").NICs[0].MAC, st.VM(vboxtest.BaseVM).NICs[0].MAC
	for vm, mac := range map[string]string{"SQL-TWO": one, "SQL-THREE": base} {
		if r := f.Run("controlvm", vm, "poweroff"); r.Code != 0 {
			t.Fatalf("%+v", r)
		}
		time.Sleep(50 * time.Millisecond)
		if r := f.Run("modifyvm", vm, "--macaddress1", mac); r.Code != 0 {
			t.Fatalf("%+v", r)
		}
	}
	if _, out, err := vmtRun(t, env, ModeApply); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	vmtAssertLab(t, f, env.Plan)
	if got := f.State().VM("SQL-ONE").NICs[0].MAC; got != one {
		t.Errorf("SQL-ONE's MAC changed from %s to %s: the earlier node keeps its MAC", one, got)
	}
}

// TestClaimMACUsesTheEnvRandomSource: a new MAC comes from Env.Rand, so a
// plan (seeded by the lab) picks the same one every time, and none taken.
func TestClaimMACUsesTheEnvRandomSource(t *testing.T) {
	pick := func() string {
		env := &Env{Plan: vmtPlan(), Rand: planRand("vmt")}
		c := &configureVMsStep{byVM: map[string]string{"SQL-TWO": "080027AAAAAA"}}
		mac, err := c.claimMAC(env, "SQL-ONE")
		if err != nil {
			t.Fatal(err)
		}
		return mac
	}
	a, b := pick(), pick()
	if a != b || !strings.HasPrefix(a, "080027") || len(a) != 12 || a == "080027AAAAAA" {
		t.Fatalf("MACs %s, %s: want the same 080027xxxxxx twice", a, b)
	}
}
