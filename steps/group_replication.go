package steps

// Step "group-replication" (serial, DB nodes in lab order): forms the MySQL
// group, the way the runbook does it by hand but checked at every turn.
//
//  1. On the node: accounts created with the binary log off (a local admin
//     change must never become an errant GTID): the recovery account on
//     every DB node's address, the read-only verifier account.
//  2. The recovery channel's credentials (CHANGE REPLICATION SOURCE ... FOR
//     CHANNEL 'group_replication_recovery'), SQL on stdin only.
//  3. Ask all three members for their state. If any is ONLINE (or
//     RECOVERING) the group exists: never bootstrap, join this node.
//     Otherwise (fresh lab or full outage) every member must answer, and the
//     group restarts from the member whose GTID set holds all the others'
//     (ChooseBootstrap); a fresh lab bootstraps the first node.
//  4. Join one node at a time and wait, with a deadline, for ONLINE.
//
// Reads: plan (DB nodes, network), secrets (replication and verifier
// passwords, group name), every DB node's live member state.
// Writes: MySQL accounts, recovery channel credentials, group membership.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"labctl/lab"
	"labctl/mysqlgr"
	"labctl/mysqlver"
)

// MySQL accounts labctl creates on the DB nodes.
const (
	// MySQLReplicationUser is group replication's distributed-recovery account.
	MySQLReplicationUser = "labctl_repl"
	// MySQLVerifierUser may only read performance_schema: the keepalived check
	// and `labctl verify` log in with it (password: Secrets.Verifier).
	MySQLVerifierUser = "labctl_verify"
)

// GroupReplication returns the "group-replication" step.
func GroupReplication() Step {
	// A quarter second between reads of the member's state: a member that
	// has just joined is seen ONLINE at once (a read is one small query on
	// the node's open connection), not up to a second later.
	return &grStep{joinWait: 5 * time.Minute, poll: 250 * time.Millisecond}
}

type grStep struct {
	joinWait time.Duration // how long a member may take to reach ONLINE
	poll     time.Duration // member state polling interval
}

func (*grStep) Name() string                  { return "group-replication" }
func (*grStep) Title() string                 { return "Forming the MySQL group" }
func (*grStep) Needs() []string               { return []string{"mysql-config", "firewall"} }
func (*grStep) Serial() bool                  { return true }
func (*grStep) Targets(p *lab.Plan) lab.Nodes { return p.DB() }

// grMember is one member's view of itself, and the step's accounts on it.
type grMember struct {
	Node *lab.Node
	*mysqlgr.Status
	Verifiers int // verifier accounts present (read by Check and prepare only)
}

// grServer is n's MySQL server as root. Its reads carry what a fresh
// lab's member answers (a plan's recorder gives those answers).
func grServer(env *Env, n *lab.Node) mysqlgr.Server {
	f := mysqlgr.Fresh{Self: n.IP.String(), Group: dbGroupName(env), Version: mysqlver.Assumed.String()}
	for _, d := range env.Plan.DB() {
		f.Hosts = append(f.Hosts, d.IP.String())
	}
	return mysqlgr.Root(n.VM, env.SSH(n), dbRedact(env)).WithFresh(f)
}

// grVerifierHosts are the verifier's account hosts: the local socket, TCP
// from 127.0.0.1 (the keepalived check; skip_name_resolve never maps it to
// localhost), and the lab network (labctl verify from other nodes).
func grVerifierHosts(p *lab.Plan) []string {
	return []string{"localhost", "127.0.0.1", dbNetmaskHost(p)}
}

func (g *grStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	m, err := grReadMember(ctx, env, n)
	if err != nil {
		return Status{}, err
	}
	if m.Verifiers, err = grCountVerifiers(ctx, env, n); err != nil {
		return Status{}, err
	}
	switch {
	case !strings.EqualFold(m.GroupName, env.Secrets.GroupName):
		return Status{Why: fmt.Sprintf("group name is %q, want %s (run mysql-config)", m.GroupName, env.Secrets.GroupName)}, nil
	case m.RecoveryUser != MySQLReplicationUser:
		return Status{Why: "recovery channel credentials not set"}, nil
	case m.Verifiers < len(grVerifierHosts(env.Plan)):
		return Status{Why: "verifier account missing"}, nil
	case m.State != mysqlgr.Online:
		return Status{Why: fmt.Sprintf("member is %s, want ONLINE", m.State)}, nil
	}
	return Status{Done: true}, nil
}

