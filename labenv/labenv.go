// Package labenv opens what a command needs to act on a lab from this host:
// the host's network for the plan, the base VM's guest password, the run
// log, and the live environment the steps run in (state, secrets, keys and
// the executors of every node). Package main only wires flags to it.
package labenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"labctl/addrprobe"
	"net/netip"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	"labctl/guest"
	"labctl/internal/tty"
	"labctl/lab"
	"labctl/labnet"
	"labctl/steps"
	"labctl/vbox"
)

// Placeholder stands in for the host's network in a plan made where none
// can be found (README "Troubleshooting").
var Placeholder = lab.HostNet{
	Adapter: "host-adapter",
	Prefix:  netip.MustParsePrefix("192.168.1.10/24"),
	Gateway: netip.MustParseAddr("192.168.1.1"),
}

// DetectHostNet reads the host's default route; tests replace it.
var DetectHostNet = lab.DetectHostNet

// HostNet finds what lab.toml may leave empty: the bridge adapter and its
// subnet. With VirtualBox (vb not nil) it names the adapter the way `list
// bridgedifs` does (on macOS "en0: Wi-Fi", not "en0").
func HostNet(ctx context.Context, cfg *lab.Config, vb vbox.API) (lab.HostNet, error) {
	if cfg.NetMode() != lab.ModeBridged {
		nets, _ := vb.(vbox.Networks)
		return labnet.HostNet(ctx, cfg, nets)
	}
	if !cfg.NeedsHostNet() {
		return lab.HostNet{}, nil
	}
	hn, detectErr := DetectHostNet()
	if vb == nil {
		if detectErr != nil {
			return lab.HostNet{}, fmt.Errorf("cannot find the host's network to bridge the lab onto (%v): set network and bridge_adapter in lab.toml", detectErr)
		}
		return hn, nil
	}
	ifs, err := vb.BridgedIfs(ctx)
	if err != nil {
		return lab.HostNet{}, fmt.Errorf("list host interfaces: %w", err)
	}
	for _, hi := range ifs {
		if hi.Status != "Up" {
			continue
		}
		ip, err := netip.ParseAddr(hi.IPAddress)
		if err != nil || !hn.Prefix.IsValid() || !hn.Prefix.Contains(ip) {
			continue
		}
		hn.Adapter = hi.Name
		return hn, nil
	}
	if detectErr != nil {
		return lab.HostNet{}, fmt.Errorf("cannot tell which host interface to bridge the lab onto (%v): set bridge_adapter and network in lab.toml (see `VBoxManage list bridgedifs`)", detectErr)
	}
	return hn, nil
}

// Forwards gives the plan its NAT-network forwards (natnetwork mode): the
// ports every command reaches the nodes and the load balancer through; in
// hostonly mode, the adapter or network its NICs attach to.
func Forwards(ctx context.Context, p *lab.Plan, vb vbox.API) error {
	nets, _ := vb.(vbox.Networks)
	if err := labnet.Forwards(ctx, p, nets); err != nil {
		return fmt.Errorf("choose the lab's port forwards: %w", err)
	}
	if err := labnet.Attach(ctx, p, nets); err != nil {
		return fmt.Errorf("find the lab's host-only network: %w", err)
	}
	return nil
}

// Password reads the base image's guest password from base.password_file,
// or asks for it on the terminal in. It never comes from argv.
func Password(p *lab.Plan, in io.Reader, prompt io.Writer) (string, error) {
	if f := p.Base.PasswordFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("read the base VM's password file: %w (set base.password_file in %s)", err, p.File)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", fmt.Errorf("the base VM's password file %s is empty", f)
		}
		return pw, nil
	}
	f, ok := in.(*os.File)
	if !ok || !tty.Is(f) {
		return "", errors.New("the base VM's guest password is needed: set base.password_file in lab.toml (a 0600 file holding it), or run labctl on a terminal to be asked")
	}
	fmt.Fprintf(prompt, "Password for %s in the base VM %q: ", p.Base.User, p.Base.VM)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

// PasswordFrom says where the guest password comes from, for error messages.
func PasswordFrom(p *lab.Plan) string {
	if f := p.Base.PasswordFile; f != "" {
		return "the password in " + f
	}
	return "the password typed at the prompt"
}

// HostProbe probes the lab's addresses from this computer (preflight and
// `base check`); nil = never. The whole-tool tests set it to nil: their
// lab network may well be the test machine's own, and tests send nothing
// outside loopback and the namespaces they create.
var HostProbe = addrprobe.Host

// Live is the environment for a run against the real VMs. Password is the
// base VM's guest password ("" when guest control is not needed).
type Live struct {
	Env *steps.Env

	mu   sync.Mutex
	sshs map[string]*guest.SSH
}

// Open builds the live environment from the lab's state. log receives every
// command and its output (already redacting).
func Open(p *lab.Plan, st *lab.State, vb vbox.API, log io.Writer, password string) (*Live, error) {
	secrets, err := st.Secrets()
	if err != nil {
		return nil, err
	}
	signer, authorized, err := st.SSHKey()
	if err != nil {
		return nil, err
	}
	profile, err := guest.ProfileByName(p.Profile)
	if err != nil {
		return nil, err
	}
	cred := vbox.Credentials{User: p.Base.User, Password: password}
	redact := append(secrets.Values(), password)
	l := &Live{sshs: map[string]*guest.SSH{}}
	l.Env = &steps.Env{
		Plan:          p,
		Secrets:       secrets,
		VBox:          vb,
		Profile:       profile,
		GuestPassword: password,
		SSHPublicKey:  authorized,
		HostKeys:      st.HostKeys(),
		Log:           log,
		HostProbe:     HostProbe,
		Control: func(n *lab.Node) guest.Executor {
			c := guest.NewControl(vb, n.VM, cred, redact...)
			c.Base, c.PasswordFrom = p.Base.VM, PasswordFrom(p)
			c.Log = log
			return c
		},
		SSH: func(n *lab.Node) guest.Executor {
			l.mu.Lock()
			defer l.mu.Unlock()
			if e, ok := l.sshs[n.VM]; ok {
				return e
			}
			e := guest.NewSSH(n.VM, n.SSHAddr(), p.SSHUser, signer, st.KnownHostsPath(), redact...)
			e.Log = log
			l.sshs[n.VM] = e
			return e
		},
	}
	return l, nil
}

// Close closes every SSH connection the run opened.
func (l *Live) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for vm, e := range l.sshs {
		e.Close()
		delete(l.sshs, vm)
	}
}

// OpenExisting is Open for read-only commands on a lab that may never have
// been built: it creates no state. live is nil when there is no state to
// log in with, and whyNot says so.
func OpenExisting(p *lab.Plan, vb vbox.API) (live *Live, whyNot string) {
	if !lab.HasState(p.StateDir) {
		return nil, fmt.Sprintf("no lab state in %s (labctl up creates it with the lab's SSH key)", p.StateDir)
	}
	st, err := lab.OpenState(p)
	if err != nil {
		return nil, err.Error()
	}
	live, err = Open(p, st, vb, io.Discard, "")
	if err != nil {
		return nil, err.Error()
	}
	return live, ""
}
