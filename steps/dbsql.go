package steps

// Helpers shared by the DB-side steps (mysql-config, group-replication,
// keepalived, wordpress-db): running SQL and scripts as MySQL root with
// every lab secret hidden. Group-replication SQL itself lives in mysqlgr.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

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

// dbQuery is dbSQL for a read whose answer steers the caller; fresh is
// what it prints on a fresh lab's node (a plan's recorder answers it).
func dbQuery(ctx context.Context, env *Env, ex guest.Executor, sql, fresh string) (string, error) {
	return mysqlgr.Root(ex.String(), ex, dbRedact(env)).Query(ctx, sql, fresh)
}

// dbSQLString quotes s as an SQL string literal (NO_BACKSLASH_ESCAPES off).
func dbSQLString(s string) string { return mysqlgr.Quote(s) }

// dbRun runs a script with stdin on ex, hiding every lab secret from logs and errors.
func dbRun(ctx context.Context, env *Env, ex guest.Executor, script string, stdin []byte) (guest.Result, error) {
	return ex.Run(ctx, guest.Cmd{Script: script, Stdin: stdin, Redact: dbRedact(env)})
}

// dbRead is dbRun for a read-only script whose answer steers the caller;
// fresh is what it prints on a fresh lab's node (a plan's recorder answers it).
func dbRead(ctx context.Context, env *Env, ex guest.Executor, script, fresh string) (guest.Result, error) {
	return ex.Run(ctx, guest.Cmd{Script: script, Redact: dbRedact(env), Fresh: guest.Prints(fresh)})
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

var dbUUIDRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func dbGroupName(env *Env) string {
	if env.Secrets == nil {
		return ""
	}
	return env.Secrets.GroupName
}

func dbXComAddr(ip netip.Addr) string { return fmt.Sprintf("%s:%d", ip, dbXComPort) }

// dbRender executes one embedded template.
func dbRender(name string, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := dbTmpl.ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// dbOptionValue quotes a value for a MySQL option file. Quotes, backslashes
// and control characters would be reinterpreted by the option parser, so
// they are refused rather than escaped.
func dbOptionValue(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty value (are the lab secrets loaded?)")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r == '\'' {
			return "", fmt.Errorf("secret contains a quote, backslash or control character, which a MySQL option file cannot hold; regenerate the lab secrets")
		}
	}
	return `"` + s + `"`, nil
}

func dbSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// dbFilesCurrent reports whether every file is on the guest with the same
// content, mode and owner, without reading a content back (it may hold
// secrets), in one command for all of them; why names the first that is not.
func dbFilesCurrent(ctx context.Context, ex guest.Executor, files ...guest.File) (bool, string, error) {
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, `f=%s
if [ -f "$f" ]; then
	echo "$(sha256sum <"$f" | cut -d' ' -f1) $(stat -c '%%a %%U:%%G' "$f")"
else
	echo missing
fi
`, guest.Quote(f.Path))
	}
	r, err := ex.Run(ctx, guest.Cmd{Script: b.String()})
	if err != nil {
		return false, "", fmt.Errorf("read %s: %w", dbFilePaths(files), err)
	}
	lines := strings.Split(strings.TrimRight(r.Stdout, "\n"), "\n")
	for i, f := range files {
		var got []string
		if i < len(lines) {
			got = strings.Fields(lines[i])
		}
		if len(got) == 1 && got[0] == "missing" {
			return false, f.Path + " is missing", nil
		}
		owner := f.Owner
		if owner == "" {
			owner = "root:root"
		}
		want := []string{dbSHA256(f.Content), fmt.Sprintf("%o", f.Mode.Perm()), owner}
		if len(got) != 3 || got[0] != want[0] {
			return false, f.Path + " differs from the rendered file", nil
		}
		if got[1] != want[1] || got[2] != want[2] {
			return false, fmt.Sprintf("%s has mode %s owner %s, want %s %s", f.Path, got[1], got[2], want[1], want[2]), nil
		}
	}
	return true, "", nil
}

func dbFilePaths(files []guest.File) string {
	var p []string
	for _, f := range files {
		p = append(p, f.Path)
	}
	return strings.Join(p, ", ")
}
