package reallab

import (
	"fmt"
	"os/exec"
	"runtime"
	"testing"
	"time"
)

// statusUnderLoad runs `labctl status --json` three times while a bounded
// CPU burner (two spinning shells per host CPU, each ended by timeout
// after 40 s at the latest) loads the host and so the guests: every time
// all six nodes must answer, on time or late, never as an error.
func statusUnderLoad(t *testing.T, l labctlRunner) {
	t.Helper()
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
}
