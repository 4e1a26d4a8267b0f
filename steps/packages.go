package steps

// Step "packages" (every node): each role's packages from the profile.
//
//  1. With a classroom mirror (plan.PackageMirror): its repository file,
//     and the online sources switched off so nothing waits on the internet.
//  2. Refresh package metadata.
//  3. Web nodes on EL8: the PHP module stream WordPress needs, before PHP
//     is installed (the default stream is too old).
//  4. Install: DB nodes MySQL server + keepalived (+ mysql client), web nodes
//     nginx + php-fpm, the load balancer nginx.
//  5. DB nodes: the group_replication plugin must be in MySQL's plugin folder.
//
// Reads: plan (roles, mirror), profile (commands, package names).
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
	// 1. Classroom mirror.
	if env.Plan.PackageMirror != "" {
		if err := pkgUseMirror(ctx, env, ex); err != nil {
			return fmt.Errorf("package mirror: %w", err)
		}
	}
	// 2-4. Refresh, PHP stream on web nodes, install.
	script := "set -eu\n" + prof.RefreshCmd + "\n"
	if n.Role == lab.RoleWeb && prof.ModuleSetup != "" {
		script += prof.ModuleSetup + "\n"
	}
	script += prof.InstallCmd + " " + pkgQuoted(pkgList(prof, n)) + "\n"
	if _, err := dbRun(ctx, env, ex, script, nil); err != nil {
		return fmt.Errorf("install packages: %w", err)
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
	suite := ""
	var disableOthers string
	switch {
	case strings.HasPrefix(prof.Name, "el"):
		// Other repositories off: an unreachable enabled repository makes every dnf call fail.
		disableOthers = fmt.Sprintf(`for f in /etc/yum.repos.d/*.repo; do
	[ "$f" = %s ] || sed -i 's/^enabled[[:space:]]*=[[:space:]]*1/enabled=0/' "$f"
done
`, guest.Quote(prof.MirrorConfPath))
	case prof.Name == "debian":
		var err error
		if suite, err = pkgDebianSuite(ctx, env, ex); err != nil {
			return err
		}
		// Keep the old sources, renamed, for the instructor to restore.
		disableOthers = fmt.Sprintf(`for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	if [ -f "$f" ] && [ "$f" != %s ]; then mv -f "$f" "$f.labctl-disabled"; fi
done
`, guest.Quote(prof.MirrorConfPath))
	}
	f, err := prof.MirrorConfig(env.Plan.PackageMirror, suite)
	if err != nil {
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
