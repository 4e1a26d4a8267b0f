package guest

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// EL8 is AlmaLinux/Rocky/RHEL 8, the lab's base image and the default.
var EL8 = &Profile{
	Name:         "el8",
	InstallCmd:   "dnf -y install",
	RefreshCmd:   "dnf -y makecache",
	PackageQuery: "rpm -q --quiet",
	AuditCmd:     "dnf -q check --duplicates --dependencies",
	RepairCmd:    "dnf -y remove --duplicates",
	// WordPress needs PHP >= 7.4; el8's default php stream is 7.2. Take the
	// newest stream the repos offer: 8.2 (AppStream since 8.9, supported
	// to 2027) on current repos, else 8.0, else 7.4 (both past their
	// AppStream end of life, kept for frozen classroom mirrors).
	ModuleSetup: "dnf -y module reset php && " +
		"{ dnf -y module enable php:8.2 || dnf -y module enable php:8.0 || dnf -y module enable php:7.4; }",
	MirrorConfPath: "/etc/yum.repos.d/labctl-mirror.repo",

	// mysql-server is AppStream's default mysql:8.0 stream (group_replication.so
	// included); semanage for the XCom port label comes with policycoreutils-python-utils.
	DBPackages:  []string{"mysql-server", "policycoreutils-python-utils"},
	KAPackages:  []string{"keepalived", "mysql"},
	WebPackages: []string{"nginx", "php-fpm", "php-cli", "php-mysqlnd", "php-json", "php-gd", "php-mbstring", "php-xml", "php-intl", "php-opcache", "policycoreutils-python-utils"},
	LBPackages:  []string{"nginx", "curl", "policycoreutils-python-utils"},

	MySQLService:      "mysqld",
	PHPFPMService:     "php-fpm",
	NginxService:      "nginx",
	KeepalivedService: "keepalived",
	SSHService:        "sshd",

	MySQLConfDir:   "/etc/my.cnf.d",
	MySQLDataDir:   "/var/lib/mysql",
	MySQLSocket:    "/var/lib/mysql/mysql.sock",
	NginxConfDir:   "/etc/nginx/conf.d",
	NginxUser:      "nginx",
	PHPFPMPoolDir:  "/etc/php-fpm.d",
	PHPFPMSocket:   "/run/php-fpm/www.sock",
	WebRoot:        "/usr/share/nginx/wordpress",
	KeepalivedConf: "/etc/keepalived/keepalived.conf",

	Firewalld:     true,
	SELinux:       true,
	NetworkMethod: "nmcli",

	FreshNIC: "enp0s3",
}

// EL9 is AlmaLinux/Rocky/RHEL 9: like el8, but PHP 8.0 is the
// non-modular default (8.2 taken when its module stream is offered) and
// mysql-server 8.0 is a plain AppStream package.
var EL9 = func() *Profile {
	p := *EL8
	p.Name = "el9"
	p.ModuleSetup = "dnf -y module reset php && { dnf -y module enable php:8.2 || true; }"
	p.WebPackages = []string{"nginx", "php-fpm", "php-cli", "php-mysqlnd", "php-gd", "php-mbstring", "php-xml", "php-intl", "php-opcache", "policycoreutils-python-utils"}
	return &p
}()

