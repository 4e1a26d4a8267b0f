package steps

// Helpers shared by the DB-side steps (mysql-config, group-replication,
// keepalived, wordpress-db): running SQL and scripts as MySQL root with
// every lab secret hidden. Group-replication SQL itself lives in mysqlgr.

import (
	"context"
	"errors"

	"labctl/guest"
	"labctl/mysqlgr"
)

// dbMySQLClient is the mysql client as root, credentials from root's 0600 option file.
const dbMySQLClient = mysqlgr.RootClient

// dbRedact lists the lab's secrets, to hide from logs and errors.
func dbRedact(env *Env) []string {
	if env.Secrets == nil {
		return nil
	}
	return env.Secrets.Values()
}

// dbSQL runs SQL (on stdin, never in argv) as MySQL root and returns its output.
func dbSQL(ctx context.Context, env *Env, ex guest.Executor, sql string) (string, error) {
	return mysqlgr.Root(ex.String(), ex, dbRedact(env)).SQL.SQL(ctx, sql)
}

// dbSQLString quotes s as an SQL string literal (NO_BACKSLASH_ESCAPES off).
func dbSQLString(s string) string { return mysqlgr.Quote(s) }

// dbRun runs a script with stdin on ex, hiding every lab secret from logs and errors.
func dbRun(ctx context.Context, env *Env, ex guest.Executor, script string, stdin []byte) (guest.Result, error) {
	return ex.Run(ctx, guest.Cmd{Script: script, Stdin: stdin, Redact: dbRedact(env)})
}

// dbProbe runs a read-only script: a non-zero exit is an answer (ok=false),
// only a failure to run it at all is an error.
func dbProbe(ctx context.Context, env *Env, ex guest.Executor, script string, stdin []byte) (string, bool, error) {
	r, err := dbRun(ctx, env, ex, script, stdin)
	var exit *guest.ExitError
	if errors.As(err, &exit) {
		return r.Stdout, false, nil
	}
	if err != nil {
		return "", false, err
	}
	return r.Stdout, true, nil
}
