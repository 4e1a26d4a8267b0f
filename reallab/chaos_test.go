package reallab

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bgLabctl is one labctl run in the background, to be interrupted on purpose.
type bgLabctl struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	buf   bytes.Buffer
	done  chan struct{}
	err   error
	start time.Time
}

func (b *bgLabctl) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *bgLabctl) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs labctl with args in the background; its output goes to the
// test log as it comes.
func (l labctlRunner) start(t *testing.T, args ...string) *bgLabctl {
	t.Helper()
	full := append([]string{"--lab", l.lab, "--vboxmanage", l.env.Backend}, args...)
	b := &bgLabctl{done: make(chan struct{})}
	b.cmd = exec.Command(l.bin, full...)
	b.cmd.Env = append(l.env.BackendEnv(), "LABCTL_STATE_DIR="+l.state)
	w := io.MultiWriter(b, os.Stdout)
	b.cmd.Stdout, b.cmd.Stderr = w, w
	fmt.Printf("\n$ labctl %s &\n", strings.Join(args, " "))
	b.start = time.Now()
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start labctl: %v", err)
	}
	go func() { b.err = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

// waitFor waits until the output matches re (true), or labctl ends or
// limit passes (false).
func (b *bgLabctl) waitFor(re *regexp.Regexp, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if re.MatchString(b.output()) {
			return true
		}
		select {
		case <-b.done:
			return re.MatchString(b.output())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}

// wait waits, at most limit, for labctl to end, killing it after that.
func (b *bgLabctl) wait(limit time.Duration) (ended bool, err error) {
	select {
	case <-b.done:
		return true, b.err
	case <-time.After(limit):
		_ = b.cmd.Process.Kill()
		<-b.done
		return false, b.err
	}
}

// stepStarted matches the plain progress line of a step's start.
func stepStarted(title string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^• ` + regexp.QuoteMeta(title) + ` \.\.\.$`)
}

// interruptAt starts `labctl up`, waits for the step titled title to start,
// then after delay sends sig. It reports how long the run lasted.
func interruptAt(t *testing.T, l labctlRunner, name, title string, delay time.Duration, sig syscall.Signal) string {
	t.Helper()
	b := l.start(t, "up")
	if !b.waitFor(stepStarted(title), 20*time.Minute) {
		_, _ = b.wait(time.Second)
		t.Fatalf("chaos %s: `up` ended (or took too long) before %q started:\n%s", name, title, lastLines(b.output(), 20))
	}
	time.Sleep(delay)
	select {
	case <-b.done:
		t.Fatalf("chaos %s: `up` ended %s after %q started, before the %s:\n%s", name, delay, title, sig, lastLines(b.output(), 20))
	default:
	}
	_ = b.cmd.Process.Signal(sig)
	ended, err := b.wait(3 * time.Minute)
	record("chaos: "+name+": up interrupted after", time.Since(b.start))
	if !ended {
		t.Fatalf("chaos %s: labctl did not end within 3 min of %s", name, sig)
	}
	if err == nil {
		t.Fatalf("chaos %s: labctl exited 0 after %s", name, sig)
	}
	if sig == syscall.SIGINT && !strings.Contains(b.output(), "interrupted during") {
		t.Errorf("chaos %s: after SIGINT, no \"interrupted during\" message:\n%s", name, lastLines(b.output(), 8))
	}
	return b.output()
}

// waitForMySQLSetUp polls vm until MySQL's package is initialising its
// first data folder (mysqld --initialize-insecure from its postinst) and
// says so; when the package is configured already, the run b ended or
// limit passes, it says that instead, and the power-off falls on another
// moment.
func waitForMySQLSetUp(t *testing.T, e *Env, b *bgLabctl, vm string, limit time.Duration) string {
	t.Helper()
	const probe = `for f in /proc/[0-9]*/cmdline; do
	if tr '\0' ' ' < "$f" 2>/dev/null | grep -q -e '--initialize-insecur[e]'; then echo init; exit 0; fi
done
dpkg-query -W -f='${db:Status-Status}\n' mysql-server 2>/dev/null`
	start := time.Now()
	for time.Since(start) < limit {
		switch out := strings.TrimSpace(guest(t, e, vm, "", probe).Stdout); out {
		case "init":
			return fmt.Sprintf("while MySQL's package initialised its data folder (%.1f s after packages started)", time.Since(start).Seconds())
		case "installed":
			return "after MySQL's package was set up (its initialisation was not caught)"
		}
		select {
		case <-b.done:
			return "after the run ended, without seeing MySQL's set-up"
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Sprintf("after %s without seeing MySQL's set-up", limit)
}

// serverUUIDs reads each DB node's server_uuid from its data folder.
func serverUUIDs(t *testing.T, e *Env) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range dbNodes {
		r := guest(t, e, n, "", `sed -n 's/^server-uuid=//p' /var/lib/mysql/auto.cnf`)
		out[n] = strings.TrimSpace(r.Stdout)
	}
	return out
}

// TestChaos is issue 15's provisioning chaos on one fresh build: `up` is
// killed with SIGKILL during the packages, a VM is powered off from outside
// in the middle of the next run, SIGINT lands during the MySQL configuration,
// SIGKILL during group formation and during the WordPress install; then
// `up` must converge with no extra VM, the same server_uuids, one WordPress
// install and a passing verify. Last, sshd is stopped on a node and `up`
// must say so, naming the node, and bring it back.
func TestChaos(t *testing.T) {
	e := newEnv(t)
	bin := filepath.Join(e.Work, "bin", "labctl")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = e.RepoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build labctl: %v\n%s", err, out)
	}
	l := labctlRunner{bin: bin, lab: writeLab(t, e), state: filepath.Join(e.Work, "state"), env: e}
	t.Cleanup(func() {
		if keepOnFailure(t) {
			return
		}
		_, _, _ = l.run(t, 5*time.Minute, "down", "--yes")
	})
	chaosStart := time.Now()

	// 1. SIGKILL 4 s into the packages: apt-get goes on in the guests.
	interruptAt(t, l, "SIGKILL during packages", "Installing packages", 4*time.Second, syscall.SIGKILL)

	// 2. The next run waits for those package managers; SQL-THREE is powered
	//    off from outside meanwhile, while MySQL's package sets up its first
	//    data folder (the moment that leaves a folder no configure can start
	//    from): a clear error naming it.
	b := l.start(t, "up")
	if !b.waitFor(stepStarted("Installing packages"), 10*time.Minute) {
		t.Fatalf("chaos power-off: packages never started:\n%s", lastLines(b.output(), 20))
	}
	if moment := waitForMySQLSetUp(t, e, b, "SQL-THREE", 3*time.Minute); moment != "" {
		fmt.Printf("REALLAB chaos: SQL-THREE powered off %s\n", moment)
	}
	vbox(t, e, "controlvm", "SQL-THREE", "poweroff")
	ended, err := b.wait(10 * time.Minute)
	record("chaos: VM powered off mid-run: up failed after", time.Since(b.start))
	out := b.output()
	switch {
	case !ended:
		t.Fatalf("chaos power-off: `up` still running 10 min after SQL-THREE was powered off:\n%s", lastLines(out, 20))
	case err == nil:
		t.Errorf("chaos power-off: `up` succeeded although SQL-THREE was powered off mid-run")
	case !regexp.MustCompile(`(?s)step "[^"]+" \([a-z-]+\) failed:.*SQL-THREE`).MatchString(out):
		t.Errorf("chaos power-off: the error names no step or not SQL-THREE:\n%s", lastLines(out, 12))
	}
	if !strings.Contains(out, "waiting (at most") {
		fmt.Printf("REALLAB chaos: the run after the SIGKILL found no package manager left working\n")
	}

	// 3. SIGINT while MySQL is configured (SQL-THREE is started again first).
	out = interruptAt(t, l, "SIGINT during mysql-config", "Configuring MySQL for group replication", 500*time.Millisecond, syscall.SIGINT)
	if strings.Contains(out, "SQL-THREE: MySQL's first set-up was cut off half way") {
		fmt.Printf("REALLAB chaos: SQL-THREE's unfinished MySQL data folder was set aside\n")
	}
	uuids := serverUUIDs(t, e)
	for n, u := range uuids {
		if u == "" {
			t.Fatalf("chaos: %s has no server_uuid after mysql-config started", n)
		}
	}

	// 4. SIGKILL during group formation; 5. during the WordPress install.
	interruptAt(t, l, "SIGKILL during group formation", "Forming the MySQL group", 1500*time.Millisecond, syscall.SIGKILL)
	interruptAt(t, l, "SIGKILL during the WordPress install", "Installing WordPress", 700*time.Millisecond, syscall.SIGKILL)

	// Then `up` converges.
	out, d, err := l.run(t, 20*time.Minute, "up")
	record("chaos: up after the interruptions", d)
	record("chaos: whole sequence", time.Since(chaosStart))
	reportTimes(t, l, "up after the interruptions", d)
	if err != nil {
		t.Fatalf("chaos: up after the interruptions: %v\n%s", err, lastLines(out, 20))
	}
	if _, _, err := l.run(t, 5*time.Minute, "verify"); err != nil {
		t.Errorf("chaos: verify after the interruptions: %v", err)
	}
	vms := ParseListVMs(vbox(t, e, "list", "vms").Stdout)
	if len(vms) != 1+len(allNodes()) {
		t.Errorf("chaos: %d VMs after the interruptions, want the base and %d: %v", len(vms), len(allNodes()), vms)
	}
	if got := serverUUIDs(t, e); fmt.Sprint(got) != fmt.Sprint(uuids) {
		t.Errorf("chaos: server_uuids changed: %v, first seen %v", got, uuids)
	}
	p := primaryNode(t, e)
	for q, want := range map[string]string{
		"SELECT COUNT(*) FROM wordpress.wp_users":                                     "1",
		"SELECT COUNT(*) FROM wordpress.wp_options WHERE option_name = 'siteurl'":     "1",
		"SELECT COUNT(*) FROM wordpress.wp_options WHERE option_name = 'admin_email'": "1",
	} {
		if got := strings.TrimSpace(mustGuest(t, e, p, mysqlRoot+` -e "`+q+`"`)); got != want {
			t.Errorf("chaos: %s = %s, want %s (one WordPress install)", q, got, want)
		}
	}
	checkLab(t, e)

	// sshd stopped on a node: `up` names the node and brings sshd back.
	mustGuest(t, e, "SERVER-TWO", "systemctl stop ssh")
	out, d, err = l.run(t, 10*time.Minute, "up")
	record("chaos: up with sshd stopped on a node", d)
	reportTimes(t, l, "up with sshd stopped", d)
	if err != nil {
		t.Errorf("chaos: up with sshd stopped on SERVER-TWO: %v\n%s", err, lastLines(out, 12))
	} else if !strings.Contains(out, "SERVER-TWO: ssh was not running") {
		t.Errorf("chaos: up did not say that sshd was stopped on SERVER-TWO:\n%s", lastLines(out, 20))
	}
	if r := guest(t, e, "SERVER-TWO", "", "systemctl is-active ssh"); strings.TrimSpace(r.Stdout) != "active" {
		t.Errorf("chaos: ssh on SERVER-TWO is %q after up", strings.TrimSpace(r.Stdout))
	}
}
