package reallab

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// statusUnderLoad runs `labctl status --json` three times while a bounded
// CPU burner (two spinning goroutines per host CPU, for 90 s at most)
// loads the host and so the guests: every time all six nodes must answer,
// on time or late, never as an error.
func statusUnderLoad(t *testing.T, l labctlRunner) {
	t.Helper()
	// What a login runs on a guest, and how long one takes, idle and loaded:
	// figures for finding why first logins can exceed 1.5 s.
	r := guest(t, l.env, "SERVER-ONE", "", `echo "pam_systemd in: $(grep -l pam_systemd /etc/pam.d/* 2>/dev/null | tr '\n' ' ')"
echo "pam_motd lines in sshd: $(grep -c pam_motd /etc/pam.d/sshd 2>/dev/null)"
sshd -T 2>/dev/null | grep -Ei '^(usedns|kexalgorithms|usepam|printlastlog|printmotd) ' | cut -c1-120`)
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		fmt.Printf("REALLAB guest login set-up: %s\n", line)
	}
	login := func(label string) {
		var times []string
		for i := 0; i < 3; i++ {
			_, d, err := l.run(t, time.Minute, "ssh", "server-one", "--", "true")
			if err != nil {
				t.Errorf("labctl ssh server-one -- true: %v", err)
			}
			times = append(times, fmt.Sprintf("%.2fs", d.Seconds()))
		}
		fmt.Printf("REALLAB labctl ssh (a new login) %s: %s\n", label, strings.Join(times, " "))
	}
	login("idle")
	// The burner spins goroutines in this process (no child process can
	// outlive the test or inherit its files), ended by a deadline and by
	// the deferred cancel, whichever comes first.
	n := 2 * runtime.NumCPU()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for x := 0; ctx.Err() == nil; x++ {
				for j := 0; j < 1<<16; j++ {
					x ^= j
				}
			}
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
	}()
	fmt.Printf("REALLAB status under load: %d spinning goroutines on %d host CPUs\n", n, runtime.NumCPU())
	time.Sleep(2 * time.Second) // let the load settle in
	for i := 1; i <= 3; i++ {
		checkStatusJSONAs(t, l, fmt.Sprintf("labctl status --json under CPU load (%d/3)", i))
	}
	login("under load")
}
