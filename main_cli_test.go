package main

// The command-line conventions, through run() as main calls it: exit
// statuses, --version, unknown commands, global flags after the command,
// and shell completion.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"labctl/internal/vboxtest"
	"labctl/lab"
	"labctl/labenv"
	"labctl/steps/steptest"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"labctl"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	t.Setenv(lab.StateDirEnv, t.TempDir())
	t.Setenv("LABCTL_LAB", "")
	t.Setenv("LABCTL_VBOXMANAGE", "")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("name = \"x\"\nnodes = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "lab.toml")
	if err := os.WriteFile(good, []byte(steptest.LabTOML("clilab", vboxtest.BaseVM, vboxtest.BridgeIf, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"ok", []string{"--lab", good, "plan"}, exitOK, ""},
		{"unknown command", []string{"upp"}, exitUsage, `"upp" is not a labctl command. Did you mean "up"?`},
		{"unknown subcommand", []string{"snapshot", "tak"}, exitUsage, `"tak" is not a snapshot subcommand. Did you mean "take"?`},
		{"unknown flag", []string{"up", "--dry-runn"}, exitUsage, "flag provided but not defined: -dry-runn"},
		{"bad lab.toml", []string{"--lab", bad, "plan"}, exitUsage, "bad.toml:2"},
		{"bad --progress", []string{"--lab", good, "--progress", "fancy", "plan"}, exitUsage, "auto, tty or plain"},
		{"no VirtualBox", []string{"--lab", good, "--vboxmanage", filepath.Join(dir, "no-such-VBoxManage"), "status"}, exitNoVBox, "VBoxManage"},
		{"failed", []string{"--lab", good, "ssh", "no-such-node"}, exitUsage, `no node "no-such-node"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, lastLines(out, 5), errOut)
			}
			if tc.says != "" && !strings.Contains(errOut, tc.says) {
				t.Errorf("stderr lacks %q:\n%s", tc.says, errOut)
			}
			if strings.Contains(errOut, "No help topic") {
				t.Errorf("urfave/cli's own message leaked: %s", errOut)
			}
		})
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

func TestGlobalFlagsAfterTheCommand(t *testing.T) {
	t.Setenv(lab.StateDirEnv, t.TempDir())
	dir := t.TempDir()
	good := filepath.Join(dir, "lab.toml")
	if err := os.WriteFile(good, []byte(steptest.LabTOML("afterlab", vboxtest.BaseVM, vboxtest.BridgeIf, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "plan", "--lab", good, "--progress=plain")
	if code != 0 || !strings.Contains(out, `Plan for lab "afterlab"`) {
		t.Fatalf("plan --lab FILE: exit %d\n%s\n%s", code, lastLines(out, 3), errOut)
	}
}

func TestVersion(t *testing.T) {
	t.Setenv("LABCTL_VBOXMANAGE", filepath.Join(t.TempDir(), "none"))
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		first := strings.SplitN(out, "\n", 2)[0]
		if !strings.HasPrefix(first, "labctl ") || !strings.Contains(first, "go1.") {
			t.Errorf("%v: first line %q", args, first)
		}
		if !strings.Contains(out, "VirtualBox: not found") {
			t.Errorf("%v does not say which VirtualBox it would use:\n%s", args, out)
		}
	}
	// A build from this checkout carries its revision and dirty flag
	// (-buildvcs=true: some environments turn VCS stamping off by default).
	bin := filepath.Join(t.TempDir(), "labctl")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := exec.Command("git", "rev-parse", "HEAD").Output()
	if r := strings.TrimSpace(string(rev)); r != "" && !strings.Contains(string(out), r[:12]) {
		t.Errorf("--version of a checkout build lacks revision %s: %s", r[:12], out)
	}
}

func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, errOut := runCLI(t, "completion", sh)
		if code != 0 || !strings.Contains(out, "labctl") {
			t.Fatalf("completion %s: exit %d %s", sh, code, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "completion", "tcsh"); code != exitUsage || !strings.Contains(errOut, "bash, zsh, fish or powershell") {
		t.Errorf("completion tcsh: exit %d %s", code, errOut)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	bin := filepath.Join(t.TempDir(), "labctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	complete := func(words ...string) string {
		script := `source <(labctl completion bash); COMP_WORDS=(` + strings.Join(words, " ") + `); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _labctl_complete; echo "${COMPREPLY[*]}"`
		cmd := exec.Command(bash, "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash completion of %v: %v\n%s", words, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := complete("labctl", "sn"); got != "snapshot" {
		t.Errorf("labctl sn<TAB> = %q, want snapshot", got)
	}
	if got := complete("labctl", "snapshot", "re"); got != "restore" {
		t.Errorf("labctl snapshot re<TAB> = %q, want restore", got)
	}
	if got := complete("labctl", "up", "--dry"); got != "--dry-run" {
		t.Errorf("labctl up --dry<TAB> = %q, want --dry-run", got)
	}
	for _, sh := range []string{"zsh", "fish"} {
		if p, err := exec.LookPath(sh); err == nil {
			_, out, _ := runCLI(t, "completion", sh)
			cmd := exec.Command(p, "-n")
			cmd.Stdin = strings.NewReader(out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s -n rejects its completion script: %v\n%s", sh, err, b)
			}
		}
	}
}

// A password file that is missing, empty or readable by others stops up
// before any VirtualBox call and before the lab's state folder exists.
func TestLoosePasswordFileIsRefusedBeforeAnything(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		mode       os.FileMode
		says       string
	}{
		{"loose", "pw\n", 0o644, "chmod 600"},
		{"empty", "", 0o600, "is empty"},
		{"missing", "", 0, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			t.Setenv(lab.StateDirEnv, state)
			dir := t.TempDir()
			pw := filepath.Join(dir, "pw")
			if tc.mode != 0 {
				if err := os.WriteFile(pw, []byte(tc.body), tc.mode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(pw, tc.mode)
			}
			file := filepath.Join(dir, "lab.toml")
			if err := os.WriteFile(file, []byte(steptest.LabTOML("pwlab", vboxtest.BaseVM, vboxtest.BridgeIf, pw)), 0o644); err != nil {
				t.Fatal(err)
			}
			fake := vboxtest.New(t)
			code, _, errOut := runCLI(t, "--lab", file, "--vboxmanage", fake.Bin, "up")
			if code != exitUsage || !strings.Contains(errOut, tc.says) || !strings.Contains(errOut, pw) {
				t.Fatalf("exit %d, want %d naming %s and saying %q:\n%s", code, exitUsage, pw, tc.says, errOut)
			}
			if n := len(fake.Argv()); n != 0 {
				t.Errorf("%d VBoxManage calls before the refusal: %v", n, fake.Argv())
			}
			if ents, _ := os.ReadDir(state); len(ents) != 0 {
				t.Errorf("state created before the refusal: %v", ents)
			}
			// plan only warns.
			code, _, errOut = runCLI(t, "--lab", file, "--vboxmanage", fake.Bin, "plan")
			if code != 0 || !strings.Contains(errOut, "warning:") {
				t.Errorf("plan with that file: exit %d\n%s", code, errOut)
			}
		})
	}
}

// plan and up --dry-run need only the lab: with no network at all they show
// the whole plan on the placeholder network and say so once.
func TestPlanWithoutAnyNetwork(t *testing.T) {
	t.Setenv(lab.StateDirEnv, t.TempDir())
	t.Setenv("LABCTL_LAB", "")
	t.Setenv("LABCTL_VBOXMANAGE", filepath.Join(t.TempDir(), "no-VBoxManage"))
	old := labenv.DetectHostNet
	labenv.DetectHostNet = func() (lab.HostNet, error) { return lab.HostNet{}, errors.New("no IPv4 default route") }
	t.Cleanup(func() { labenv.DetectHostNet = old })
	for _, args := range [][]string{{"plan"}, {"up", "--dry-run"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v without a network: exit %d\n%s", args, code, errOut)
		}
		if strings.Count(errOut, "placeholder network 192.168.1.0/24") != 1 {
			t.Errorf("%v: the placeholder is not said exactly once:\n%s", args, errOut)
		}
		if !strings.Contains(out, "192.168.1.100") || !strings.Contains(out, "== ") {
			t.Errorf("%v: no whole plan on the placeholder network:\n%s", args, lastLines(out, 5))
		}
		if strings.Contains(out+errOut, "use --dry-run") {
			t.Errorf("%v: the dry run suggests --dry-run", args)
		}
	}
	// up itself still refuses: it would bridge onto a made-up network.
	if code, _, _ := runCLI(t, "--vboxmanage", filepath.Join(t.TempDir(), "none"), "up"); code == 0 {
		t.Error("up without a network and without VirtualBox succeeded")
	}
}

// plan --out writes what each node keeps, under its real name, and prints
// only a summary.
func TestPlanOutWritesRealFiles(t *testing.T) {
	t.Setenv(lab.StateDirEnv, t.TempDir())
	t.Setenv("LABCTL_LAB", "")
	t.Setenv("LABCTL_VBOXMANAGE", filepath.Join(t.TempDir(), "none"))
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "plan", "--out", dir)
	if code != 0 {
		t.Fatalf("plan --out: exit %d\n%s", code, errOut)
	}
	if n := strings.Count(out, "\n"); n > 10 || strings.Contains(out, "== ") {
		t.Errorf("plan --out printed the whole plan (%d lines) instead of a summary:\n%s", n, lastLines(out, 5))
	}
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	if !strings.Contains(out, fmt.Sprintf("Wrote %d files", len(files))) {
		t.Errorf("summary does not match the %d files written:\n%s", len(files), out)
	}
	for _, f := range files {
		if strings.Contains(f, "labctl-new") || strings.HasSuffix(f, ".tar.gz") {
			t.Errorf("plan --out wrote a staging or transient file: %s", f)
		}
	}
	ka, err := os.ReadFile(filepath.Join(dir, "SQL-ONE", "etc", "keepalived", "keepalived.conf"))
	if err != nil {
		t.Fatalf("no keepalived.conf for SQL-ONE: %v", err)
	}
	if strings.Contains(string(ka), "IFACE") || !strings.Contains(string(ka), "interface enp0s3") {
		t.Errorf("keepalived.conf has a placeholder interface:\n%s", ka)
	}
}
