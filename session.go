package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"labctl/lab"
	"labctl/labenv"
	"labctl/steps"
	"labctl/ui"
	"labctl/vbox"
)

// session is what every command starts from: the lab, its plan, the local
// state and (when installed) VirtualBox.
type session struct {
	in      io.Reader
	cfg     *lab.Config
	hostNet lab.HostNet // what the host told about its network (the plan's source)
	plan    *lab.Plan
	out     io.Writer
	errOut  io.Writer
	verbose bool

	progress ui.Mode
	display  *ui.Display // the run's display, when the command has one

	vboxPath string
	vboxErr  error // why VirtualBox cannot be used; nil when it can
	vb       *vbox.Client

	lock *lab.Lock // held while a command that changes the lab runs
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
	if changesLab(c) {
		return s.takeLock(commandPath(c))
	}
	return nil
}

// commandPath is the command's name under labctl, e.g. "snapshot take"
// (urfave/cli's FullName is only the last word while Before hooks run).
func commandPath(c *cli.Context) string {
	var names []string
	for _, x := range c.Lineage() {
		if x.Command != nil && x.Command.Name != "" && x.Command.Name != c.App.Name {
			names = append([]string{x.Command.Name}, names...)
		}
	}
	return strings.Join(names, " ")
}

// changesLab says whether the command changes the lab, and so must hold
// its lock. Read-only commands (status, info, plan, verify, list, ssh,
// exercise list/show/status/hint/report) never take it, so they never wait.
func changesLab(c *cli.Context) bool {
	if c.Command == nil {
		return false
	}
	switch commandPath(c) {
	case "up", "down", "snapshot take", "snapshot restore", "snapshot delete":
		return !c.Bool("dry-run")
	case "halt", "drill", "switchover",
		"exercise start", "exercise check", "exercise solve", "exercise reset":
		return true
	}
	return false
}

// takeLock takes the lab's lock for command, refusing when another labctl
// holds it; taking over from one that was killed is said once.
func (s *session) takeLock(command string) error {
	l, err := lab.AcquireLock(s.plan.StateDir, s.plan.Name, command)
	if errors.Is(err, lab.ErrBusy) {
		return cli.Exit(err.Error(), exitBusy)
	}
	if err != nil {
		return cli.Exit(err.Error(), exitFailed)
	}
	if l.TookOver != nil {
		fmt.Fprintf(s.errOut, "labctl: note: %s ended before it finished (killed or crashed); taking over the lab's lock\n", l.TookOver)
	}
	s.lock = l
	return nil
}

// releaseSession is the app's After hook: the lab's lock goes when the
// command ends (the operating system drops it anyway if labctl is killed).
func releaseSession(c *cli.Context) error {
	s, ok := c.App.Metadata[sessionKey].(*session)
	if !ok || s.lock == nil {
		return nil
	}
	if err := s.lock.Release(); err != nil {
		fmt.Fprintln(s.errOut, "labctl: warning: release the lab's lock:", err)
	}
	s.lock = nil
	return nil
}

