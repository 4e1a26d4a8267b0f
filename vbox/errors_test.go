package vbox

import (
	"errors"
	"strings"
	"testing"
)

func TestErrorClassificationFromTranscripts(t *testing.T) {
	tests := []struct {
		file     string
		args     []string
		exit     int
		sentinel error // nil = none of the sentinels
		code     string
		text     string // must appear in Error()
	}{
		{"error-showvminfo-notfound.stderr.txt", []string{"showvminfo", "nope", "--machinereadable"}, 1, ErrNotFound, "VBOX_E_OBJECT_NOT_FOUND",
			"VBoxManage showvminfo nope: Could not find a registered machine named 'nope' (VBOX_E_OBJECT_NOT_FOUND)"},
		{"error-modifyvm-locked.stderr.txt", []string{"modifyvm", "SQL-ONE", "--memory", "2048"}, 1, ErrTransient, "VBOX_E_INVALID_OBJECT_STATE",
			"VBoxManage modifyvm SQL-ONE: The machine 'SQL-ONE' is already locked for a session (or being unlocked) (VBOX_E_INVALID_OBJECT_STATE)"},
		{"error-unregistervm-locked.stderr.txt", []string{"unregistervm", "web-01", "--delete"}, 1, ErrTransient, "VBOX_E_INVALID_OBJECT_STATE", "while it is locked"},
		{"error-startvm-locked-windows-crlf.stderr.txt", []string{"startvm", "web-01", "--type", "headless"}, 1, ErrTransient, "VBOX_E_INVALID_OBJECT_STATE",
			"VBoxManage startvm web-01: The machine 'web-01' is already locked by a session (or being locked or unlocked) (VBOX_E_INVALID_OBJECT_STATE)"},
		{"error-object-not-ready.stderr.txt", []string{"modifyvm", "x", "--cpus", "2"}, 1, ErrTransient, "E_ACCESSDENIED", "The object is not ready"},
		{"error-modifyvm-saved.stderr.txt", []string{"modifyvm", "x", "--memory", "1"}, 1, ErrInvalidState, "VBOX_E_INVALID_VM_STATE", "not mutable"},
		{"error-snapshot-notfound.stderr.txt", []string{"snapshot", "web-01", "restore", "nope"}, 1, ErrSnapshotNotFound, "VBOX_E_OBJECT_NOT_FOUND",
			"VBoxManage snapshot web-01 restore nope: Could not find a snapshot named 'nope'"},
		{"error-snapshot-children.stderr.txt", []string{"snapshot", "web-01", "delete", "base"}, 1, ErrInvalidState, "VBOX_E_INVALID_OBJECT_STATE", "2 child snapshots"},
		{"error-clonevm-progress.stderr.txt", []string{"clonevm", "base", "--snapshot", "s"}, 1, nil, "VBOX_E_FILE_ERROR",
			"VBoxManage clonevm base: Clone VM failed; Could not create the clone medium"},
		{"error-startvm-nic.stderr.txt", []string{"startvm", "web-01", "--type", "headless"}, 1, nil, "NS_ERROR_FAILURE", "Nonexistent host networking interface, name 'en7'"},
		{"error-controlvm-notrunning.stderr.txt", []string{"controlvm", "web-01", "poweroff"}, 1, ErrNotRunning, "", "VBoxManage controlvm web-01 poweroff: Machine 'web-01' is not currently running."},
		{"error-guestcontrol-notready.stderr.txt", []string{"guestcontrol", "web-01", "run"}, 1, ErrGuestNotReady, "VBOX_E_IPRT_ERROR", "not ready (yet)"},
		{"error-guestcontrol-logon.stderr.txt", []string{"guestcontrol", "web-01", "run"}, 1, ErrAuth, "VBOX_E_IPRT_ERROR", "not able to logon"},
		{"error-guestcontrol-notrunning.stderr.txt", []string{"guestcontrol", "web-01", "run"}, 1, ErrNotRunning, "", "currently powered off"},
		{"error-guestcontrol-noexe.stderr.txt", []string{"guestcontrol", "web-01", "run"}, 1, nil, "VBOX_E_IPRT_ERROR", `No such file or directory "/bin/nope" on guest`},
		{"error-com-windows-crlf.stderr.txt", []string{"list", "vms"}, 1, ErrUnusable, "CO_E_SERVER_EXEC_FAILURE", "Failed to create the VirtualBox object!"},
		// Old releases exit 0 on fatal errors: the error line alone is a failure.
		{"error-vtx-exit0.stderr.txt", []string{"startvm", "web-01", "--type", "headless"}, 0, nil, "E_FAIL", "VT-x is not available. (VERR_VMX_NO_VMX)"},
	}
	all := []error{ErrNotFound, ErrSnapshotNotFound, ErrTransient, ErrInvalidState, ErrNotRunning, ErrGuestNotReady, ErrAuth, ErrUnusable}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := Result{Stderr: transcript(t, tt.file), ExitCode: tt.exit}
			err := defaultCheck(tt.args, r)
			if err == nil {
				t.Fatal("not detected as a failure")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("not a *Error: %T", err)
			}
			for _, s := range all {
				if errors.Is(err, s) != (s == tt.sentinel) {
					t.Errorf("errors.Is(%v) = %v", s, errors.Is(err, s))
				}
			}
			if e.Code() != tt.code {
				t.Errorf("Code() = %q, want %q", e.Code(), tt.code)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.text) {
				t.Errorf("Error() = %q, want it to contain %q", msg, tt.text)
			}
			if strings.ContainsAny(msg, "\r\n") || strings.Contains(msg, "Details:") || strings.Contains(msg, "Context:") || strings.Contains(msg, "VBoxManage: error:") {
				t.Errorf("Error() should be one clean line: %q", msg)
			}
		})
	}
}

func TestWarningIsNotFailure(t *testing.T) {
	r := Result{Stderr: transcript(t, "warning-modifyvm-bridge.stderr.txt")}
	if err := defaultCheck([]string{"modifyvm", "x"}, r); err != nil {
		t.Fatalf("a warning with exit 0 is success, got %v", err)
	}
	if err := defaultCheck([]string{"list", "vms"}, Result{Stderr: "0%...10%...100%\n"}); err != nil {
		t.Fatalf("a progress bar is success, got %v", err)
	}
}

func TestNonZeroExitWithoutErrorLine(t *testing.T) {
	err := defaultCheck([]string{"snapshot", "vm", "list"}, Result{ExitCode: 1, Stdout: "This machine does not have any snapshots\n"})
	if err == nil || !strings.Contains(err.Error(), "VBoxManage snapshot vm list: This machine does not have any snapshots") {
		t.Fatalf("got %v", err)
	}
	err = defaultCheck([]string{"foo"}, Result{ExitCode: 3})
	if err == nil || !strings.Contains(err.Error(), "exit code 3") {
		t.Fatalf("got %v", err)
	}
}
