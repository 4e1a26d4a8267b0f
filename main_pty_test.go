package main

// `labctl up` as a user sees it on a terminal: the real CLI, against the
// fake VirtualBox and simulated guests, on a pseudo-terminal that tmux
// renders at a fixed size. The assertions are about the final screen.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"labctl/steps/steptest"
)

// TestPTYChild is the process tmux runs: one whole `labctl up` with stdout
// on the terminal. It does nothing in a normal test run.
func TestPTYChild(t *testing.T) {
	if os.Getenv("LABCTL_PTY_CHILD") != "1" {
		t.Skip("runs only inside TestUpOnATerminal")
	}
	u := newUpLab(t, true)
	args := []string{"labctl", "--lab", u.file, "--vboxmanage", u.fake.Bin}
	if extra := os.Getenv("LABCTL_PTY_ARGS"); extra != "" {
		args = append(args, strings.Fields(extra)...)
	}
	code := run(append(args, "up"), os.Stdin, os.Stdout, os.Stderr)
	fmt.Printf("PTY-EXIT %d\n", code)
}

func TestUpOnATerminal(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (CI installs it)")
	}
	titles := map[string]bool{}
	for _, s := range steptest.SimPipeline(steptest.NewSim()) {
		titles[s.Title()] = true
	}
	for _, tc := range []struct {
		width int
		args  string
	}{{80, ""}, {40, ""}, {80, "--verbose"}} {
		t.Run(fmt.Sprintf("%dx24%s", tc.width, tc.args), func(t *testing.T) {
			screen := ptyRun(t, tmux, tc.width, tc.args)
			lines := strings.Split(screen, "\n")
			if !strings.Contains(screen, "PTY-EXIT 0") {
				t.Fatalf("up did not finish with exit 0:\n%s", screen)
			}
			seen := map[string]int{}
			for _, l := range lines {
				if strings.ContainsAny(l, "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏") {
					t.Errorf("live-line debris on the final screen: %q", l)
				}
				if !strings.HasPrefix(l, "✓ ") && !strings.HasPrefix(l, "✗ ") {
					continue
				}
				// capture-pane -J joins wrapped rows: a longer line wrapped.
				if n := len([]rune(l)); n > tc.width {
					t.Errorf("a step line wrapped (%d columns on a %d-column terminal): %q", n, tc.width, l)
				}
				for title := range titles {
					short := title[:min(len(title), tc.width-4)]
					if strings.HasPrefix(l, "✓ "+short) {
						seen[title]++
					}
				}
			}
			for title := range titles {
				if seen[title] != 1 {
					t.Errorf("step %q has %d ✓ lines, want 1", title, seen[title])
				}
			}
			if testing.Verbose() || t.Failed() {
				t.Logf("final screen at %d columns:\n%s", tc.width, screen)
			}
		})
	}
}

// ptyRun runs TestPTYChild in a detached tmux session of the given size
// and returns the whole pane (history included) once it has finished.
func ptyRun(t *testing.T, tmux string, width int, args string) string {
	t.Helper()
	sock := fmt.Sprintf("labctl-pty-%d-%d", os.Getpid(), width)
	tm := func(a ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-L", sock, "-f", "/dev/null"}, a...)...).CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { tm("kill-server") })
	dir := t.TempDir()
	wd, err := os.Getwd() // the module, where the child builds the fake VBoxManage
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "child.sh")
	body := fmt.Sprintf("#!/bin/sh\ncd %q\nexec env LABCTL_PTY_CHILD=1 LABCTL_PTY_ARGS=%q TERM=screen %q -test.run '^TestPTYChild$' -test.count=1\n",
		wd, args, os.Args[0])
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := tm("new-session", "-d", "-s", "up", "-x", fmt.Sprint(width), "-y", "24", script); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	tm("set-option", "-t", "up", "remain-on-exit", "on")
	tm("set-option", "-t", "up", "history-limit", "5000")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out, err := tm("capture-pane", "-p", "-J", "-S", "-", "-t", "up")
		if err == nil && (strings.Contains(out, "PTY-EXIT") || strings.Contains(out, "Pane is dead")) {
			time.Sleep(200 * time.Millisecond) // let the last writes land
			out, _ = tm("capture-pane", "-p", "-J", "-S", "-", "-t", "up")
			return strings.TrimRight(out, "\n")
		}
		if time.Now().After(deadline) {
			t.Fatalf("up on the terminal did not finish in 3 minutes:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