// guestControlNeeded says whether the command will log in to the guests
// through guest control (and so read the base VM's password).
func guestControlNeeded(c *cli.Context) bool {
	if c.Command == nil {
		return false
	}
	switch commandPath(c) {
	case "up":
		return !c.Bool("dry-run")
	case "snapshot restore":
		return !c.Bool("dry-run") // restore converges with up
	case "snapshot take":
		return c.Bool("offline") && !c.Bool("dry-run")
	case "exercise reset":
		return true // reset converges with up
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
	if c.IsSet("seat") {
		if err := cfg.SetSeat(c.Int("seat")); err != nil {
			return nil, cli.Exit(err.Error(), exitUsage)
		}
	}
	if c.Command != nil && c.Command.Name == "seats" {
		cfg.Seat = 0 // the room is the same from every seat
	}
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

	var vb vbox.API
	if s.vb != nil {
		vb = s.vb
	}
	hn, err := labenv.HostNet(c.Context, cfg, vb)
	if err != nil && placeholderNetOK(c, s.vb != nil) {
		// plan needs only the lab: a host without a network still gets the
		// whole plan, on a documented placeholder network, said once.
		fmt.Fprintf(s.errOut, "labctl: note: %v\nlabctl: note: showing the plan on the placeholder network %s (adapter %q); set network and bridge_adapter in lab.toml for your own\n",
			err, labenv.Placeholder.Prefix.Masked(), labenv.Placeholder.Adapter)
		hn, err = labenv.Placeholder, nil
	}
	if err != nil {
		return nil, cli.Exit(err.Error(), exitUsage)
	}
	s.hostNet = hn
	plan, err := cfg.Plan(hn)
	if err != nil {
		return nil, cli.Exit(err.Error(), exitUsage)
	}
	if err := labenv.Forwards(c.Context, plan, vb); err != nil {
		return nil, cli.Exit(err.Error(), exitFailed)
	}
	s.plan = plan
	return s, nil
}

// placeholderNetOK: plan and seats (which need only the lab) always may use
// it; a dry run only when it is the plan.
func placeholderNetOK(c *cli.Context, haveVBox bool) bool {
	if c.Command == nil {
		return false
	}
	switch c.Command.Name {
	case "plan", "seats":
		return true
	case "up":
		return c.Bool("dry-run") && !haveVBox
	}
	return false
}

// requireVBox fails with one clear sentence when VirtualBox is not usable.
func (s *session) requireVBox() error {
	if s.vboxErr == nil {
		return nil
	}
	return cli.Exit(s.vboxErr.Error()+" (`labctl up --dry-run` shows everything up would do, without VirtualBox)", exitNoVBox)
}

// runEnv opens the lab's state, a per-run log named after command and the
// live environment. The guest password is read first, before any state
// exists. done closes the SSH connections the run opened and then the log;
// its error says the log may be incomplete.
func (s *session) runEnv(command string, needControl bool) (env *steps.Env, log io.Writer, logPath string, done func() error, err error) {
	var pw string
	if needControl {
		if pw, err = labenv.Password(s.plan, s.in, s.errOut); err != nil {
			return nil, nil, "", nil, err
		}
	}
	st, err := lab.OpenState(s.plan)
	if err != nil {
		return nil, nil, "", nil, err
	}
	secrets, err := st.Secrets()
	if err != nil {
		return nil, nil, "", nil, err
	}
	rl, err := labenv.OpenRunLog(st, command, append(secrets.Values(), pw), s.verboseOut())
	if err != nil {
		return nil, nil, "", nil, err
	}
	if s.vb != nil {
		s.vb.Trace = vbox.TraceTo(rl)
	}
	live, err := s.openLive(st, rl, pw)
	if err != nil {
		rl.Close()
		return nil, nil, "", nil, err
	}
	done = func() error {
		live.Close()
		if s.vb != nil {
			s.vb.Trace = nil
		}
		if err := rl.Close(); err != nil {
			return fmt.Errorf("the run log %s may be incomplete: %w", rl.Path, err)
		}
		return nil
	}
	return live.Env, rl, rl.Path, done, nil
}

// openLive is labenv.Open with this session's VirtualBox (nil when absent).
func (s *session) openLive(st *lab.State, log io.Writer, password string) (*labenv.Live, error) {
	var vb vbox.API
	if s.vb != nil {
		vb = s.vb
	}
	return labenv.Open(s.plan, st, vb, log, password)
}

// builtLab is the read-only commands' live environment (no guest control,
// no run log) of a lab that was built; it creates no state, and says to run
// up when there is none.
func (s *session) builtLab() (*steps.Env, func(), error) {
	var vb vbox.API
	if s.vb != nil {
		vb = s.vb
	}
	live, whyNot := labenv.OpenExisting(s.plan, vb)
	if live == nil {
		return nil, nil, cli.Exit(fmt.Sprintf("lab %q is not built yet (%s): run `labctl up`", s.plan.Name, whyNot), exitFailed)
	}
	return live.Env, live.Close, nil
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