func (g *grStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	// 1-2. Accounts and recovery credentials on this node.
	self, err := g.prepare(ctx, env, n)
	if err != nil {
		return err
	}
	switch self.State {
	case mysqlgr.Online:
		return nil // only accounts were missing
	case mysqlgr.Recovering:
		return g.waitOnline(ctx, env, n)
	}
	// 3. Does a group exist anywhere? Ask every member.
	members, unreachable := grReadAll(ctx, env)
	if err := grDistinctUUIDs(members); err != nil {
		return err
	}
	var group *grMember
	for _, m := range members {
		if m.Node != n && (m.State == mysqlgr.Online || m.State == mysqlgr.Recovering) && strings.EqualFold(m.GroupName, env.Secrets.GroupName) {
			if group == nil || m.State == mysqlgr.Online {
				group = m
			}
		}
	}
	if group != nil {
		return g.join(ctx, env, self, group)
	}

	// No group: a fresh lab or a full outage. Bootstrapping from a partial
	// view could discard transactions only a silent member holds.
	if len(unreachable) > 0 {
		return fmt.Errorf("no member is ONLINE and %s could not be asked for its transactions, so labctl cannot tell which member to restart the group from; "+
			"start those nodes (mysqld running) and run again: %w", strings.Join(grNames(unreachable), ", "), errors.Join(grErrs(unreachable)...))
	}
	var sets []mysqlgr.MemberGTID
	for _, m := range members {
		sets = append(sets, mysqlgr.MemberGTID{Name: m.Node.VM, Executed: m.Executed, Received: m.Received})
	}
	chosen, err := mysqlgr.ChooseBootstrap(sets)
	if err != nil {
		return err
	}
	boot := self
	for _, m := range members {
		if m.Node.VM == chosen && m.Node != n {
			if boot, err = g.prepare(ctx, env, m.Node); err != nil {
				return fmt.Errorf("prepare %s to restart the group: %w", chosen, err)
			}
		}
	}
	if err := g.bootstrap(ctx, env, boot.Node); err != nil {
		return err
	}
	if boot.Node == n {
		return nil
	}
	return g.join(ctx, env, self, boot)
}

// prepare creates the accounts and sets the recovery credentials on n, and
// leaves GR stopped unless the member is ONLINE or RECOVERING.
func (g *grStep) prepare(ctx context.Context, env *Env, n *lab.Node) (*grMember, error) {
	m, err := grReadMember(ctx, env, n)
	if err != nil {
		return nil, err
	}
	if m.Verifiers, err = grCountVerifiers(ctx, env, n); err != nil {
		return nil, err
	}
	ex, srv := env.SSH(n), grServer(env, n)
	if m.State == mysqlgr.Error {
		// An expelled or failed member must leave its old view before it can rejoin.
		if err := srv.Stop(ctx); err != nil {
			return nil, fmt.Errorf("stop group replication after ERROR: %w", err)
		}
		m.State = mysqlgr.Offline
	}
	if m.Verifiers < len(grVerifierHosts(env.Plan)) || m.RecoveryUser != MySQLReplicationUser || m.State == mysqlgr.Offline {
		sql, err := grAccountsSQL(env, m.Version)
		if err != nil {
			return nil, err
		}
		if _, err := dbSQL(ctx, env, ex, sql); err != nil {
			return nil, fmt.Errorf("create the replication and verifier accounts: %w", err)
		}
	}
	if m.State == mysqlgr.Offline {
		// The channel can only be changed while GR is stopped.
		if err := srv.SetRecoveryCredentials(ctx, m.Version, MySQLReplicationUser, env.Secrets.Replication); err != nil {
			return nil, fmt.Errorf("set the recovery channel credentials: %w", err)
		}
		m.RecoveryUser = MySQLReplicationUser
	}
	return m, nil
}

// grAccountsSQL creates or converges the accounts, binary log off, with
// super_read_only lifted only for these statements (a stopped member keeps it
// on). The recovery account's privileges are those server version has
// (mysqlver.Table); a plan, which has no server, assumes mysqlver.Assumed.
func grAccountsSQL(env *Env, version string) (string, error) {
	v, err := mysqlver.Parse(version)
	if err != nil {
		return "", fmt.Errorf("server version: %w", err)
	}
	admin, err := v.Privileges("CONNECTION_ADMIN", "BACKUP_ADMIN", "GROUP_REPLICATION_STREAM")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("SET SESSION sql_log_bin = 0;\nSET @labctl_sro = @@GLOBAL.super_read_only;\nSET GLOBAL super_read_only = OFF;\n")
	user := func(name, host, password string, grants ...string) {
		acct := dbSQLString(name) + "@" + dbSQLString(host)
		pw := dbSQLString(password)
		fmt.Fprintf(&b, "CREATE USER IF NOT EXISTS %s IDENTIFIED WITH caching_sha2_password BY %s;\n", acct, pw)
		fmt.Fprintf(&b, "ALTER USER %s IDENTIFIED WITH caching_sha2_password BY %s;\n", acct, pw)
		for _, gr := range grants {
			fmt.Fprintf(&b, "GRANT %s TO %s;\n", gr, acct)
		}
	}
	for _, d := range env.Plan.DB() {
		user(MySQLReplicationUser, d.IP.String(), env.Secrets.Replication,
			"REPLICATION SLAVE ON *.*", strings.Join(admin, ", ")+" ON *.*")
	}
	for _, h := range grVerifierHosts(env.Plan) {
		user(MySQLVerifierUser, h, env.Secrets.Verifier, "SELECT ON performance_schema.*")
	}
	b.WriteString("SET GLOBAL super_read_only = @labctl_sro;\nSET SESSION sql_log_bin = 1;\n")
	return b.String(), nil
}

