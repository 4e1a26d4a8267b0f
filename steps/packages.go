package steps

// Step "packages" (every node): each role's packages from the profile.
//
//  0. A package manager an earlier run left working is waited for (bounded,
//     with a warning), a transaction it left half done finished; on a DB
//     node, MySQL's data folder from a first set-up cut off half way is
//     set aside first (packages_settle.go).
//  1. With a classroom mirror (plan.PackageMirror): the guest first fetches
//     the mirror's repository metadata (repomd.xml, or Debian's Release),
//     so a mirror without the expected release is named before anything
//     changes; then its repository file (the release folder from
//     plan.PackageRelease, else the guest's own), and the online sources
//     switched off so nothing waits on the internet.
//  2. Refresh package metadata.
//  3. Web nodes on EL8: the PHP module stream WordPress needs, before PHP
//     is installed (the default stream is too old).
//  4. Install: DB nodes MySQL server + keepalived (+ mysql client), web nodes
//     nginx + php-fpm, the load balancer nginx.
//  5. DB nodes: the group_replication plugin must be in MySQL's plugin folder.
//
// Reads: plan (roles, mirror, release), profile (commands, package names).
// Writes: installed packages; the mirror's repository file.

import (
	"context"
	"fmt"
	"strings"

	"labctl/guest"
	"labctl/lab"
)

// Packages returns the "packages" step.
func Packages() Step { return packagesStep{} }

type packagesStep struct{}

func (packagesStep) Name() string                  { return "packages" }
func (packagesStep) Needs() []string               { return []string{"wait-ssh"} }
func (packagesStep) Title() string                 { return "Installing packages" }
func (packagesStep) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }

// pkgFindPlugin prints the path of group_replication.so; the plugin folder
// differs per distribution (lib64 on EL, lib on Debian).
const pkgFindPlugin = `find /usr/lib64 /usr/lib -path '*/mysql/plugin/group_replication.so' 2>/dev/null | head -n 1`

// pkgFreshPlugin is where a fresh install of the profile's MySQL server
// puts group_replication.so (what pkgFindPlugin prints there).
func pkgFreshPlugin(prof *guest.Profile) string {
	if strings.HasPrefix(prof.Name, "el") {
		return "/usr/lib64/mysql/plugin/group_replication.so\n"
	}
	return "/usr/lib/mysql/plugin/group_replication.so\n"
}

