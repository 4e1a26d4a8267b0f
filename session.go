package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"labctl/guest"
	"labctl/lab"
	"labctl/steps"
	"labctl/vbox"
)

// session is what every command starts from: the lab, its plan, the local
// state and (when installed) VirtualBox.
type session struct {
	c       *cli.Context
	cfg     *lab.Config
	plan    *lab.Plan
	out     io.Writer
	errOut  io.Writer
	verbose bool

	vboxPath string
	vboxErr  error // why VirtualBox cannot be used; nil when it can
	vb       *vbox.Client
}

// openSession loads and validates the lab before anything touches VirtualBox.
func openSession(c *cli.Context) (*session, error) {
	s := &session{c: c, out: c.App.Writer, errOut: c.App.ErrWriter, verbose: c.Bool("verbose")}
	cfg, err := lab.Resolve(c.String("lab"), defaultLabTOML)
	if err != nil {
		return nil, cli.Exit(err.Error(), 2)
	}
	s.cfg = cfg

	s.vboxPath, s.vboxErr = vbox.Locate(c.String("vboxmanage"))
	if s.vboxErr == nil {
		s.vb = vbox.New(vbox.ExecRunner{Path: s.vboxPath})
	}

	hn, err := s.hostNet(c.Context)
	if err != nil {
		return nil, cli.Exit(err.Error(), 2)
	}
	plan, err := cfg.Plan(hn)
	if err != nil {
		return nil, cli.Exit(err.Error(), 2)
	}
	s.plan = plan
	return s, nil
}

// hostNet finds what lab.toml may leave empty: the bridge adapter and its
// subnet. With VirtualBox it names the adapter the way `list bridgedifs`
// does (on macOS "en0: Wi-Fi", not "en0").
func (s *session) hostNet(ctx context.Context) (lab.HostNet, error) {
	if !s.cfg.NeedsHostNet() {
		return lab.HostNet{}, nil
	}
	hn, detectErr := lab.DetectHostNet()
	if s.vb == nil {
		if detectErr != nil {
			return lab.HostNet{}, fmt.Errorf("cannot find the host's network to bridge the lab onto (%v): set network and bridge_adapter in lab.toml", detectErr)
		}
		return hn, nil
	}
	ifs, err := s.vb.BridgedIfs(ctx)
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

// requireVBox fails with one clear sentence when VirtualBox is not usable.
func (s *session) requireVBox() error {
	if s.vboxErr == nil {
		return nil
	}
	return cli.Exit(s.vboxErr.Error(), 3)
}

// guestPassword reads the base image's guest password from the file named
// in lab.toml, or asks for it on the terminal. It never comes from argv.
func (s *session) guestPassword() (string, error) {
	if f := s.plan.Base.PasswordFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("read the base VM's password file: %w (set base.password_file in %s)", err, s.plan.File)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", fmt.Errorf("the base VM's password file %s is empty", f)
		}
		return pw, nil
	}
	in, ok := s.c.App.Reader.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", errors.New("the base VM's guest password is needed: set base.password_file in lab.toml (a 0600 file holding it), or run labctl on a terminal to be asked")
	}
	fmt.Fprintf(s.errOut, "Password for %s in the base VM %q: ", s.plan.Base.User, s.plan.Base.VM)
	b, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(s.errOut)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

// runEnv opens the lab's state, a per-run log named after command (every
// command and its output, secrets redacted) and the live environment.
// closeLog flushes and closes the log.
func (s *session) runEnv(command string, needControl bool) (env *steps.Env, log *lab.Redactor, logPath string, closeLog func(), err error) {
	st, err := lab.OpenState(s.plan)
	if err != nil {
		return nil, nil, "", nil, err
	}
	secrets, err := st.Secrets()
	if err != nil {
		return nil, nil, "", nil, err
	}
	logPath, logFile, err := st.NewRunLog(command)
	if err != nil {
		return nil, nil, "", nil, err
	}
	log = lab.NewRedactor(logFile, secrets.Values())
	closeLog = func() {
		log.Flush()
		logFile.Close()
	}
	if env, err = s.liveEnv(st, log, needControl); err != nil {
		closeLog()
		return nil, nil, "", nil, err
	}
	return env, log, logPath, closeLog, nil
}

// liveEnv builds the environment for a run against the real VMs.
// needControl says whether guest control (and so the base VM's password) is needed.
func (s *session) liveEnv(st *lab.State, log io.Writer, needControl bool) (*steps.Env, error) {
	secrets, err := st.Secrets()
	if err != nil {
		return nil, err
	}
	signer, authorized, err := st.SSHKey()
	if err != nil {
		return nil, err
	}
	profile, err := guest.ProfileByName(s.plan.Profile)
	if err != nil {
		return nil, err
	}
	var pw string
	if needControl {
		if pw, err = s.guestPassword(); err != nil {
			return nil, err
		}
	}
	cred := vbox.Credentials{User: s.plan.Base.User, Password: pw}
	redact := append(secrets.Values(), pw)

	var mu sync.Mutex
	sshExecs := map[string]guest.Executor{}
	env := &steps.Env{
		Plan:          s.plan,
		Secrets:       secrets,
		VBox:          s.vb,
		Mode:          steps.ModeApply,
		Profile:       profile,
		GuestPassword: pw,
		SSHPublicKey:  authorized,
		KnownHosts:    st.KnownHostsPath(),
		PinHostKey: func(n *lab.Node, pubkey string) error {
			return st.PinHostKey(n.IP.String()+":22", pubkey)
		},
		Log: log,
		Control: func(n *lab.Node) guest.Executor {
			c := guest.NewControl(s.vb, n.VM, cred, redact...)
			c.Log = log
			return c
		},
	}
	env.SSH = func(n *lab.Node) guest.Executor {
		mu.Lock()
		defer mu.Unlock()
		if e, ok := sshExecs[n.VM]; ok {
			return e
		}
		e := guest.NewSSH(n.VM, n.IP.String()+":22", s.plan.SSHUser, signer, st.KnownHostsPath(), redact...)
		e.Log = log
		sshExecs[n.VM] = e
		return e
	}
	return env, nil
}
