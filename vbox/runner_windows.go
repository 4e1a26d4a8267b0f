//go:build windows

package vbox

import "os/exec"

// setProcessGroup keeps the default (kill the process) on Windows, where
// VBoxManage.exe is the real binary, not a wrapper script.
func setProcessGroup(cmd *exec.Cmd) {}

func isWindows() bool { return true }
