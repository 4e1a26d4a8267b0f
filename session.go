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
	"labctl/internal/tty"
	"labctl/lab"
	"labctl/redact"
	"labctl/steps"
	"labctl/ui"
	"labctl/vbox"
)

// session is what every command starts from: the lab, its plan, the local
// state and (when installed) VirtualBox.
type session struct {
	in      io.Reader
	cfg     *lab.Config
	plan    *lab.Plan
	out     io.Writer
	errOut  io.Writer
	verbose bool

	progress ui.Mode
	display  *ui.Display // the run's display, when the command has one

	vboxPath string
	vboxErr  error // why VirtualBox cannot be used; nil when it can
	vb       *vbox.Client
}

// sessionKey holds the session in the app's Metadata, from Before to Action.
const sessionKey = "labctl/session"

// needsSession is the Before hook of every command that works on a lab: it
// loads and validates the lab once, before the command's Action runs.
func needsSession(c *cli.Context) error {
	s, err := openSession(c)
	if err != nil {
		return err
	}
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]any{}
	}
	c.App.Metadata[sessionKey] = s
	return nil
}

// guestControlNeeded says whether the command will log in to the guests
// through guest control (and so read the base VM's password).
func guestControlNeeded(c *cli.Context) bool {
	if c.Command == nil {
		return false
	}
	switch c.Command.FullName() {
	case "up":
		return !c.Bool("dry-run")
	case "snapshot restore":
		return !c.Bool("dry-run") // restore converges with up
	case "snapshot take":
		return c.Bool("offline") && !c.Bool("dry-run")
	}
	return false
}

// sessionOf is the session needsSession opened for this command.
func sessionOf(c *cli.Context) *session { return c.App.Metadata[sessionKey].(*session) }

// openSession loads and validates the lab before anything touches VirtualBox.
// The command line is read here and nowhere below the command layer.
func openSession(c *cli.Context) (*session, error) {
	s := &session{in: c.App.Reader, out: c.App.Writer, errOut: c.App.ErrWriter, verbose: c.Bool("verbose")}
	mode, err := ui.ParseMode(c.String("progress"))
	if err != nil {
		return nil, cli.Exit(err.Error(), exitUsage)
	}
	s.progress = mode
	cfg, err := lab.Resolve(c.String("lab"), defaultLabTOML)
	if err != nil {
		return nil, cli.Exit(err.Error(), exitUsage)
	}
	s.cfg = cfg
	// A loose or missing password file stops a command that will use it
	// before any VirtualBox call and before any state exists; plan only warns.
	if f := cfg.PasswordFilePath(); f != "" {
		if err := lab.CheckSecretFile("the base VM's password file", f); err != nil {
			if guestControlNeeded(c) {
				return nil, cli.Exit(err.Error(), exitUsage)
			}
			if c.Command != nil && c.Command.Name == "plan" {
				fmt.Fprintln(s.errOut, "labctl: warning:", err)
			}
		}
	}

	s.vboxPath, s.vboxErr = vbox.Locate(c.String("vboxmanage"))
	if s.vboxErr == nil {
		s.vb = vbox.New(vbox.ExecRunner{Path: s.vboxPath})
	}

	hn, err := s.hostNet(c.Context)
	if err != nil && placeholderNetOK(c, s.vb != nil) {
		// plan needs only the lab: a host without a network still gets the
		// whole plan, on a documented placeholder network, said once.
		fmt.Fprintf(s.errOut, "labctl: note: %v\nlabctl: note: showing the plan on the placeholder network %s (adapter %q); set network and bridge_adapter in lab.toml for your own\n",
			err, placeholderNet.Prefix.Masked(), placeholderNet.Adapter)
		hn, err = placeholderNet, nil
	}
	if err != nil {
		return nil, cli.Exit(err.Error(), exitUsage)
	}
	plan, err := cfg.Plan(hn)
	if err != nil {
		return nil, cli.Exit(err.Error(), exitUsage)
	}
	s.plan = plan
	return s, nil
}

// placeholderNet stands in for the host's network in a plan made where
// none can be found (README "Without VirtualBox").
var placeholderNet = lab.HostNet{
	Adapter: "host-adapter",
	Prefix:  netip.MustParsePrefix("192.168.1.10/24"),
	Gateway: netip.MustParseAddr("192.168.1.1"),
}

// placeholderNetOK: plan always may use it; a dry run only when it is the plan.
func placeholderNetOK(c *cli.Context, haveVBox bool) bool {
	if c.Command == nil {
		return false
	}
	switch c.Command.Name {
	case "plan":
		return true
	case "up":
		return c.Bool("dry-run") && !haveVBox
	}
	return false
}

// detectHostNet reads the host's default route; tests replace it.
var detectHostNet = lab.DetectHostNet

