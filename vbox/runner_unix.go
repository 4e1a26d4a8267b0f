//go:build !windows

package vbox

import (
	"os/exec"
	"syscall"
)

// setProcessGroup gives VBoxManage its own process group and kills the whole
// group when the context ends: on Linux /usr/bin/VBoxManage is a shell
// wrapper, so killing only the direct child would leave the real binary
// (and a hung XPCOM call) running.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

func isWindows() bool { return false }
