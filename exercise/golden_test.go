package exercise

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"labctl/guest"
	"labctl/lab"
	"labctl/steps/steptest"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts")

// testPlan is the simulated lab's plan (steptest's lab.toml) with profile.
func testPlan(t testing.TB, profile string) *lab.Plan {
	t.Helper()
	src := steptest.LabTOML("exlab", "Base", "eth0", "") + ""
	src = strings.Replace(src, "[base]\n", "[base]\nprofile = \""+profile+"\"\n", 1)
	cfg, err := lab.Parse("lab.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.Plan(lab.HostNet{})
	if err != nil {
		t.Fatal(err)
	}
	p.StateDir = t.TempDir()
	return p
}

// testBindings are the roles at start in every transcript.
var testBindings = Bindings{"primary": "SQL-ONE", "secondary1": "SQL-TWO", "secondary2": "SQL-THREE"}

// transcript renders every script an exercise runs on a lab of profile:
// breakage, command checks and solution, node by node, in order.
func transcript(t testing.TB, ex *Exercise, profile string) (string, []string) {
	t.Helper()
	p := testPlan(t, profile)
	prof, err := guest.ProfileByName(profile)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var scripts []string
	emit := func(phase string, i int, sel, script string) {
		nodes, err := resolve(p, testBindings, sel)
		if err != nil {
			t.Fatalf("%s %s[%d]: %v", ex.Name, phase, i, err)
		}
		for _, n := range nodes {
			s := render(p, prof, testBindings, n, fmt.Sprintf("%s %s[%d]", ex.Name, phase, i), script)
			fmt.Fprintf(&b, "=== %s[%d] on %s\n%s", phase, i, n.VM, s)
			scripts = append(scripts, s)
		}
	}
	fmt.Fprintf(&b, "# %s on %s; bindings: primary SQL-ONE, secondary1 SQL-TWO, secondary2 SQL-THREE\n", ex.Name, profile)
	for i, a := range ex.Break {
		if a.Do != "" {
			fmt.Fprintf(&b, "=== break[%d]: typed action %s\n", i, a.Do)
			continue
		}
		emit("break", i, a.Node, a.Script)
		if a.Pause > 0 {
			fmt.Fprintf(&b, "=== pause %d s\n", a.Pause)
		}
	}
	for i, c := range ex.Checks {
		switch c.Type {
		case CheckCommand:
			emit("check", i, c.Node, c.Script)
		case CheckService:
			emit("check", i, c.Node, serviceScript(prof, c.Service))
		case CheckWordPress:
			fmt.Fprintf(&b, "=== check[%d]: typed check %s (%s)\n", i, c.Type, c.Name)
			emit("check", i, "lb", fmt.Sprintf(wordpressScript, wordpressRequests))
		default:
			fmt.Fprintf(&b, "=== check[%d]: typed check %s (%s)\n", i, c.Type, c.Name)
		}
	}
	for i, a := range ex.Solution {
		if a.Do != "" {
			fmt.Fprintf(&b, "=== solution[%d]: typed action %s\n", i, a.Do)
			continue
		}
		emit("solution", i, a.Node, a.Script)
	}
	return b.String(), scripts
}

// TestBuiltinTranscripts compares every built-in exercise's scripts, per
// supported profile, with testdata/golden/<profile>/<exercise>.txt and
// runs shellcheck over each (go test ./exercise -update rewrites them).
func TestBuiltinTranscripts(t *testing.T) {
	cat, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	sc, scErr := exec.LookPath("shellcheck")
	for _, ex := range cat.All() {
		for _, profile := range ex.Profiles {
			t.Run(ex.Name+"/"+profile, func(t *testing.T) {
				got, scripts := transcript(t, ex, profile)
				file := filepath.Join("testdata", "golden", profile, ex.Name+".txt")
				if *update {
					if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("%v (go test ./exercise -update writes it)", err)
				}
				if got != string(want) {
					t.Errorf("%s differs from the rendered scripts (go test ./exercise -update, then review the diff):\n%s", file, got)
				}
				if scErr != nil {
					t.Skip("shellcheck not installed (apt-get install -y shellcheck)")
				}
				for _, s := range scripts {
					cmd := exec.Command(sc, "--shell=sh", "--severity=style", "-")
					cmd.Stdin = strings.NewReader(s)
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Errorf("shellcheck: %v\n%s\n%s", err, out, s)
					}
				}
			})
		}
	}
}