// hostNet finds what lab.toml may leave empty: the bridge adapter and its
// subnet. With VirtualBox it names the adapter the way `list bridgedifs`
// does (on macOS "en0: Wi-Fi", not "en0").
func (s *session) hostNet(ctx context.Context) (lab.HostNet, error) {
	if !s.cfg.NeedsHostNet() {
		return lab.HostNet{}, nil
	}
	hn, detectErr := detectHostNet()
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
	return cli.Exit(s.vboxErr.Error()+" (`labctl up --dry-run` shows everything up would do, without VirtualBox)", exitNoVBox)
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
	in, ok := s.in.(*os.File)
	if !ok || !tty.Is(in) {
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

// passwordFrom says where the guest password comes from, for error messages.
func (s *session) passwordFrom() string {
	if f := s.plan.Base.PasswordFile; f != "" {
		return "the password in " + f
	}
	return "the password typed at the prompt"
}

// runEnv opens the lab's state, a per-run log named after command and the
// live environment. done closes the SSH connections the run opened and then
// the log; its error says the log may be incomplete.
func (s *session) runEnv(command string, needControl bool) (env *steps.Env, log io.Writer, logPath string, done func() error, err error) {
	st, err := lab.OpenState(s.plan)
	if err != nil {
		return nil, nil, "", nil, err
	}
	secrets, err := st.Secrets()
	if err != nil {
		return nil, nil, "", nil, err
	}
	rl, err := openRunLog(st, command, secrets.Values(), s.verboseOut())
	if err != nil {
		return nil, nil, "", nil, err
	}
	if s.vb != nil {
		s.vb.Trace = vbox.TraceTo(rl)
	}
	env, closeExecs, err := s.liveEnv(st, rl, needControl)
	if err != nil {
		rl.Close()
		return nil, nil, "", nil, err
	}
	rl.AddSecrets(env.GuestPassword)
	done = func() error {
		closeExecs()
		if s.vb != nil {
			s.vb.Trace = nil
		}
		if err := rl.Close(); err != nil {
			return fmt.Errorf("the run log %s may be incomplete: %w", rl.Path, err)
		}
		return nil
	}
	return env, rl, rl.Path, done, nil
}

// finish runs a run's done func and reports a log that could not be
// written whole: every error message points to that log.
func (s *session) finish(done func() error) {
	if err := done(); err != nil {
		fmt.Fprintln(s.errOut, "labctl: warning:", err)
	}
}

// verboseOut is where --verbose copies the log, or nil: above the run's
// live line when there is one, so the two never share a line.
func (s *session) verboseOut() io.Writer {
	switch {
	case !s.verbose:
		return nil
	case s.display != nil:
		return s.display.Above()
	}
	return s.errOut
}

// runLog is one run's log: a 0600 file in the state folder and, with
// --verbose, the same lines on stderr; secrets are hidden in both.
type runLog struct {
	Path  string
	mu    sync.Mutex
	file  *os.File
	sinks []*redact.Writer
	w     io.Writer
}

func openRunLog(st *lab.State, command string, secrets []string, verbose io.Writer) (*runLog, error) {
	path, f, err := st.NewRunLog(command)
	if err != nil {
		return nil, err
	}
	l := &runLog{Path: path, file: f, sinks: []*redact.Writer{redact.NewWriter(f, secrets)}}
	if verbose != nil {
		l.sinks = append(l.sinks, redact.NewWriter(verbose, secrets))
	}
	ws := make([]io.Writer, len(l.sinks))
	for i, sk := range l.sinks {
		ws[i] = sk
	}
	l.w = io.MultiWriter(ws...)
	return l, nil
}

func (l *runLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// AddSecrets hides values learnt after the log was opened (the guest password).
func (l *runLog) AddSecrets(v ...string) {
	for _, sk := range l.sinks {
		sk.AddSecrets(v...)
	}
}

// Close flushes every sink and closes the file, reporting the first failure.
func (l *runLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, sk := range l.sinks {
		errs = append(errs, sk.Flush())
	}
	errs = append(errs, l.file.Sync(), l.file.Close())
	return errors.Join(errs...)
}

// liveEnv builds the environment for a run against the real VMs.
// needControl says whether guest control (and so the base VM's password) is
// needed. closeExecs closes the SSH connections the run opened.
func (s *session) liveEnv(st *lab.State, log io.Writer, needControl bool) (env *steps.Env, closeExecs func(), err error) {
	secrets, err := st.Secrets()
	if err != nil {
		return nil, nil, err
	}
	signer, authorized, err := st.SSHKey()
	if err != nil {
		return nil, nil, err
	}
	profile, err := guest.ProfileByName(s.plan.Profile)
	if err != nil {
		return nil, nil, err
	}
	var pw string
	if needControl {
		if pw, err = s.guestPassword(); err != nil {
			return nil, nil, err
		}
	}
	cred := vbox.Credentials{User: s.plan.Base.User, Password: pw}
	redact := append(secrets.Values(), pw)

	var mu sync.Mutex
	sshExecs := map[string]*guest.SSH{}
	env = &steps.Env{
		Plan:          s.plan,
		Secrets:       secrets,
		VBox:          s.vb,
		Profile:       profile,
		GuestPassword: pw,
		SSHPublicKey:  authorized,
		HostKeys:      st.HostKeys(),
		Log:           log,
		Control: func(n *lab.Node) guest.Executor {
			c := guest.NewControl(s.vb, n.VM, cred, redact...)
			c.Base, c.PasswordFrom = s.plan.Base.VM, s.passwordFrom()
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
		e := guest.NewSSH(n.VM, n.SSHAddr(), s.plan.SSHUser, signer, st.KnownHostsPath(), redact...)
		e.Log = log
		sshExecs[n.VM] = e
		return e
	}
	closeExecs = func() {
		mu.Lock()
		defer mu.Unlock()
		for vm, e := range sshExecs {
			e.Close()
			delete(sshExecs, vm)
		}
	}
	return env, closeExecs, nil
}
