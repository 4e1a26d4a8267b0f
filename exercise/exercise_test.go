package exercise

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"labctl/lab"
)

func TestParseReportsEveryProblemWithItsLine(t *testing.T) {
	src := `name = "Bad Name"
level = "expert"
profiles = []
scenario = "s"
goal = "g"
hints = ["h"]
colour = "red"

[[break]]
node = "primary"

[[check]]
name = "c"
type = "row"
service = "nginx"
hint = "h"

[[solution]]
do = "reboot-group"
node = "db"
`
	_, err := Parse("x.toml", []byte(src))
	var ce *lab.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *lab.ConfigError", err)
	}
	want := []string{
		`x.toml:1: name "Bad Name" is not a usable exercise name`,
		`x.toml:1: title is missing`,
		`x.toml:2: level "expert" is not a level`,
		`x.toml:3: profiles must list`,
		`x.toml:7: colour is not a known key`,
		`x.toml:9: break[0].script is missing or empty`,
		`x.toml:15: check[0].service does not apply to a row check`,
		`x.toml:19: solution[0].do goes alone`,
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
	if n := len(ce.Problems); n != len(want) {
		t.Errorf("%d problems, want %d:\n%s", n, len(want), got)
	}
}

func TestInstructorFolderOverridesAndDuplicates(t *testing.T) {
	dir := t.TempDir()
	data, err := builtinFS.ReadFile("builtin/lb-wrong-port.toml")
	if err != nil {
		t.Fatal(err)
	}
	mine := bytes.Replace(data, []byte(`level = "beginner"`), []byte(`level = "advanced"`), 1)
	if err := os.WriteFile(filepath.Join(dir, "a.toml"), mine, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := c.Get("lb-wrong-port")
	if ex.Level != "advanced" || ex.Source != filepath.Join(dir, "a.toml") {
		t.Errorf("the instructor's file did not override the built-in one: %s %s", ex.Level, ex.Source)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.toml"), mine, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "names must be unique") {
		t.Errorf("two files with one name: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "none")); err == nil {
		t.Error("a missing folder loads")
	}
}

func TestStartRefusesAnUnsupportedProfileBeforeTouchingAnything(t *testing.T) {
	p := testPlan(t, "debian")
	c, _ := Load("")
	ex, _ := c.Get("selinux-httpd-db")
	var out bytes.Buffer
	env := &Env{Plan: p, Store: NewStore(p.StateDir), Out: &out,
		Verify: nil /* a call would panic: the refusal comes first */}
	err := Start(context.Background(), env, ex)
	var pe *ProfileError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "runs on el8 and el9 labs") {
		t.Fatalf("got %v", err)
	}
	if a, _ := env.Store.Active(); a != nil {
		t.Error("a refused start was recorded")
	}
}

func TestStoreClearLeavesNoResult(t *testing.T) {
	s := NewStore(t.TempDir())
	if err := s.Begin(&Active{Exercise: "x", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(Event{At: time.Now(), Kind: EventCheck, Exercise: "x", Passed: true}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{s.activePath(), s.resultsPath()} {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v mode %v, want 0600", f, err, st.Mode().Perm())
		}
	}
	if ev, _ := s.Events(); len(ev) != 2 {
		t.Errorf("events %+v", ev)
	}
	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Active()
	ev, _ := s.Events()
	if a != nil || len(ev) != 0 {
		t.Errorf("after Clear: %+v %+v", a, ev)
	}
}

func TestReportSignatureDetectsTamperingAndNeverHoldsTheKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	secretKey := "k3y-that-is-long-enough-0123456789"
	if err := os.WriteFile(keyFile, []byte(secretKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKey(keyFile); err == nil || !strings.Contains(err.Error(), "chmod 600") || strings.Contains(err.Error(), secretKey) {
		t.Errorf("a world-readable key file: %v", err)
	}
	os.Chmod(keyFile, 0o600)
	key, err := ReadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abc"), 0o600)
	if _, err := ReadKey(short); err == nil {
		t.Error("a 3-byte key is accepted")
	}

	r := &Report{Format: 1, Exercise: "primary-crash", Attempts: 2, Result: ResultSolved, Started: time.Now().UTC()}
	r.Sign(key)
	file := filepath.Join(dir, "r.json")
	if err := r.Write(file); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	if bytes.Contains(b, []byte(secretKey)) {
		t.Fatal("the report holds the key")
	}
	if _, err := CheckReport(file, key); err != nil {
		t.Fatalf("a fresh report: %v", err)
	}
	if _, err := CheckReport(file, []byte("another-key-0123456789")); !errors.Is(err, ErrTampered) {
		t.Errorf("another key: %v", err)
	}
	tampered := bytes.Replace(b, []byte(`"attempts": 2`), []byte(`"attempts": 1`), 1)
	os.WriteFile(file, tampered, 0o644)
	if _, err := CheckReport(file, key); !errors.Is(err, ErrTampered) {
		t.Errorf("an edited report: %v", err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	delete(m, "signature")
	unsigned, _ := json.Marshal(m)
	os.WriteFile(file, unsigned, 0o644)
	if _, err := CheckReport(file, key); !errors.Is(err, ErrUnsigned) {
		t.Errorf("an unsigned report: %v", err)
	}
}

func TestResolveSelectors(t *testing.T) {
	p := testPlan(t, "el8")
	for sel, want := range map[string]string{
		"primary": "SQL-ONE", "secondary2": "SQL-THREE", "db": "SQL-ONE,SQL-TWO,SQL-THREE",
		"web2": "SERVER-TWO", "lb": "LOAD-BALANCER", "db3": "SQL-THREE",
	} {
		ns, err := resolve(p, testBindings, sel)
		if err != nil || strings.Join(ns.Names(), ",") != want {
			t.Errorf("%s: %v %v, want %s", sel, ns.Names(), err, want)
		}
	}
	for _, sel := range []string{"db4", "web3", "secondary1x"} {
		if _, err := resolve(p, testBindings, sel); err == nil {
			t.Errorf("%s resolves", sel)
		}
	}
	if _, err := resolve(p, Bindings{}, "primary"); err == nil {
		t.Error("primary resolves without bindings")
	}
}
