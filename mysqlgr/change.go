package mysqlgr

// Changing membership: start, stop, bootstrap, wait for ONLINE, rejoin,
// switchover, and the recovery channel's credentials.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Start starts group replication on s to join the group its seeds belong
// to; a member left in offline mode by an earlier exit accepts clients again.
func (s Server) Start(ctx context.Context) error {
	_, err := s.SQL.SQL(ctx, "SET GLOBAL offline_mode = OFF;\nSTART GROUP_REPLICATION;")
	return err
}

// Stop stops group replication on s; an expelled or failed (ERROR) member
// must leave its old view this way before it can rejoin.
func (s Server) Stop(ctx context.Context) error {
	_, err := s.SQL.SQL(ctx, "STOP GROUP_REPLICATION")
	return err
}

// Bootstrap starts a new group on s. The bootstrap flag is switched off even
// when START fails, or a later restart would found a second group. It does
// not wait for ONLINE (see WaitOnline); the caller must know that no member
// of the group is ONLINE anywhere.
func (s Server) Bootstrap(ctx context.Context) error {
	_, startErr := s.SQL.SQL(ctx, "SET GLOBAL offline_mode = OFF;\nSET GLOBAL group_replication_bootstrap_group = ON;\nSTART GROUP_REPLICATION;")
	_, offErr := s.SQL.SQL(ctx, "SET GLOBAL group_replication_bootstrap_group = OFF;")
	if startErr != nil {
		return fmt.Errorf("bootstrap the group on %s: %w%s", s.Name, startErr, s.RecentErrors(ctx))
	}
	if offErr != nil {
		return fmt.Errorf("switch group_replication_bootstrap_group off on %s: %w", s.Name, offErr)
	}
	return nil
}

// SetAsPrimary makes the member with server_uuid id the group's primary
// (single-primary mode; MySQL 8.0.13+). Ask any ONLINE member.
func (s Server) SetAsPrimary(ctx context.Context, id string) error {
	if _, err := s.SQL.SQL(ctx, "SELECT group_replication_set_as_primary("+Quote(id)+")"); err != nil {
		return fmt.Errorf("make %s the primary: %w", id, err)
	}
	return nil
}

// SetRecoveryCredentials stores the distributed-recovery account's
// credentials (only while group replication is stopped on s); CHANGE MASTER
// before MySQL 8.0.23. The password goes on stdin with the statement.
func (s Server) SetRecoveryCredentials(ctx context.Context, version, user, password string) error {
	u, pw := Quote(user), Quote(password)
	stmt := fmt.Sprintf("CHANGE REPLICATION SOURCE TO SOURCE_USER = %s, SOURCE_PASSWORD = %s FOR CHANNEL 'group_replication_recovery';", u, pw)
	if VersionBefore(version, 8, 0, 23) {
		stmt = fmt.Sprintf("CHANGE MASTER TO MASTER_USER = %s, MASTER_PASSWORD = %s FOR CHANNEL 'group_replication_recovery';", u, pw)
	}
	_, err := s.SQL.SQL(ctx, stmt)
	return err
}

// CheckJoin refuses a joiner holding transactions the group lacks: MySQL
// refuses it too, with a terse log line, so say here what they are and what
// to do. donor is a member of the group.
func CheckJoin(joiner, donor string, self, group *Status) error {
	mine, err1 := ParseGTIDSet(self.Executed)
	groupEx, err2 := ParseGTIDSet(group.Executed)
	groupRc, err3 := ParseGTIDSet(group.Received)
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("read GTID sets: %w", err)
	}
	if extra := mine.Subtract(groupEx.Union(groupRc)); !extra.IsEmpty() {
		return fmt.Errorf("%s has transactions the group lacks (%s), so it cannot join: inspect them (mysqlbinlog --include-gtids); "+
			"if they are unwanted local changes re-provision the node (empty its datadir or re-clone the VM), "+
			"else inject empty transactions for them on the primary %s", joiner, extra, donor)
	}
	return nil
}

