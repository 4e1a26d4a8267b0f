package steps

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"labctl/guest"
	"labctl/guest/guesttest"
	"labctl/lab"
)

func TestWaitSSH(t *testing.T) {
	p := gaTestPlan()
	n := p.Nodes[0]
	ok := guesttest.New(n.VM).On(guesttest.Equal("true"), guesttest.Output(""))
	env := &Env{Plan: p, SSH: func(*lab.Node) guest.Executor { return ok }}
	st, err := WaitSSH().Check(context.Background(), env, n)
	if err != nil || !st.Done {
		t.Fatalf("answering: %+v %v", st, err)
	}
	if err := WaitSSH().Apply(context.Background(), env, n); err != nil || ok.Received(guesttest.Equal("true")) != 2 {
		t.Fatalf("apply: %v, %d probes", err, ok.Received(guesttest.Equal("true")))
	}

	env.SSH = func(*lab.Node) guest.Executor { return gaErrExec{errors.New("connection refused")} }
	st, err = WaitSSH().Check(context.Background(), env, n)
	if err != nil || st.Done || !strings.Contains(st.Why, "not answering yet") {
		t.Fatalf("down: %+v %v", st, err)
	}
	w := waitSSH{timeout: 50 * time.Millisecond, probe: 50 * time.Millisecond}
	if err := w.Apply(context.Background(), env, n); err == nil || !strings.Contains(err.Error(), "did not come up within") {
		t.Fatalf("apply down: %v", err)
	}

	// A wrong host key is a hard stop, not "not yet".
	hk := &guest.HostKeyError{Node: n.VM, Addr: "192.168.1.100:22", File: "known_hosts"}
	env.SSH = func(*lab.Node) guest.Executor { return gaErrExec{hk} }
	if _, err := WaitSSH().Check(context.Background(), env, n); !errors.As(err, &hk) {
		t.Fatalf("mismatch: %v", err)
	}
}

// sshd stopped in the guest: wait-ssh starts it through guest control,
// says so, and then finds SSH answering; a service still starting is left alone.
func TestWaitSSHStartsAStoppedSSHD(t *testing.T) {
	p := gaTestPlan()
	n := p.Nodes[0]
	for _, state := range []string{"inactive", "activating"} {
		started := false
		ctl := guesttest.New(n.VM).
			On(guesttest.HasPrefix("systemctl is-active 'sshd'"), guesttest.Output(state+"\n")).
			On(guesttest.Contains("systemctl start 'sshd'"), func(guest.Cmd) guest.Result { started = true; return guest.Result{} })
		sshd := guesttest.New(n.VM).On(guesttest.Equal("true"), guesttest.Output(""))
		var warnings []string
		env := &Env{Plan: p, Profile: guest.EL8, Control: func(*lab.Node) guest.Executor { return ctl },
			SSH: func(*lab.Node) guest.Executor { return sshd }, Warn: func(m string) { warnings = append(warnings, m) }}
		if err := WaitSSH().Apply(context.Background(), env, n); err != nil {
			t.Fatalf("%s: %v", state, err)
		}
		want := state == "inactive"
		if started != want || (len(warnings) == 1) != want {
			t.Errorf("sshd %s: started %v, warnings %v", state, started, warnings)
		}
		if want && !strings.Contains(warnings[0], n.VM+": sshd was not running in the guest (inactive); starting it through guest control") {
			t.Errorf("warning %q", warnings[0])
		}
	}
}