// pkgList is the packages a node's role needs, in profile order, without duplicates.
func pkgList(prof *guest.Profile, n *lab.Node) []string {
	var lists [][]string
	switch n.Role {
	case lab.RoleDB:
		lists = [][]string{prof.DBPackages, prof.KAPackages}
	case lab.RoleWeb:
		lists = [][]string{prof.WebPackages}
	case lab.RoleLB:
		lists = [][]string{prof.LBPackages}
	}
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, p := range l {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

func pkgQuoted(pkgs []string) string {
	q := make([]string, len(pkgs))
	for i, p := range pkgs {
		q[i] = guest.Quote(p)
	}
	return strings.Join(q, " ")
}

func (packagesStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	pkgs := pkgList(env.Profile, n)
	if len(pkgs) == 0 {
		return Status{}, fmt.Errorf("profile %s lists no packages for role %s", env.Profile.Name, n.Role)
	}
	ex := env.SSH(n)
	r, err := dbRun(ctx, env, ex, pkgMissingScript(env.Profile, pkgs), nil)
	if err != nil {
		return Status{}, fmt.Errorf("query installed packages: %w", err)
	}
	if missing := strings.Fields(r.Stdout); len(missing) > 0 {
		return Status{Why: "not installed: " + strings.Join(missing, " ")}, nil
	}
	if n.Role == lab.RoleDB {
		if r, err := dbRun(ctx, env, ex, pkgFindPlugin, nil); err != nil || strings.TrimSpace(r.Stdout) == "" {
			return Status{Why: "group_replication.so not found in MySQL's plugin folder"}, err
		}
	}
	return Status{Done: true}, nil
}

// pkgMissingScript prints the packages that are not installed, one per
// line. The profile's query prints nothing (rpm --quiet) or "installed"
// (dpkg-query's status) for an installed package; dpkg-query exits 0 for
// a removed one too, printing another status.
func pkgMissingScript(prof *guest.Profile, pkgs []string) string {
	return fmt.Sprintf(`set -- %s
for p in "$@"; do
	if ! st=$(%s "$p" 2>/dev/null); then
		echo "$p"
		continue
	fi
	case "$st" in
	"" | installed) ;;
	*) echo "$p" ;;
	esac
done
`, pkgQuoted(pkgs), prof.PackageQuery)
}

func (packagesStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	prof := env.Profile
	ex := env.SSH(n)
	// 0. Nothing else working on the packages, nothing half done.
	if err := pkgSettle(ctx, env, ex, n); err != nil {
		return err
	}
	// 1. Classroom mirror.
	if env.Plan.PackageMirror != "" {
		if err := pkgUseMirror(ctx, env, ex); err != nil {
			return fmt.Errorf("package mirror: %w", err)
		}
	}
	// 2-3. Refresh, PHP stream on web nodes.
	script := "set -eu\n" + prof.RefreshCmd + "\n"
	if n.Role == lab.RoleWeb && prof.ModuleSetup != "" {
		script += prof.ModuleSetup + "\n"
	}
	if _, err := dbRun(ctx, env, ex, script, nil); err != nil {
		return fmt.Errorf("refresh the package lists: %w", err)
	}
	// 4. Install. A transaction left half done (an earlier run killed during
	//    the install, or a package script that failed, e.g. a server slow to
	//    start on a loaded host) is finished and the install tried once more.
	install := "set -eu\n" + prof.InstallCmd + " " + pkgQuoted(pkgList(prof, n)) + "\n"
	if _, err := dbRun(ctx, env, ex, install, nil); err != nil {
		if prof.RepairCmd == "" {
			return fmt.Errorf("install packages: %w", err)
		}
		env.Warnf("%s: the package install failed (%v); finishing the interrupted transaction and trying once more", n.VM, firstErrLine(err))
		if rerr := pkgRepair(ctx, env, ex, n); rerr != nil {
			return fmt.Errorf("install packages: %w; then finishing the transaction: %w", err, rerr)
		}
		if _, err := dbRun(ctx, env, ex, install, nil); err != nil {
			return fmt.Errorf("install packages (after finishing the interrupted transaction): %w", err)
		}
	}
	// 5. Group replication needs its plugin; fail here rather than at the first START.
	if n.Role == lab.RoleDB {
		r, err := dbRead(ctx, env, ex, pkgFindPlugin, pkgFreshPlugin(prof))
		if err != nil {
			return fmt.Errorf("look for group_replication.so: %w", err)
		}
		if strings.TrimSpace(r.Stdout) == "" {
			return fmt.Errorf("the installed MySQL server has no group_replication.so plugin; this profile's %s package cannot do group replication",
				strings.Join(prof.DBPackages, "/"))
		}
	}
	return nil
}

// pkgUseMirror points the package manager at the classroom mirror only.
func pkgUseMirror(ctx context.Context, env *Env, ex guest.Executor) error {
	prof := env.Profile
	release := env.Plan.PackageRelease
	var disableOthers string
	switch {
	case strings.HasPrefix(prof.Name, "el"):
		// Other repositories off: an unreachable enabled repository makes every dnf call fail.
		disableOthers = fmt.Sprintf(`for f in /etc/yum.repos.d/*.repo; do
	[ "$f" = %s ] || sed -i 's/^enabled[[:space:]]*=[[:space:]]*1/enabled=0/' "$f"
done
`, guest.Quote(prof.MirrorConfPath))
	case prof.Name == "debian":
		if release == "" {
			var err error
			if release, err = pkgDebianSuite(ctx, env, ex); err != nil {
				return err
			}
		}
		// Keep the old sources, renamed, for the instructor to restore.
		disableOthers = fmt.Sprintf(`for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	if [ -f "$f" ] && [ "$f" != %s ]; then mv -f "$f" "$f.labctl-disabled"; fi
done
`, guest.Quote(prof.MirrorConfPath))
	}
	f, err := prof.MirrorConfig(env.Plan.PackageMirror, release)
	if err != nil {
		return err
	}
	if err := pkgCheckMirror(ctx, env, ex, release); err != nil {
		return err
	}
	if _, err := ex.Upload(ctx, f); err != nil {
		return fmt.Errorf("write %s: %w", f.Path, err)
	}
	if disableOthers != "" {
		if _, err := dbRun(ctx, env, ex, "set -eu\n"+disableOthers, nil); err != nil {
			return fmt.Errorf("disable the online sources: %w", err)
		}
	}
	return nil
}

// pkgDebianSuite reads the suite the guest already uses (sid, bookworm, ...)
// from its apt sources, one-line or deb822 format.
func pkgDebianSuite(ctx context.Context, env *Env, ex guest.Executor) (string, error) {
	r, err := dbRead(ctx, env, ex, `{
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $(i + 1); exit } }'
	cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '$1 == "Suites:" { print $2; exit }'
	sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null
	for f in /etc/apt/sources.list.labctl-disabled /etc/apt/sources.list.d/*.labctl-disabled; do
		[ -f "$f" ] && awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $(i + 1); exit } } $1 == "Suites:" { print $2; exit }' "$f"
	done
} | head -n 1`, env.Profile.FreshSuite+"\n")
	if err != nil {
		return "", fmt.Errorf("read the apt suite: %w", err)
	}
	suite := strings.TrimSpace(r.Stdout)
	if suite == "" || strings.ContainsAny(suite, " \t'\"$") {
		return "", fmt.Errorf("cannot tell which Debian suite the guest uses (apt sources hold %q)", suite)
	}
	return suite, nil
}

// pkgMirrorCheckMark starts the mirror check script (fakes recognise it).
const pkgMirrorCheckMark = "# labctl: does the package mirror serve this release?\n"

// pkgCheckMirror fetches the mirror's repository metadata from the guest
// (which is what must reach it) and fails naming every URL tried when a
// repository has none. Without curl, wget or apt-helper it cannot tell and
// leaves it to the package manager.
func pkgCheckMirror(ctx context.Context, env *Env, ex guest.Executor, release string) error {
	groups := env.Profile.MirrorMetadata(env.Plan.PackageMirror, release)
	if len(groups) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(pkgMirrorCheckMark + "set -u\n")
	all := fmt.Sprint(groups)
	if strings.Contains(all, "$releasever") {
		// dnf's $releasever on EL is the major version.
		b.WriteString(`releasever=$(sed -n 's/^VERSION_ID="\{0,1\}\([0-9]*\).*/\1/p' /etc/os-release)` + "\n")
	}
	if strings.Contains(all, "$basearch") {
		b.WriteString("basearch=$(uname -m)\n")
	}
	b.WriteString(`fetch() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsL -o /dev/null --max-time 30 "$1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O /dev/null -T 30 "$1"
	elif [ -x /usr/lib/apt/apt-helper ]; then
		/usr/lib/apt/apt-helper download-file "$1" /tmp/labctl-mirror-check >/dev/null 2>&1
		st=$?
		rm -f /tmp/labctl-mirror-check
		return $st
	else
		echo "unchecked: no curl, wget or apt-helper"
		exit 0
	fi
}
# Prints the URLs tried for a repository none of whose metadata exists.
check() {
	for u in "$@"; do
		if fetch "$u"; then return 0; fi
	done
	echo "missing: $*"
}
`)
	for _, g := range groups {
		b.WriteString("check")
		for _, u := range g {
			b.WriteString(" " + pkgShellURL(u))
		}
		b.WriteString("\n")
	}
	r, err := dbRun(ctx, env, ex, b.String(), nil)
	if err != nil {
		return fmt.Errorf("check the mirror's repository metadata: %w", err)
	}
	var missing []string
	for _, line := range strings.Split(r.Stdout, "\n") {
		switch {
		case strings.HasPrefix(line, "missing: "):
			missing = append(missing, strings.TrimPrefix(line, "missing: "))
		case strings.HasPrefix(line, "unchecked: "):
			env.Warnf("%s: the package mirror's metadata was not checked (%s)", ex, strings.TrimPrefix(line, "unchecked: "))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	what, fix := "repodata/repomd.xml", "set [packages] release to the release folder the mirror serves (e.g. \"8.4\"), or fix mirror"
	if env.Profile.Name == "debian" {
		what, fix = "Release or InRelease", "set [packages] release to the suite the mirror serves, or fix mirror"
	}
	return fmt.Errorf("the package mirror has no %s for this release; tried %s; %s (nothing was installed)",
		what, strings.Join(missing, ", "), fix)
}

// pkgShellURL quotes u for the shell, leaving $releasever and $basearch to expand.
func pkgShellURL(u string) string {
	var out strings.Builder
	for u != "" {
		i := strings.IndexByte(u, '$')
		var lit string
		switch {
		case i < 0:
			lit, u = u, ""
		case strings.HasPrefix(u[i:], "$releasever"), strings.HasPrefix(u[i:], "$basearch"):
			v := "$releasever"
			if strings.HasPrefix(u[i:], "$basearch") {
				v = "$basearch"
			}
			lit = u[:i]
			if lit != "" {
				out.WriteString(guest.Quote(lit))
			}
			out.WriteString(`"` + v + `"`)
			u = u[i+len(v):]
			continue
		default:
			lit, u = u[:i+1], u[i+1:]
		}
		out.WriteString(guest.Quote(lit))
	}
	return out.String()
}

// firstErrLine is an error's first line, for a one-line warning.
func firstErrLine(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}
