package reallab

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// figures collects measured times; TestMain prints them in one block.
var (
	figMu   sync.Mutex
	figures []Timing
)

func record(name string, d time.Duration) {
	figMu.Lock()
	defer figMu.Unlock()
	figures = append(figures, Timing{name, d})
	fmt.Printf("REALLAB %-44s %8.1fs\n", name, d.Seconds())
}

func TestMain(m *testing.M) {
	code := m.Run()
	figMu.Lock()
	if len(figures) > 0 {
		fmt.Println("==================== real-lab figures ====================")
		for _, f := range figures {
			fmt.Printf("  %-48s %8.1f s\n", f.Name, f.D.Seconds())
		}
		fmt.Println("==========================================================")
	}
	figMu.Unlock()
	os.Exit(code)
}

// newEnv prepares base, backend, bridge and repository, or skips with the
// reason the suite cannot run here. Cleanup is registered before anything
// is created, so a failing test still leaves the host clean.
func newEnv(t *testing.T) *Env {
	t.Helper()
	if why := Preflight(); why != "" {
		t.Skip(why)
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	if err := EnsureBase(ctx, root, DefaultCache()); err != nil {
		t.Fatal(err)
	}
	record("base image + repository (build or reuse)", time.Since(start))
	work := t.TempDir()
	if os.Getenv("REALLAB_KEEP") == "1" {
		// Outside t.TempDir: its removal would wipe machines kept running.
		if work, err = os.MkdirTemp("", "reallab-keep-"); err != nil {
			t.Fatal(err)
		}
		keptWork := work
		t.Cleanup(func() { // runs after Env.Close (cleanups are LIFO)
			if !t.Failed() {
				_ = os.RemoveAll(keptWork)
			}
		})
	}
	env, err := Setup(ctx, root, DefaultCache(), work)
	t.Cleanup(func() {
		if keepOnFailure(t) {
			return
		}
		if cerr := env.Close(); cerr != nil {
			t.Errorf("cleanup: %v", cerr)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// vbox runs the backend and fails the test on a non-zero exit.
func vbox(t *testing.T, e *Env, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := e.VBox(ctx, "", args...)
	if r.Code != 0 {
		logs := ""
		if len(args) > 1 && args[0] == "startvm" {
			logs = e.MachineLogs(args[1])
		}
		t.Fatalf("VBoxManage %s: exit %d\nstdout: %s\nstderr: %s\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr, logs)
	}
	return r
}

// machineReadable parses showvminfo --machinereadable (enough for tests).
func machineReadable(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		m[strings.Trim(k, `"`)] = strings.Trim(v, `"`)
	}
	return m
}

// waitRunLevel polls until the Guest Additions run level reaches 2.
func waitRunLevel(t *testing.T, e *Env, vm string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		info := machineReadable(vbox(t, e, "showvminfo", vm, "--machinereadable").Stdout)
		if info["GuestAdditionsRunLevel"] == "2" {
			return time.Since(start)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: GuestAdditionsRunLevel never reached 2 in %s", vm, limit)
	return 0
}

// keepOnFailure leaves a failed run's machines up for inspection when
// REALLAB_KEEP=1 (remove them afterwards with hack/reallab/clean.sh).
func keepOnFailure(t *testing.T) bool {
	if t.Failed() && os.Getenv("REALLAB_KEEP") == "1" {
		t.Logf("REALLAB_KEEP=1: machines left running for inspection; clean up with hack/reallab/clean.sh")
		return true
	}
	return false
}
