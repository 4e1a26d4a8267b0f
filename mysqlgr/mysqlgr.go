// Package mysqlgr owns what labctl knows of MySQL group replication: the SQL
// that reads a member's state, the group view and the primary, the GTID
// sets, the statements that start, stop, bootstrap and switch the group,
// and the parsing of their answers. It also decides which member a group
// restarts from after a full outage (ChooseBootstrap) and brings a member
// back into its group (Rejoin).
//
// It talks to one MySQL server at a time through a Runner, so the steps,
// `status`, `drill` and the exercises share one reading of the group.
package mysqlgr

import (
	"context"
	"fmt"
	"strings"

	"labctl/guest"
)

// Runner runs SQL statements as MySQL root on one server and returns the
// client's batch output: one line per row, columns separated by tabs, no
// column names.
type Runner interface {
	SQL(ctx context.Context, stmts string) (string, error)
}

// Server is one MySQL server of the lab's group.
type Server struct {
	Name string // the node, for messages
	SQL  Runner
}

// RootOptionFile is root's 0600 client option file on a DB node: the
// mysql-config step writes it, every root client here reads it, so the
// password is never on a command line.
const RootOptionFile = "/root/.my.cnf"

// RootClient is the mysql client as root, statements on stdin.
const RootClient = "mysql --defaults-extra-file=" + RootOptionFile + " --batch --skip-column-names"

// Root returns the server on a node reached through ex; SQL goes on stdin
// (never argv), and redact lists the secrets to hide from logs and errors.
func Root(name string, ex guest.Executor, redact []string) Server {
	return Server{Name: name, SQL: rootRunner{ex: ex, redact: redact}}
}

type rootRunner struct {
	ex     guest.Executor
	redact []string
	fresh  *Fresh // answers for a plan's recorder (fresh.go); nil = none
}

func (r rootRunner) SQL(ctx context.Context, stmts string) (string, error) {
	return r.run(ctx, stmts, nil)
}

func (r rootRunner) run(ctx context.Context, stmts string, fresh func([]guest.Cmd) string) (string, error) {
	if !strings.HasSuffix(strings.TrimSpace(stmts), ";") {
		stmts += ";"
	}
	res, err := r.ex.Run(ctx, guest.Cmd{Script: RootClient, Stdin: []byte(stmts + "\n"), Redact: r.redact, Fresh: fresh})
	if err != nil {
		return "", err
	}
	return res.Stdout, nil
}

// probeClient is the root client for read-only probes batched into a
// caller's script: it gives up on a server that does not answer at once.
const probeClient = "mysql --defaults-extra-file=" + RootOptionFile + " --connect-timeout=1 -N -B"

// probeCommand is a shell command printing the answer to a read-only query
// (or the client's error, on stdout) within seconds.
func probeCommand(sql string, seconds int) string {
	return fmt.Sprintf("timeout %d %s -e %s 2>&1", seconds, probeClient, guest.Quote(sql))
}

// Quote quotes s as an SQL string literal (NO_BACKSLASH_ESCAPES off).
func Quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`, "\x00", `\0`, "\n", `\n`, "\r", `\r`).Replace(s) + "'"
}

// VersionBefore reports whether a MySQL version string ("8.0.36",
// "9.7.4-2") is older than major.minor.patch. Unparsable means "not older".
func VersionBefore(v string, major, minor, patch int) bool {
	var a, b, c int
	if n, _ := fmt.Sscanf(v, "%d.%d.%d", &a, &b, &c); n < 3 {
		return false
	}
	if a != major {
		return a < major
	}
	if b != minor {
		return b < minor
	}
	return c < patch
}
