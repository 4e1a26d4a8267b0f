package guest

// Profile is what labctl must know about a guest OS family. Steps read
// paths, package and service names from here instead of hard-coding one
// distribution.
type Profile struct {
	Name string // "el8", "el9", "debian"

	// Package management.
	InstallCmd   string // e.g. "dnf -y install", "DEBIAN_FRONTEND=noninteractive apt-get -y install"
	RefreshCmd   string // refresh metadata: "dnf -y makecache", "apt-get update"
	PackageQuery string // prints nothing and exits 0 when all named packages are installed, e.g. "rpm -q"
	ModuleSetup  string // el8: "dnf -y module reset php && dnf -y module enable php:7.4"; "" elsewhere
	// AuditCmd prints something, and only then, when an earlier package
	// transaction was left half done: "dpkg --audit"; on el, `dnf check`
	// (the duplicates and broken dependencies a killed rpm transaction
	// leaves).
	AuditCmd string
	// RepairCmd finishes or clears a package transaction an earlier run
	// left half done (a killed install, a package script that failed):
	// "dpkg --configure -a"; on el "dnf remove --duplicates" (the older of
	// two versions a killed upgrade left installed; the install that
	// follows brings what is missing).
	RepairCmd string
	// DBUnfinishedCmd prints something, and only then, when the MySQL
	// server package has never finished its first configuration (Debian:
	// dpkg's status half-configured or unpacked, no version configured
	// before). Debian's package initialises the data folder there; a
	// machine powered off or a dpkg killed half way through leaves a folder
	// no later configure can start from, so RepairCmd fails on it for
	// ever. "" where the package initialises nothing (el: mysqld's first
	// start does).
	DBUnfinishedCmd string
	MirrorConfPath  string // where a classroom mirror's repo file goes

	// Packages and services per role.
	DBPackages  []string
	KAPackages  []string // keepalived (+ mysql client for its check)
	WebPackages []string
	LBPackages  []string

	MySQLService      string // "mysqld" (el) / "mysql" (debian)
	PHPFPMService     string // "php-fpm" / "php8.4-fpm"
	NginxService      string
	KeepalivedService string
	SSHService        string // "sshd" / "ssh"

	// Paths.
	MySQLConfDir   string // "/etc/my.cnf.d" / "/etc/mysql/mysql.conf.d"
	MySQLDataDir   string // "/var/lib/mysql"
	MySQLSocket    string
	NginxConfDir   string // "/etc/nginx/conf.d"
	NginxUser      string // "nginx" / "www-data"
	PHPFPMPoolDir  string // "/etc/php-fpm.d" / "/etc/php/8.4/fpm/pool.d"
	PHPFPMSocket   string // "/run/php-fpm/www.sock" / "/run/php/php8.4-fpm.sock"
	WebRoot        string // "/usr/share/nginx/wordpress" / "/var/www/wordpress"
	KeepalivedConf string // "/etc/keepalived/keepalived.conf"

	// Security layers present on this OS.
	Firewalld bool
	SELinux   bool

	// Network: "nmcli" where NetworkManager runs, "networkd" for systemd-networkd,
	// "ifupdown" for /etc/network/interfaces.
	NetworkMethod string

	// What a fresh clone of this OS answers to the reads whose answer steers
	// a step (a plan's recorder gives these answers; `up` reads the guest).
	FreshNIC   string // nic1's name: VirtualBox's 82540EM in PCI slot 3 under predictable naming
	FreshSuite string // the apt suite the base uses ("" without apt)
	FreshPHP   string // the installed php-fpm service where PHPFPMService is a glob
}