// bootstrap starts a new group on n and waits for it to be ONLINE.
func (g *grStep) bootstrap(ctx context.Context, env *Env, n *lab.Node) error {
	if err := grServer(env, n).Bootstrap(ctx); err != nil {
		return err
	}
	return g.waitOnline(ctx, env, n)
}

// join adds self to the group that donor belongs to.
func (g *grStep) join(ctx context.Context, env *Env, self, donor *grMember) error {
	if err := mysqlgr.CheckJoin(self.Node.VM, donor.Node.VM, self.Status, donor.Status); err != nil {
		return err
	}
	srv := grServer(env, self.Node)
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("join the group: %w%s", err, srv.RecentErrors(ctx))
	}
	return g.waitOnline(ctx, env, self.Node)
}

// waitOnline waits, bounded, for n to be ONLINE.
func (g *grStep) waitOnline(ctx context.Context, env *Env, n *lab.Node) error {
	return grServer(env, n).WaitOnlineWith(ctx, env.Wait, g.joinWait, g.poll)
}

// grReadMember reads n's member state.
func grReadMember(ctx context.Context, env *Env, n *lab.Node) (*grMember, error) {
	st, err := grServer(env, n).ReadStatus(ctx)
	if err != nil {
		return nil, err
	}
	return &grMember{Node: n, Status: st}, nil
}

// grCountVerifiers counts the verifier's accounts on n (none on a fresh node).
func grCountVerifiers(ctx context.Context, env *Env, n *lab.Node) (int, error) {
	out, err := dbQuery(ctx, env, env.SSH(n), "SELECT COUNT(*) FROM mysql.user WHERE user = "+dbSQLString(MySQLVerifierUser), "0\n")
	if err != nil {
		return 0, fmt.Errorf("count the verifier accounts: %w", err)
	}
	var c int
	fmt.Sscanf(strings.TrimSpace(out), "%d", &c)
	return c, nil
}

type grUnreachable struct {
	node *lab.Node
	err  error
}

// grReadAll asks every DB node for its state; failures are returned apart.
func grReadAll(ctx context.Context, env *Env) ([]*grMember, []grUnreachable) {
	var ms []*grMember
	var bad []grUnreachable
	for _, d := range env.Plan.DB() {
		m, err := grReadMember(ctx, env, d)
		if err != nil {
			bad = append(bad, grUnreachable{d, err})
			continue
		}
		ms = append(ms, m)
	}
	return ms, bad
}

func grNames(us []grUnreachable) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.node.VM)
	}
	return out
}

func grErrs(us []grUnreachable) []error {
	var out []error
	for _, u := range us {
		out = append(out, fmt.Errorf("%s: %w", u.node.VM, u.err))
	}
	return out
}

// grDistinctUUIDs refuses clones that share a datadir identity: GR expels
// the second member with the same server_uuid.
func grDistinctUUIDs(ms []*grMember) error {
	seen := map[string]string{}
	for _, m := range ms {
		if other, ok := seen[m.UUID]; ok {
			return fmt.Errorf("%s and %s share server_uuid %s (their datadir was cloned): on one of them stop mysqld, delete auto.cnf in the datadir, start mysqld, and run again",
				other, m.Node.VM, m.UUID)
		}
		seen[m.UUID] = m.Node.VM
	}
	return nil
}

// dbNetmaskHost is the lab network as a MySQL account host
// ("192.168.1.0/255.255.255.0"), a form every 8.0 release accepts.
func dbNetmaskHost(p *lab.Plan) string {
	pfx := p.Network.Masked()
	bits := pfx.Bits()
	var mask [4]byte
	for i := 0; i < 4; i++ {
		switch {
		case bits >= 8:
			mask[i] = 0xff
			bits -= 8
		case bits > 0:
			mask[i] = byte(0xff << (8 - bits))
			bits = 0
		}
	}
	return fmt.Sprintf("%s/%d.%d.%d.%d", pfx.Addr(), mask[0], mask[1], mask[2], mask[3])
}

// dbVersionBefore reports whether a MySQL version string ("8.0.36",
// "9.7.4-2") is older than major.minor.patch. Unparsable means "not older".
func dbVersionBefore(v string, major, minor, patch int) bool {
	return mysqlgr.VersionBefore(v, major, minor, patch)
}
