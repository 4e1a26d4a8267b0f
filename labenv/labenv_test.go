package labenv

import (
	"errors"
	"os"
	"strings"
	"testing"

	"labctl/lab"
	"labctl/steps/steptest"
)

func testPlan(t *testing.T) *lab.Plan {
	t.Helper()
	t.Setenv(lab.StateDirEnv, t.TempDir())
	cfg, err := lab.Parse("lab.toml", []byte(steptest.LabTOML("envlab", "AlmaLinux-8.4", "eth9", "")))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.Plan(lab.HostNet{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunLogHidesSecretsInBothSinksAndCloses(t *testing.T) {
	p := testPlan(t)
	st, err := lab.OpenState(p)
	if err != nil {
		t.Fatal(err)
	}
	var verbose strings.Builder
	rl, err := OpenRunLog(st, "up", []string{"s3cret-value"}, &verbose)
	if err != nil {
		t.Fatal(err)
	}
	rl.AddSecrets("guest-pw-123")
	rl.Write([]byte("mysql -ps3cret-value\nlogin guest-pw-123 ok\n"))
	if err := rl.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(rl.Path)
	for name, got := range map[string]string{"file": string(b), "verbose": verbose.String()} {
		if strings.Contains(got, "s3cret-value") || strings.Contains(got, "guest-pw-123") || strings.Count(got, "<redacted>") != 2 {
			t.Errorf("%s sink: %q", name, got)
		}
	}
	if fi, _ := os.Stat(rl.Path); fi.Mode().Perm() != 0o600 {
		t.Errorf("run log mode %v", fi.Mode().Perm())
	}
	if err := rl.Close(); err == nil {
		t.Error("closing twice reported no error: a failed close must be seen")
	}
}

func TestOpenExistingCreatesNothing(t *testing.T) {
	p := testPlan(t)
	live, why := OpenExisting(p, nil)
	if live != nil || !strings.Contains(why, "no lab state in") {
		t.Fatalf("OpenExisting on a lab never built: %v %q", live, why)
	}
	if _, err := os.Stat(p.StateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state folder was created: %v", err)
	}
	// A command holding the lab's lock has made the folder: still not built,
	// and no secrets or key appear in it.
	l, err := lab.AcquireLock(p.StateDir, p.Name, "drill")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if live, why := OpenExisting(p, nil); live != nil || why == "" {
		t.Fatalf("OpenExisting beside a lock only: %v %q", live, why)
	}
	if entries, _ := os.ReadDir(p.StateDir); len(entries) != 1 {
		t.Errorf("state folder beside the lock holds %d entries, want the lock only", len(entries))
	}
}

func TestHostNetWithoutVirtualBoxSaysWhatToSet(t *testing.T) {
	def, err := os.ReadFile("../lab.toml") // the built-in lab leaves the network to the host
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := lab.Parse(lab.EmbeddedName, def)
	if err != nil {
		t.Fatal(err)
	}
	old := DetectHostNet
	DetectHostNet = func() (lab.HostNet, error) { return lab.HostNet{}, errors.New("no IPv4 default route") }
	t.Cleanup(func() { DetectHostNet = old })
	_, err = HostNet(t.Context(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "set network and bridge_adapter") {
		t.Fatalf("HostNet without a route: %v", err)
	}
	if _, err := cfg.Plan(Placeholder); err != nil {
		t.Errorf("the placeholder network does not make a valid plan: %v", err)
	}
}
