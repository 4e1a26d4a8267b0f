package steps

// Step "wordpress-db" (serial, DB nodes): WordPress's database and account.
//
//  1. Find the group's primary (performance_schema, as seen from the node).
//  2. On the primary, binary log on so the group replicates it: database
//     `wordpress` (utf8mb4), account 'wordpress'@<each web node's IP> with
//     ALL on wordpress.* and nothing else, any other host of that account
//     dropped. The password travels on stdin only.
//  3. Wait until this node has applied the primary's transactions, so the
//     re-check reads the replicated result.
//
// Check runs on every DB node: it reads the replicated database, account
// hosts and grants locally, which also shows replication reached the node.
//
// Reads: plan (web node IPs), secrets (WordPress DB password), live group.
// Writes: the database and account on the primary.

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"labctl/lab"
)

const (
	// WordPressDatabase is the MySQL database WordPress uses.
	WordPressDatabase = "wordpress"
	// MySQLWordPressUser is WordPress's MySQL account (password: Secrets.WordPressDB),
	// one per web node address.
	MySQLWordPressUser = "wordpress"
	// wpdbReplicaWaitSeconds bounds the wait for a secondary to apply the change.
	wpdbReplicaWaitSeconds = 30
)

// WordPressDB returns the "wordpress-db" step.
func WordPressDB() Step { return wordpressDBStep{} }

type wordpressDBStep struct{}

func (wordpressDBStep) Name() string                  { return "wordpress-db" }
func (wordpressDBStep) Title() string                 { return "Creating the WordPress database and account" }
func (wordpressDBStep) Needs() []string               { return []string{"group-replication"} }
func (wordpressDBStep) Serial() bool                  { return true }
func (wordpressDBStep) Targets(p *lab.Plan) lab.Nodes { return p.DB() }

// wpdbHosts are the account hosts WordPress needs: the web nodes' IPs, sorted.
func wpdbHosts(p *lab.Plan) []string {
	var hs []string
	for _, w := range p.Web() {
		hs = append(hs, w.IP.String())
	}
	sort.Strings(hs)
	return hs
}

// wpdbGrant is the one grant WordPress gets, as SHOW GRANTS prints it.
func wpdbGrant(host string) string {
	return fmt.Sprintf("GRANT ALL PRIVILEGES ON `%s`.* TO `%s`@`%s`", WordPressDatabase, MySQLWordPressUser, host)
}

func (wordpressDBStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	ex := env.SSH(n)
	out, err := dbSQL(ctx, env, ex, fmt.Sprintf(
		"SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s;\nSELECT host FROM mysql.user WHERE user = %s ORDER BY host;",
		dbSQLString(WordPressDatabase), dbSQLString(MySQLWordPressUser)))
	if err != nil {
		return Status{}, fmt.Errorf("read the WordPress database and account: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "1" {
		return Status{Why: "database " + WordPressDatabase + " missing"}, nil
	}
	have := lines[1:]
	sort.Strings(have)
	want := wpdbHosts(env.Plan)
	if strings.Join(have, ",") != strings.Join(want, ",") {
		return Status{Why: fmt.Sprintf("account %s is for hosts [%s], want [%s]", MySQLWordPressUser, strings.Join(have, " "), strings.Join(want, " "))}, nil
	}
	for _, h := range want {
		g, err := dbSQL(ctx, env, ex, "SHOW GRANTS FOR "+dbSQLString(MySQLWordPressUser)+"@"+dbSQLString(h))
		if err != nil {
			return Status{}, fmt.Errorf("read grants of %s@%s: %w", MySQLWordPressUser, h, err)
		}
		grants := strings.Split(strings.TrimSpace(g), "\n")
		sort.Strings(grants)
		exp := []string{wpdbGrant(h), fmt.Sprintf("GRANT USAGE ON *.* TO `%s`@`%s`", MySQLWordPressUser, h)}
		if strings.Join(grants, "\n") != strings.Join(exp, "\n") {
			return Status{Why: fmt.Sprintf("grants of %s@%s are %q, want ALL on %s.* only", MySQLWordPressUser, h, grants, WordPressDatabase)}, nil
		}
	}
	return Status{Done: true}, nil
}

func (wordpressDBStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	// 1. The primary, as this node's group view reports it.
	host, err := grServer(env, n).PrimaryHost(ctx)
	if err != nil {
		return err
	}
	primary := env.Plan.DB().Filter(func(d *lab.Node) bool { return d.IP.String() == host || strings.EqualFold(d.Hostname, host) }).First()
	if primary == nil {
		return fmt.Errorf("no ONLINE primary in %s's view of the group (answer %q); run the group-replication step", n.VM, host)
	}
	pex := env.SSH(primary)
	if primary != n {
		env.PlanNotef("on the primary %s, then %s waits until it has replicated them:", primary.VM, n.VM)
	}

	// 2. Database and account on the primary; stale hosts of the account are dropped.
	hostsOut, err := dbSQL(ctx, env, pex, "SELECT host FROM mysql.user WHERE user = "+dbSQLString(MySQLWordPressUser))
	if err != nil {
		return fmt.Errorf("read the %s account on %s: %w", MySQLWordPressUser, primary.VM, err)
	}
	want := wpdbHosts(env.Plan)
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4;\n", WordPressDatabase)
	for _, h := range strings.Fields(hostsOut) {
		if !wpdbContains(want, h) {
			fmt.Fprintf(&b, "DROP USER IF EXISTS %s@%s;\n", dbSQLString(MySQLWordPressUser), dbSQLString(h))
		}
	}
	for _, h := range want {
		acct := dbSQLString(MySQLWordPressUser) + "@" + dbSQLString(h)
		pw := dbSQLString(env.Secrets.WordPressDB)
		fmt.Fprintf(&b, "CREATE USER IF NOT EXISTS %s IDENTIFIED WITH caching_sha2_password BY %s;\n", acct, pw)
		fmt.Fprintf(&b, "ALTER USER %s IDENTIFIED WITH caching_sha2_password BY %s;\n", acct, pw)
		fmt.Fprintf(&b, "REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s;\n", acct)
		fmt.Fprintf(&b, "GRANT ALL PRIVILEGES ON `%s`.* TO %s;\n", WordPressDatabase, acct)
	}
	b.WriteString("SELECT REPLACE(@@GLOBAL.gtid_executed, '\\n', '');\n")
	gtids, err := dbSQL(ctx, env, pex, b.String())
	if err != nil {
		return fmt.Errorf("create the WordPress database and account on the primary %s: %w", primary.VM, err)
	}

	// 3. Let this node catch up before it is re-checked.
	if primary == n {
		return nil
	}
	res, err := dbQuery(ctx, env, env.SSH(n), fmt.Sprintf("SELECT WAIT_FOR_EXECUTED_GTID_SET(%s, %d)", dbSQLString(strings.TrimSpace(gtids)), wpdbReplicaWaitSeconds), "0\n")
	if err != nil {
		return fmt.Errorf("wait for replication from %s: %w", primary.VM, err)
	}
	if strings.TrimSpace(res) != "0" {
		return fmt.Errorf("%s did not apply the primary's transactions within %d s", n.VM, wpdbReplicaWaitSeconds)
	}
	return nil
}

func wpdbContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
