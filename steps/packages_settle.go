package steps

// Before the packages step installs anything it makes sure no package
// manager is still working and no transaction is half done: an earlier run
// killed mid-install (SIGKILL, a lost connection) leaves apt-get or dnf
// running in the guest, and the next run must wait for it rather than fail
// on its lock; a run killed together with its dpkg leaves the transaction
// for `dpkg --configure -a`, one killed with its rpm transaction on el
// leaves duplicates (`dnf check`) for `dnf remove --duplicates`. On
// Debian, MySQL's package initialises its data folder while it is
// configured for the first time; a machine powered off then leaves a folder
// that makes `dpkg --configure -a` fail at every try, so that folder is
// moved aside (kept) first.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"labctl/guest"
	"labctl/lab"
)

// pkgSettleWait bounds the wait for a package manager left working.
const pkgSettleWait = 5 * time.Minute

// pkgBusyMark starts the probe (the fakes recognise it).
const pkgBusyMark = "# labctl: is a package manager working, or a transaction half done?\n"

// pkgManagers are the process names (/proc/PID/comm) of package managers
// that hold the package database's lock while they run. Daemons that only
// wait (unattended-upgrades' shutdown helper, packagekitd) are not listed.
const pkgManagers = "apt-get apt aptitude dpkg dnf yum rpm"

// pkgBusyScript prints busy=<names of running package managers> and
// interrupted=yes when the profile's audit reports a half-done transaction;
// with wait > 0 it first waits, at most wait, until none runs.
func pkgBusyScript(prof *guest.Profile, wait time.Duration) string {
	var b strings.Builder
	b.WriteString(pkgBusyMark)
	fmt.Fprintf(&b, `busy() {
	for d in /proc/[0-9]*; do
		[ "${d#/proc/}" = "$$" ] && continue
		c=$(cat "$d/comm" 2>/dev/null) || continue
		case "$c" in %s) printf '%%s ' "$c" ;; esac
	done
}
`, strings.ReplaceAll(pkgManagers, " ", "|"))
	if wait > 0 {
		fmt.Fprintf(&b, `i=0
while [ -n "$(busy)" ]; do
	i=$((i + 1))
	if [ "$i" -gt %d ]; then
		echo "a package manager is still working after %d s: $(busy)" >&2
		exit 1
	fi
	sleep 1
done
`, int(wait/time.Second), int(wait/time.Second))
	}
	b.WriteString(`echo "busy=$(busy)"` + "\n")
	if prof.AuditCmd == "" {
		b.WriteString("echo interrupted=no\n")
		return b.String()
	}
	fmt.Fprintf(&b, `if [ -n "$(%s 2>/dev/null)" ]; then
	echo interrupted=yes
else
	echo interrupted=no
fi
`, prof.AuditCmd)
	return b.String()
}

// pkgSettle waits (bounded, saying so) for a package manager an earlier run
// left working on n, then finishes a transaction left half done.
func pkgSettle(ctx context.Context, env *Env, ex guest.Executor, n *lab.Node) error {
	r, err := dbRead(ctx, env, ex, pkgBusyScript(env.Profile, 0), "busy=\ninterrupted=no\n")
	if err != nil {
		return fmt.Errorf("look for a package manager at work: %w", err)
	}
	kv := gaKV(r.Stdout)
	if busy := strings.TrimSpace(kv["busy"]); busy != "" {
		env.Warnf("%s: waiting (at most %s) for the package manager an earlier run left working (%s) to finish", n.VM, pkgSettleWait, busy)
		if r, err = dbRead(ctx, env, ex, pkgBusyScript(env.Profile, pkgSettleWait), "busy=\ninterrupted=no\n"); err != nil {
			return fmt.Errorf("wait for the package manager an earlier run left working (%s): %w", busy, err)
		}
		kv = gaKV(r.Stdout)
	}
	if kv["interrupted"] == "yes" && env.Profile.RepairCmd != "" {
		env.Warnf("%s: an earlier package transaction was interrupted; finishing it (%s)", n.VM, env.Profile.RepairCmd)
		if err := pkgRepair(ctx, env, ex, n); err != nil {
			return fmt.Errorf("finish the interrupted package transaction: %w", err)
		}
	}
	return nil
}

// pkgRepair finishes a half-done transaction with the profile's RepairCmd,
// after setting aside what MySQL's unfinished first set-up left.
func pkgRepair(ctx context.Context, env *Env, ex guest.Executor, n *lab.Node) error {
	if err := pkgSetAsideUnfinished(ctx, env, ex, n); err != nil {
		return err
	}
	_, err := dbRun(ctx, env, ex, "set -eu\n"+env.Profile.RepairCmd+"\n", nil)
	return err
}

// pkgSetAsideMark starts the set-aside script (the fakes recognise it).
const pkgSetAsideMark = "# labctl: set aside the data folder of MySQL's unfinished first set-up\n"

// pkgSetAsideScript moves the MySQL data folder aside, and prints where,
// when the server package never finished its first configuration and the
// folder holds something: what a first set-up cut off half way left, which
// no configure can start from. The folder is kept under another name, never
// removed (it could hold data from before the package), and an empty one
// with the same owner and mode takes its place for the configure to fill.
func pkgSetAsideScript(prof *guest.Profile) string {
	return fmt.Sprintf(`%sset -eu
d=%s
if [ -n "$(%s)" ] && [ -d "$d" ] && [ -n "$(ls -A -I lost+found "$d")" ]; then
	systemctl stop %s 2>/dev/null || true
	owner=$(stat -c %%u "$d") group=$(stat -c %%g "$d") mode=$(stat -c %%a "$d")
	aside="$d.labctl-unfinished-$(date +%%Y%%m%%d-%%H%%M%%S)"
	mv "$d" "$aside"
	install -d -o "$owner" -g "$group" -m "$mode" "$d"
	echo "$aside"
fi
`, pkgSetAsideMark, guest.Quote(prof.MySQLDataDir), prof.DBUnfinishedCmd, guest.Quote(prof.MySQLService))
}

// pkgSetAsideUnfinished runs pkgSetAsideScript on a DB node whose profile
// can tell an unfinished first set-up, and says what it moved.
func pkgSetAsideUnfinished(ctx context.Context, env *Env, ex guest.Executor, n *lab.Node) error {
	if n.Role != lab.RoleDB || env.Profile.DBUnfinishedCmd == "" {
		return nil
	}
	r, err := dbRun(ctx, env, ex, pkgSetAsideScript(env.Profile), nil)
	if err != nil {
		return fmt.Errorf("set aside the data folder of MySQL's unfinished first set-up: %w", err)
	}
	if aside := strings.TrimSpace(r.Stdout); aside != "" {
		env.Warnf("%s: MySQL's first set-up was cut off half way and left a data folder it cannot start from; moved it to %s (kept) for the package to set up a new one", n.VM, aside)
	}
	return nil
}