// WaitFunc waits until cond holds, for at most limit, asking every every;
// cond's error ends the wait. The steps pass their Env.Wait (which a plan
// turns into one probe and a note); WaitOnline polls.
type WaitFunc func(ctx context.Context, what string, limit, every time.Duration, cond func(context.Context) (bool, error)) error

// WaitOnline polls s every poll until it is ONLINE, fails fast on ERROR or
// OFFLINE, and gives up after within; failures carry the member's recent
// replication log lines.
func (s Server) WaitOnline(ctx context.Context, within, poll time.Duration) error {
	return s.WaitOnlineWith(ctx, pollWait, within, poll)
}

// WaitOnlineWith is WaitOnline waiting through wait.
func (s Server) WaitOnlineWith(ctx context.Context, wait WaitFunc, within, poll time.Duration) error {
	last := "unknown"
	var failed error
	err := wait(ctx, s.Name+" to be ONLINE", within, poll, func(ctx context.Context) (bool, error) {
		m, err := s.ReadSelf(ctx)
		if err != nil {
			return false, nil // not answering yet: ask again
		}
		last = m.State
		switch m.State {
		case Online:
			return true, nil
		case Error, Offline:
			failed = fmt.Errorf("member went %s instead of ONLINE%s", m.State, s.RecentErrors(ctx))
			return false, failed
		}
		return false, nil
	})
	switch {
	case err == nil:
		return nil
	case failed != nil:
		return failed
	}
	return fmt.Errorf("member still %s after %s, want ONLINE%s", last, within, s.RecentErrors(context.WithoutCancel(ctx)))
}

// pollWait is the WaitFunc of callers without one: cond at once, then
// every every, until it holds, fails, or limit has passed.
func pollWait(ctx context.Context, _ string, limit, every time.Duration, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		if ok, err := cond(ctx); ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// RejoinOptions bound a Rejoin.
type RejoinOptions struct {
	Within time.Duration // the whole rejoin
	Poll   time.Duration // between state reads
	// Started, when set, is told when START GROUP_REPLICATION was issued.
	Started func()
}

// Rejoin brings s back ONLINE in its existing group: a member in ERROR
// leaves its old view first, an OFFLINE one starts group replication, then
// it waits for ONLINE. It never bootstraps, so it cannot found a second
// group; the member's mysqld must be accepting connections.
func (s Server) Rejoin(ctx context.Context, o RejoinOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.Within)
	defer cancel()
	// A server that has just started may refuse a moment longer.
	m, err := s.ReadSelf(ctx)
	for err != nil {
		select {
		case <-ctx.Done():
			return fmt.Errorf("not answering within %s: %w", o.Within, err)
		case <-time.After(o.Poll):
		}
		m, err = s.ReadSelf(ctx)
	}
	if m.State == Online {
		return nil
	}
	if m.State == Error {
		if err := s.Stop(ctx); err != nil {
			return fmt.Errorf("stop group replication after ERROR: %w", err)
		}
		m.State = Offline
	}
	if m.State == Offline {
		if err := s.Start(ctx); err != nil {
			return fmt.Errorf("START GROUP_REPLICATION: %w%s", err, s.RecentErrors(ctx))
		}
		if o.Started != nil {
			o.Started()
		}
	}
	left := o.Within
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl)
	}
	return s.WaitOnline(ctx, left, o.Poll)
}

// RecentErrors returns the member's latest replication errors (MySQL 8.0.22+
// keeps its error log in performance_schema), as a suffix for error messages.
func (s Server) RecentErrors(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := s.SQL.SQL(ctx, `SELECT CONCAT(LOGGED, ' ', ERROR_CODE, ' ', REPLACE(DATA, '\n', ' '))
FROM performance_schema.error_log WHERE SUBSYSTEM = 'Repl' AND PRIO IN ('Error', 'Warning')
ORDER BY LOGGED DESC LIMIT 5`)
	if err != nil || strings.TrimSpace(out) == "" {
		return " (see the mysqld error log on " + s.Name + ")"
	}
	return "; recent replication log lines on " + s.Name + ":\n" + strings.TrimRight(out, "\n")
}
