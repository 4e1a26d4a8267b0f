package steps

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"labctl/redact"
)

// The -update flag may be defined by other golden tests of this package;
// define it only once, and read it through the flag package.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/golden")
	}
}

func dbUpdateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// dbGolden compares got with testdata/golden/db/<rel>, or rewrites it with -update.
func dbGolden(t *testing.T, rel string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", "db", filepath.FromSlash(rel))
	if dbUpdateGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./steps -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; if the change is intended run with -update.\n--- got\n%s", path, got)
	}
}

// dbRedactTest hides the test secrets so golden files hold none.
func dbRedactTest(b []byte) []byte {
	return []byte(redact.String(string(b), dbTestSecrets().Values()...))
}

// TestDBGolden renders every file the DB-side steps place on each DB node,
// and the transcript of every script and SQL they run on a fresh lab, for
// the default (el8) lab and a debian variant.
func TestDBGolden(t *testing.T) {
	for _, profile := range []string{"el8", "debian"} {
		t.Run(profile, func(t *testing.T) {
			fl, env := dbFormedLab(t, profile)
			for _, n := range env.Plan.DB() {
				f := fl.nodes[n.VM]
				paths := make([]string, 0, len(f.files))
				for p := range f.files {
					paths = append(paths, p)
				}
				sort.Strings(paths)
				for _, p := range paths {
					file := f.files[p]
					if file.Mode.Perm() == 0o600 && bytes.Equal(dbRedactTest(file.Content), file.Content) {
						t.Errorf("%s: %s is 0600 but holds no secret; why restrict it?", n.VM, p)
					}
					dbGolden(t, profile+"/"+n.VM+p, dbRedactTest(file.Content))
				}
				dbGolden(t, profile+"/"+n.VM+"/transcript.txt", dbRedactTest([]byte(strings.Join(f.log, "\n")+"\n")))
			}
		})
	}
}

// dbAllScripts returns every distinct script the DB-side steps ran on a
// fresh lab (both profiles), plus the rendered check scripts.
func dbAllScripts(t *testing.T) map[string]string {
	out := map[string]string{}
	for _, profile := range []string{"el8", "debian"} {
		fl, env := dbFormedLab(t, profile)
		// A run with a classroom mirror, too.
		env.Plan.PackageMirror = "http://10.0.2.2:8080/repo"
		for _, n := range env.Plan.Nodes {
			if err := Packages().Apply(context.Background(), env, n); err != nil {
				t.Fatalf("packages with mirror on %s: %v", n.VM, err)
			}
		}
		for _, f := range fl.nodes {
			for _, s := range f.scripts {
				out[s] = profile + " " + f.node.VM
			}
			for p, file := range f.files {
				if strings.HasSuffix(p, ".sh") {
					out[string(file.Content)] = profile + " " + p
				}
			}
		}
	}
	return out
}

// TestDBScriptsShellcheck runs shellcheck over every shell script the DB-side
// steps send or install.
func TestDBScriptsShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not installed (apt-get install -y shellcheck)")
	}
	scripts := dbAllScripts(t)
	if len(scripts) < 10 {
		t.Fatalf("only %d scripts collected", len(scripts))
	}
	for script, where := range scripts {
		cmd := exec.Command(sc, "-s", "sh", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("shellcheck (%s) failed: %v\n%s\n--- script\n%s", where, err, out, script)
		}
	}
	// The checker really checks: a known-bad script must fail.
	cmd := exec.Command(sc, "-s", "sh", "-")
	cmd.Stdin = strings.NewReader("echo $undefined_and_unquoted\nif [ 1 = 1 ]\n")
	if err := cmd.Run(); err == nil {
		t.Error("shellcheck accepted a broken script")
	}
}