// Debian is Debian 12+ and Ubuntu 22.04+. MySQL (not MariaDB) is required
// for group replication: Ubuntu ships mysql-server 8.0, but Debian
// stable only has MariaDB behind default-mysql-server — Debian needs
// MySQL's own APT repository (or sid's mysql-server) via the mirror.
//
// The PHP version differs per release (8.1, 8.2, 8.3, 8.4...), so nothing
// here names it: the socket is Debian's version-free alternative
// /run/php/php-fpm.sock, and PHPFPMService / PHPFPMPoolDir are shell
// globs that scripts resolve with PHPFPMDiscover.
var Debian = &Profile{
	Name: "debian",
	// The lock timeout makes apt wait (bounded) for a package manager an
	// earlier, interrupted run left working, instead of failing at once.
	InstallCmd:     "DEBIAN_FRONTEND=noninteractive apt-get -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confold install",
	RefreshCmd:     "apt-get -o DPkg::Lock::Timeout=300 update",
	AuditCmd:       "dpkg --audit",
	RepairCmd:      "DEBIAN_FRONTEND=noninteractive dpkg --force-confold --configure -a",
	PackageQuery:   "dpkg-query -W -f='${db:Status-Status}\\n'",
	ModuleSetup:    "",
	MirrorConfPath: "/etc/apt/sources.list.d/labctl.list",
	// Config-Version is the version last configured: empty until a first
	// configure finished.
	DBUnfinishedCmd: `dpkg-query -W -f='${db:Status-Status} ${Config-Version}\n' mysql-server 2>/dev/null | awk '($1 == "half-configured" || $1 == "unpacked") && NF == 1'`,

	DBPackages:  []string{"mysql-server"},
	KAPackages:  []string{"keepalived", "mysql-client"},
	WebPackages: []string{"nginx", "php-fpm", "php-cli", "php-mysql", "php-gd", "php-mbstring", "php-xml", "php-intl", "php-curl"},
	LBPackages:  []string{"nginx", "curl"}, // curl: verify requests WordPress from the LB itself

	MySQLService:      "mysql",
	PHPFPMService:     "php*-fpm",
	NginxService:      "nginx",
	KeepalivedService: "keepalived",
	SSHService:        "ssh",

	MySQLConfDir:   "/etc/mysql/mysql.conf.d",
	MySQLDataDir:   "/var/lib/mysql",
	MySQLSocket:    "/run/mysqld/mysqld.sock",
	NginxConfDir:   "/etc/nginx/conf.d",
	NginxUser:      "www-data",
	PHPFPMPoolDir:  "/etc/php/*/fpm/pool.d",
	PHPFPMSocket:   "/run/php/php-fpm.sock",
	WebRoot:        "/var/www/wordpress",
	KeepalivedConf: "/etc/keepalived/keepalived.conf",

	Firewalld: false,
	SELinux:   false,
	// "detect": the network script picks NetworkManager, systemd-networkd
	// (Ubuntu's netplan renders to it) or ifupdown by what is running.
	NetworkMethod: "detect",

	FreshNIC:   "enp0s3",
	FreshSuite: "bookworm",   // Debian 12
	FreshPHP:   "php8.2-fpm", // bookworm's PHP
}

var profiles = map[string]*Profile{"el8": EL8, "el9": EL9, "debian": Debian}

// ProfileByName returns the named profile ("" = el8).
func ProfileByName(name string) (*Profile, error) {
	if name == "" {
		return EL8, nil
	}
	if p, ok := profiles[strings.ToLower(name)]; ok {
		return p, nil
	}
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return nil, fmt.Errorf("unknown guest profile %q: set profile in lab.toml to one of %s", name, strings.Join(names, ", "))
}

// PHPFPMDiscover returns shell lines that set PHP_FPM_SERVICE and
// PHP_FPM_POOL_DIR for the installed PHP, failing clearly when php-fpm is
// not installed. On el they are constants; on Debian the newest installed
// version wins (sort -V), so 8.2 and 8.4 need no code change.
func (p *Profile) PHPFPMDiscover() string {
	if !strings.Contains(p.PHPFPMPoolDir, "*") {
		return fmt.Sprintf("PHP_FPM_SERVICE=%s\nPHP_FPM_POOL_DIR=%s\n", Quote(p.PHPFPMService), Quote(p.PHPFPMPoolDir))
	}
	return fmt.Sprintf(`PHP_FPM_POOL_DIR=$(for d in %s; do if [ -d "$d" ]; then echo "$d"; fi; done | sort -V | tail -n 1)
if [ -z "$PHP_FPM_POOL_DIR" ]; then
	echo "php-fpm is not installed (no %s)" >&2
	exit 1
fi
PHP_FPM_VERSION=${PHP_FPM_POOL_DIR%%/fpm/pool.d}
PHP_FPM_VERSION=${PHP_FPM_VERSION##*/}
PHP_FPM_SERVICE=php$PHP_FPM_VERSION-fpm
`, p.PHPFPMPoolDir, p.PHPFPMPoolDir)
}

