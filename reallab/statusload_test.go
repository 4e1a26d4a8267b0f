package reallab

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// statusUnderLoad runs `labctl status --json` three times while a bounded
// CPU burner (two spinning shells per host CPU, each ended by timeout
// after 40 s at the latest) loads the host and so the guests: every time
// all six nodes must answer, on time or late, never as an error.
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
	var burners []*exec.Cmd
	for i := 0; i < 2*runtime.NumCPU(); i++ {
		c := exec.Command("timeout", "40", "sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			t.Fatalf("CPU burner: %v", err)
		}
		burners = append(burners, c)
	}
	defer func() {
		for _, c := range burners {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}()
	fmt.Printf("REALLAB status under load: %d CPU burners on %d host CPUs\n", len(burners), runtime.NumCPU())
	time.Sleep(2 * time.Second) // let the load settle in
	for i := 1; i <= 3; i++ {
		checkStatusJSONAs(t, l, fmt.Sprintf("labctl status --json under CPU load (%d/3)", i))
	}
	login("under load")
}
