//go:build !windows

package vbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// script writes an executable sh script standing in for VBoxManage.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "VBoxManage")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecRunnerLocaleStdinExit(t *testing.T) {
	t.Setenv("LANG", "ru_RU.UTF-8")
	t.Setenv("LC_MESSAGES", "tr_TR.UTF-8")
	t.Setenv("VBOX_USER_HOME", "/tmp/vbox-home")
	p := script(t, `echo "LC_ALL=$LC_ALL LANG=$LANG LC_MESSAGES=${LC_MESSAGES:-unset} VBOX_USER_HOME=$VBOX_USER_HOME args=$*"; cat; echo "to stderr" >&2; exit 3`)
	res, err := ExecRunner{Path: p}.Run(context.Background(), []byte("from stdin\n"), "list", "vms")
	if err != nil {
		t.Fatal(err)
	}
	want := "LC_ALL=C.UTF-8 LANG=C.UTF-8 LC_MESSAGES=unset VBOX_USER_HOME=/tmp/vbox-home args=list vms\nfrom stdin\n"
	if res.Stdout != want || res.Stderr != "to stderr\n" || res.ExitCode != 3 {
		t.Errorf("got %+v", res)
	}
}

func TestExecRunnerNoStdinIsEmpty(t *testing.T) {
	p := script(t, `cat; echo done`)
	res, err := ExecRunner{Path: p}.Run(context.Background(), nil, "x")
	if err != nil || res.Stdout != "done\n" {
		t.Fatalf("got %+v %v", res, err)
	}
}

func TestExecRunnerCancelKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// Like the Linux wrapper script: the real work happens in a child.
	p := script(t, `sleep 30 &
echo $! > `+pidFile+`
wait`)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ExecRunner{Path: p, WaitDelay: time.Second}.Run(ctx, nil, "startvm", "x")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Run returned after %v", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(2 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		// A killed child may linger as a zombie until reaped by init.
		if st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && strings.Contains(string(st), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("grandchild %d survived the cancel", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExecRunnerMissingBinary(t *testing.T) {
	_, err := ExecRunner{Path: filepath.Join(t.TempDir(), "VBoxManage")}.Run(context.Background(), nil, "--version")
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("want ErrNotInstalled, got %v", err)
	}
}

func TestClientOverExecRunner(t *testing.T) {
	// Exit 0 with an error line is a failure (old releases did this).
	p := script(t, `echo "VBoxManage: error: VT-x is not available. (VERR_VMX_NO_VMX)" >&2; exit 0`)
	c := New(ExecRunner{Path: p})
	err := c.Start(context.Background(), "web-01")
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "VBoxManage startvm web-01: VT-x is not available") {
		t.Fatalf("got %v", err)
	}
}