// MirrorConfig is the package-source file pointing this OS at a classroom
// mirror. release is the folder the mirror serves the release under on el
// ("8.4" for a vault copy; empty lets dnf expand $releasever, "8"), and the
// suite codename on Debian/Ubuntu (required).
//
// Signatures stay checked: a mirror is a copy of signed repositories.
// Debian's [trusted=yes] is added only for plain-http URLs whose host is a
// loopback or private IP literal — a teacher's unsigned local repository
// on the classroom LAN; any other URL must serve signed metadata.
func (p *Profile) MirrorConfig(mirrorURL, release string) (File, error) {
	u, err := url.Parse(mirrorURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return File{}, fmt.Errorf("package mirror %q: want an http:// or https:// URL", mirrorURL)
	}
	base := strings.TrimRight(mirrorURL, "/")
	suite := release
	switch p.Name {
	case "el8", "el9":
		if release != "" && !elReleaseRe.MatchString(release) {
			return File{}, fmt.Errorf("package mirror: release %q is not a release folder such as 8.4", release)
		}
		var b strings.Builder
		b.WriteString("# Written by labctl: the lab's package mirror.\n")
		for _, repo := range []string{"BaseOS", "AppStream"} {
			fmt.Fprintf(&b, "[labctl-%s]\nname=labctl mirror %s\nbaseurl=%s/\n"+
				"enabled=1\ngpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux\n\n",
				strings.ToLower(repo), repo, p.elRepoURL(base, release, repo))
		}
		return File{Path: p.MirrorConfPath, Content: []byte(b.String()), Mode: 0o644}, nil
	case "debian":
		if suite == "" || strings.ContainsAny(suite, " \t\n/") {
			return File{}, fmt.Errorf("package mirror: Debian suite %q is not a release codename", suite)
		}
		opts := ""
		if u.Scheme == "http" {
			if a, err := netip.ParseAddr(u.Hostname()); err == nil && (a.IsLoopback() || a.IsPrivate()) {
				opts = "[trusted=yes] "
			}
		}
		content := fmt.Sprintf("# Written by labctl: the lab's package mirror.\ndeb %s%s %s main\n", opts, base, suite)
		return File{Path: p.MirrorConfPath, Content: []byte(content), Mode: 0o644}, nil
	}
	return File{}, fmt.Errorf("profile %s: no mirror format", p.Name)
}

var elReleaseRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// elRepoURL is one repository's folder on an el mirror; dnf (or the mirror
// check) expands $releasever and $basearch.
func (p *Profile) elRepoURL(base, release, repo string) string {
	if release == "" {
		release = "$releasever"
	}
	return fmt.Sprintf("%s/%s/%s/$basearch/os", base, release, repo)
}

// MirrorMetadata lists the metadata a mirror must serve for this OS, one
// entry per repository, each the URLs of which one must exist (Debian signs
// either InRelease or Release). release is as for MirrorConfig. el URLs keep
// $releasever and $basearch for the guest to expand.
func (p *Profile) MirrorMetadata(mirrorURL, release string) [][]string {
	base := strings.TrimRight(mirrorURL, "/")
	switch p.Name {
	case "el8", "el9":
		var out [][]string
		for _, repo := range []string{"BaseOS", "AppStream"} {
			out = append(out, []string{p.elRepoURL(base, release, repo) + "/repodata/repomd.xml"})
		}
		return out
	case "debian":
		return [][]string{{base + "/dists/" + release + "/InRelease", base + "/dists/" + release + "/Release"}}
	}
	return nil
}
