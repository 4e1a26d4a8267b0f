package steps

import (
	"context"
	"strings"
	"testing"
)

// A node's Apply uses what its Check just read, once; the re-check after
// Apply, a second Check and every later step read the live VM.
func TestVMReadsHandedOverOnce(t *testing.T) {
	f, env := vmtSetup(t)
	if _, out, err := vmtRun(t, env, ModeApply); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	if r := f.Run("controlvm", "SQL-ONE", "poweroff"); r.Code != 0 {
		t.Fatalf("poweroff: %+v", r)
	}
	n := env.Plan.Nodes.Find("SQL-ONE")
	ctx := context.Background()
	reads := func() int { return vmtCount(f, "showvminfo", "SQL-ONE") }
	step := StartVMs()
	// The steps are driven by hand here: the test is the run, so it gives
	// the Env the per-run views Runner.Run would.
	env.vmViews = newVMViews()

	before := reads()
	st, err := step.Check(ctx, env, n)
	if err != nil || st.Done {
		t.Fatalf("check of a powered-off VM: %+v, %v", st, err)
	}
	if _, err := step.Check(ctx, env, n); err != nil {
		t.Fatal(err)
	}
	if got := reads() - before; got != 2 {
		t.Errorf("two checks read the VM %d times, want 2 (every check reads it live)", got)
	}

	before = reads()
	if err := step.Apply(ctx, env, n); err != nil {
		t.Fatal(err)
	}
	if got := reads() - before; got != 0 {
		t.Errorf("apply read the VM %d times: it must use its check's read", got)
	}
	if vmtCount(f, "startvm", "SQL-ONE") != 2 {
		t.Errorf("apply did not start SQL-ONE")
	}

	// The re-check sees the change: the check's read was handed over once.
	before = reads()
	st, err = step.Check(ctx, env, n)
	if err != nil || !st.Done {
		t.Fatalf("re-check after start: %+v, %v", st, err)
	}
	if got := reads() - before; got != 1 {
		t.Errorf("re-check read the VM %d times, want 1", got)
	}

	// An Apply with no check before it reads the live VM.
	if r := f.Run("controlvm", "SQL-ONE", "poweroff"); r.Code != 0 {
		t.Fatalf("poweroff: %+v", r)
	}
	if _, err := step.Check(ctx, env, n); err != nil {
		t.Fatal(err)
	}
	before = reads()
	if err := (waitGuestsStep{}).Apply(ctx, env, n); err == nil || !strings.Contains(err.Error(), "poweroff") {
		t.Errorf("wait-guests on a powered-off VM after another step's check: %v", err)
	}
	if got := reads() - before; got != 1 {
		t.Errorf("wait-guests' apply read the VM %d times, want 1 (start-vms' read is not its own)", got)
	}
	// A mutating call drops the views of that VM.
	if _, err := step.Check(ctx, env, n); err != nil {
		t.Fatal(err)
	}
	env.changedVM("SQL-ONE")
	if v := env.applyView(step.Name(), "SQL-ONE"); v.infoOK {
		t.Errorf("a view survived a change of its VM")
	}
}

// The views belong to one run: the caller's Env never holds them, and a
// step driven without a run reads the live VM every time.
func TestVMViewsOwnedByTheRun(t *testing.T) {
	f, env := vmtSetup(t)
	if _, out, err := vmtRun(t, env, ModeApply); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	if env.vmViews != nil {
		t.Fatal("a run left its VM views in the caller's Env")
	}
	n := env.Plan.Nodes.Find("SQL-ONE")
	ctx := context.Background()
	step := StartVMs()
	before := vmtCount(f, "showvminfo", "SQL-ONE")
	if _, err := step.Check(ctx, env, n); err != nil {
		t.Fatal(err)
	}
	if err := step.Apply(ctx, env, n); err != nil {
		t.Fatal(err)
	}
	if got := vmtCount(f, "showvminfo", "SQL-ONE") - before; got != 2 {
		t.Errorf("check and apply outside a run read the VM %d times, want 2 (no cache without a run)", got)
	}
}
