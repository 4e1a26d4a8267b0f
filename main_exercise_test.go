package main

// Whole-tool tests of `labctl exercise`: the real CLI against the fake
// VBoxManage (baseline snapshot, restore) and simulated guests: steptest
// for `up`'s steps, exercisetest for what the exercises break, check and
// repair.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"labctl/exercise"
	"labctl/exercise/exercisetest"
)

type exLab struct {
	*upLab
	sim *exercisetest.Lab
}

func newExLab(t *testing.T) *exLab {
	t.Helper()
	u := newUpLab(t, true)
	u.mustUp("build the lab")
	x := &exLab{upLab: u, sim: exercisetest.New(u.plan)}
	old := exerciseHook
	exerciseHook = func(env *exercise.Env) {
		env.SSH = x.sim.SSH
		env.Verify = x.sim.Verify
		env.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
		env.SolveWait = 200 * time.Millisecond
	}
	t.Cleanup(func() { exerciseHook = old })
	return x
}

func (x *exLab) run(args ...string) (int, string, string) {
	x.t.Helper()
	return x.labctl(context.Background(), append([]string{"exercise"}, args...)...)
}

func (x *exLab) want(code int, contains string, args ...string) string {
	x.t.Helper()
	c, out, errOut := x.run(args...)
	if c != code || !strings.Contains(out+errOut, contains) {
		x.t.Fatalf("labctl exercise %s: exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), c, code, contains, out, errOut)
	}
	return out + errOut
}

// restored counts the VMs restored to the exercise baseline so far.
func (x *exLab) restored() int {
	n := 0
	for _, a := range x.fake.Argv() {
		if len(a) == 4 && a[0] == "snapshot" && a[2] == "restore" && a[3] == exercise.Baseline {
			n++
		}
	}
	return n
}

// TestExerciseEveryBuiltinSolvableInSimulation runs every built-in exercise
// through the CLI: start → check fails with a hint → hint → solve → check
// passes → a signed report that checks out → reset leaves no result.
func TestExerciseEveryBuiltinSolvableInSimulation(t *testing.T) {
	x := newExLab(t)
	key := filepath.Join(t.TempDir(), "report-key")
	if err := os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The instructor's key goes in lab.toml by file name.
	toml, _ := os.ReadFile(x.file)
	if err := os.WriteFile(x.file, append(toml, []byte("\n[exercises]\nreport_key_file = \""+key+"\"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, err := exercise.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for i, ex := range cat.All() {
		t.Run(ex.Name, func(t *testing.T) {
			x.t = t
			x.want(0, "Goal:", "start", ex.Name)
			if got := strings.Count(strings.Join(flat(x.fake.Argv()), "\n"), "take "+exercise.Baseline); got != 6 {
				t.Errorf("baseline taken %d times, want once per VM (6) over the whole run", got)
			}
			out := x.want(1, "Not solved yet", "check")
			if !strings.Contains(out, "✗") || !strings.Contains(out, "hint: ") {
				t.Errorf("a failing check shows no ✗ and hint:\n%s", out)
			}
			x.want(0, "Hint 1 of", "hint")
			x.want(0, "Solved", "solve", "--yes")
			x.want(0, "Solved: every check passes", "check")
			report := filepath.Join(t.TempDir(), "r.json")
			x.want(0, "(signed)", "report", "--out", report)
			x.want(0, "signature valid", "report", "--check", report)
			b, _ := os.ReadFile(report)
			if !strings.Contains(string(b), `"result": "solved with the reference solution"`) || strings.Contains(string(b), "0123456789abcdef") {
				t.Errorf("report:\n%s", b)
			}
			before := x.restored()
			x.want(0, "converging the lab", "reset", "--yes")
			if got := x.restored() - before; got != 6 {
				t.Errorf("reset restored %d VMs to the baseline, want 6", got)
			}
			x.sim.Heal() // what the restore and the converge do to the guests
			x.want(0, "No exercise in progress", "status")
			if _, err := os.Stat(filepath.Join(x.stateDir, exercise.StoreDir, "results.jsonl")); !os.IsNotExist(err) {
				t.Errorf("results survived the reset: %v", err)
			}
			x.want(2, "no exercise in progress", "report", "--out", report)
			_ = i
		})
	}
}

func flat(argv [][]string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = strings.Join(a, " ")
	}
	return out
}

func TestExerciseRefusals(t *testing.T) {
	x := newExLab(t)
	x.want(2, "no exercise in progress", "check")
	x.want(2, "no exercise in progress", "hint")
	x.want(0, "No exercise in progress", "status")
	x.want(1, "no exercise baseline", "reset", "--yes")
	x.want(2, "no exercise named \"nope\"", "start", "nope")
	x.want(2, "usage: labctl exercise start NAME", "start")

	// A lab failing verify: refused before any snapshot or record.
	x.sim.LBPort = 8080
	x.want(1, "must pass `labctl verify`", "start", "primary-crash")
	if strings.Contains(strings.Join(flat(x.fake.Argv()), "\n"), exercise.Baseline) {
		t.Error("a refused start touched the baseline snapshot")
	}
	x.want(0, "No exercise in progress", "status")
	x.sim.Heal()

	x.want(0, "Goal:", "start", "lb-wrong-port")
	x.want(2, "exercise lb-wrong-port is in progress", "start", "primary-crash")
	x.want(2, "refusing without confirmation", "solve")
	x.want(2, "refusing without confirmation", "reset")
	x.want(1, "Not solved yet", "check")
	_, out, _ := x.run("check", "--json")
	var r exercise.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Solved || r.Attempt != 2 || len(r.Checks) != 2 || r.Checks[0].Passed || r.Checks[0].Hint == "" {
		t.Errorf("check --json: %v\n%s", err, out)
	}
	_, out, _ = x.run("list", "--json")
	var list []struct {
		Name string `json:"name"`
		Runs bool   `json:"runs_on_this_lab"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) < 8 {
		t.Errorf("list --json: %v\n%s", err, out)
	}
	x.want(0, "Hint 1 of 3", "hint")
	x.want(0, "Hint 2 of 3", "hint")
	x.want(0, "Hint 3 of 3", "hint")
	x.want(0, "Hint 3 of 3", "hint")
	out = x.want(0, "hints used: 3 of 3", "status")
	if !strings.Contains(out, "Not solved") {
		t.Errorf("status:\n%s", out)
	}
	report := filepath.Join(t.TempDir(), "r.json")
	x.want(0, "unsigned", "report", "--out", report)
	x.want(0, "converging the lab", "reset", "--yes")
	x.want(0, "No exercise in progress", "status")
}

// TestExerciseBadFilesOneErrorEach: each broken exercise file in an
// instructor's folder is refused with exactly one error naming file,
// line and key.
func TestExerciseBadFilesOneErrorEach(t *testing.T) {
	u := newUpLab(t, false)
	good := `name = "mine"
title = "t"
level = "beginner"
profiles = ["el8"]
scenario = "s"
goal = "g"
hints = ["h"]

[[break]]
node = "lb"
script = "true"

[[check]]
name = "c"
type = "verify"
hint = "h"

[[solution]]
node = "lb"
script = "true"
`
	cases := []struct{ name, from, to, want string }{
		{"unknown key", `goal = "g"`, `goal = "g"` + "\nscenaro = 1", `bad.toml:7: scenaro is not a known key; did you mean "scenario"?`},
		{"wrong type", `level = "beginner"`, `level = 3`, `bad.toml:3: level must be a quoted string`},
		{"bad level", `level = "beginner"`, `level = "expert"`, `bad.toml:3: level "expert" is not a level`},
		{"bad profile", `profiles = ["el8"]`, `profiles = ["win"]`, `bad.toml:4: profiles[0] "win" is not a guest OS profile`},
		{"bad node", "node = \"lb\"\nscript = \"true\"\n\n[[check]]", "node = \"db7x\"\nscript = \"true\"\n\n[[check]]", `bad.toml:10: break[0].node "db7x" is not a node selector`},
		{"bad check type", `type = "verify"`, `type = "ping"`, `bad.toml:15: check[0].type "ping" is not a check type`},
		{"key not for type", `type = "verify"`, "type = \"verify\"\nnode = \"lb\"", `bad.toml:16: check[0].node does not apply to a verify check`},
		{"bad regexp", `type = "verify"`, "type = \"command\"\nnode = \"lb\"\nscript = \"true\"\noutput = \"(\"", `bad.toml:18: check[0].output is not a regular expression`},
		{"no solution", "\n[[solution]]\nnode = \"lb\"\nscript = \"true\"\n", "", `bad.toml: solution is missing`},
		{"bad TOML", `title = "t"`, `title = t`, `bad.toml:2: `},
		{"bad stdin", "[[solution]]\nnode = \"lb\"", "[[solution]]\nstdin = \"root_pw\"\nnode = \"lb\"", `bad.toml:19: solution[0].stdin "root_pw" is not a secret labctl can send`},
		{"missing name", `name = "mine"`, ``, `bad.toml:1: name is missing`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := strings.Replace(good, tc.from, tc.to, 1)
			if src == good {
				t.Fatal("the case changes nothing")
			}
			if err := os.WriteFile(filepath.Join(dir, "bad.toml"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := u.labctl(context.Background(), "exercise", "--exercises", dir, "list")
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("exit %d, want 2 and one error containing %q; got:\n%s%s", code, tc.want, out, errOut)
			}
		})
	}
	// The good file itself loads and overrides nothing.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mine.toml"), []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := u.labctl(context.Background(), "exercise", "--exercises", dir, "list")
	if code != 0 || !strings.Contains(out, "mine") || !strings.Contains(out, "primary-crash") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}
