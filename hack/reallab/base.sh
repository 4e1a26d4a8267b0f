#!/bin/bash
# Builds (or reuses) what the real-lab suite boots: a Debian sid base rootfs with
# systemd, sshd and sudo but NO role packages, a signed local package repository
# holding the role packages and their dependencies, and a WordPress tarball.
#
# Everything lands in $REALLAB_CACHE (default /var/cache/labctl-reallab) and is
# rebuilt only when missing or when this recipe changed (its hash is stored).
#
# The Debian mirror is read from the host's apt sources at run time (or from
# $REALLAB_MIRROR); no mirror host name is written in this repository.
#
# Output layout:
#   rootfs/           base root filesystem (root password = root-password)
#   root-password     the base's root password, 0600
#   repo/             package repository: flat ("deb URL ./") and
#                     "deb URL sid main"; signed, key trusted by the base
#   wordpress.tar.gz  WordPress with a top-level wordpress/ directory
#   recipe            hash of the recipe that built the above
set -euo pipefail

CACHE=${REALLAB_CACHE:-/var/cache/labctl-reallab}
SUITE=sid
BASE_INCLUDE=systemd,systemd-sysv,dbus,iproute2,openssh-server,ca-certificates,sudo,iputils-ping,procps,less,gnupg,curl
# Optional base packages: installed when the suite has them (names change across releases).
BASE_OPTIONAL="systemd-networkd"
# Role packages served by the local repository (with every dependency the base lacks).
REPO_PKGS="mysql-server mysql-client keepalived nginx php-fpm php-mysql php-cli php-curl php-gd
php-xml php-mbstring php-intl php-zip curl wget unzip rsync arping netcat-openbsd bind9-dnsutils
openssl tar gzip"

log() { printf '[base %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"
for t in debootstrap apt-ftparchive gpg dpkg-deb sha256sum flock; do
	command -v "$t" >/dev/null || die "missing $t: apt-get install -y debootstrap apt-utils gnupg dpkg-dev util-linux"
done

# read_mirror prints the first Debian archive URL from the host's apt sources
# (deb822 .sources first, then one-line .list), skipping security archives.
read_mirror() {
	if [ -n "${REALLAB_MIRROR:-}" ]; then echo "$REALLAB_MIRROR"; return; fi
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'BEGIN{RS=""; FS="\n"}
		{ uris=""; suites=""; types="";
		  for (i=1;i<=NF;i++) { l=$i; if (l ~ /^#/) continue;
		    if (l ~ /^URIs:/) { sub(/^URIs:[ \t]*/,"",l); uris=l }
		    if (l ~ /^Suites:/) { sub(/^Suites:[ \t]*/,"",l); suites=l }
		    if (l ~ /^Types:/) { types=l } }
		  if (uris != "" && types ~ /deb( |$)/ && suites !~ /security/) { split(uris,u," "); print u[1]; exit } }' "$f"
	done | head -n1 | grep . && return
	grep -hE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -E 's/\[[^]]*\]//' | awk '$3 !~ /security/ {print $2; exit}' | grep . && return
	die "no Debian archive found in the host's apt sources; set REALLAB_MIRROR=URL"
}

# configure_base ROOT PASSWORD_FILE REPO_KEY turns a debootstrapped tree into
# a generic cloud-like image. Idempotent: re-run in place when only this
# function changed (see the two recipe hashes below).
configure_base() {
	local R=$1
	: >"$R/etc/fstab"                     # no /dev/vda line: containers have no block device
	: >"$R/etc/machine-id"                # each clone gets its own at first boot
	rm -f "$R/var/lib/dbus/machine-id"
	echo labctl-base >"$R/etc/hostname"
	# What an installed Debian system has (debootstrap writes none).
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tlabctl-base\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n' >"$R/etc/hosts"
	# systemd-networkd configures the network (labctl detects what runs);
	# nothing waits for "online": the lab network has no DHCP server.
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin systemctl enable systemd-networkd.service >/dev/null 2>&1
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin systemctl disable systemd-networkd-wait-online.service >/dev/null 2>&1 || true
	# Package installs in six machines at once on a small host: no fsync per
	# file (as container images do) and no man-db index rebuilds.
	echo force-unsafe-io >"$R/etc/dpkg/dpkg.cfg.d/labctl-reallab-unsafe-io"
	rm -f "$R/var/lib/man-db/auto-update"
	# No DNS server exists on the lab bridge: names come from /etc/hosts.
	echo '# no DNS server on the lab network' >"$R/etc/resolv.conf"
	# Unattended apt runs would race the lab's own package installs.
	for t in apt-daily apt-daily-upgrade; do
		rm -f "$R/etc/systemd/system/timers.target.wants/$t.timer"
		ln -sf /dev/null "$R/etc/systemd/system/$t.timer"
	done
	rm -f "$R"/etc/ssh/ssh_host_*        # each clone generates its own host keys
	cat >"$R/etc/systemd/system/ssh-hostkeys.service" <<-'EOF'
	[Unit]
	Description=Generate SSH host keys on first boot
	ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
	Before=ssh.service ssh.socket

	[Service]
	Type=oneshot
	ExecStart=/usr/bin/ssh-keygen -A

	[Install]
	WantedBy=multi-user.target
	EOF
	ln -sf /etc/systemd/system/ssh-hostkeys.service "$R/etc/systemd/system/multi-user.target.wants/ssh-hostkeys.service"
	# The lab's package mirror setting replaces the online sources (which the
	# machines cannot reach); its repository is signed with this key.
	cp "$3" "$R/etc/apt/trusted.gpg.d/labctl-reallab.asc"
	chmod 644 "$R/etc/apt/trusted.gpg.d/labctl-reallab.asc"
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin apt-get -q -y clean
	rm -rf "$R"/var/lib/apt/lists/*
	# Root password: random (kept across re-configurations), stored 0600
	# next to the rootfs, passed on stdin.
	if [ ! -s "$2" ]; then
		(umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' | head -c 20 >"$2")
	fi
	{ printf 'root:'; cat "$2"; echo; } | chroot "$R" chpasswd
}

# Two recipes: the fetch (this script minus configure_base; a change
# rebuilds everything) and the configuration (configure_base alone; a change
# re-applies it to the cached rootfs in seconds).
fetch_hash() { sed '/^configure_base() {/,/^}/d' "$0" | sha256sum | cut -c1-16; }
config_hash() { declare -f configure_base | sha256sum | cut -c1-16; }

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

WANT="$(fetch_hash) $(config_hash)"
HAVE=$(cat "$CACHE/recipe" 2>/dev/null || true)
if [ -x "$CACHE/rootfs/sbin/init" ] && [ -s "$CACHE/root-password" ] &&
	[ -f "$CACHE/repo/Packages" ] && [ -s "$CACHE/wordpress.tar.gz" ]; then
	if [ "$HAVE" = "$WANT" ]; then
		log "cache up to date: $CACHE (recipe $WANT)"
		exit 0
	fi
	if [ "${HAVE%% *}" = "${WANT%% *}" ]; then
		log "re-applying the base configuration (recipe $WANT)"
		rm -f "$CACHE/recipe"
		configure_base "$CACHE/rootfs" "$CACHE/root-password" "$CACHE/repo/key.asc"
		echo "$WANT" >"$CACHE/recipe"
		exit 0
	fi
fi

MIRROR=$(read_mirror)
log "building into $CACHE (recipe $WANT); mirror read from host apt sources"
START=$(date +%s)
BUILD="$CACHE/build.tmp"
umount_chroot() {
	local m
	for m in "$BUILD/rootfs/proc" "$BUILD/rootfs/dev/pts" "$BUILD/rootfs/sys"; do
		if mountpoint -q "$m" 2>/dev/null; then umount -l "$m"; fi
	done
}
trap umount_chroot EXIT
umount_chroot
rm -rf "$BUILD"
mkdir -p "$BUILD/repo/pool" "$BUILD/gnupg"
chmod 700 "$BUILD/gnupg"
R="$BUILD/rootfs"

# 1. Repository signing key (fresh per build; the base trusts exactly this key).
export GNUPGHOME="$BUILD/gnupg"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
	--quick-generate-key 'labctl real-lab repository <reallab@labctl.invalid>' ed25519 sign never
gpg --batch --armor --export >"$BUILD/repo/key.asc"

# 2. Base rootfs.
log "debootstrap $SUITE (minbase)"
debootstrap --variant=minbase --include="$BASE_INCLUDE" "$SUITE" "$R" "$MIRROR" >"$BUILD/debootstrap.log" 2>&1 ||
	{ tail -20 "$BUILD/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
log "debootstrap done after $(($(date +%s) - START)) s"

# The archive snapshot can be past its Valid-Until.
echo 'Acquire::Check-Valid-Until "false";' >"$R/etc/apt/apt.conf.d/99novaliduntil"
mount -t proc proc "$R/proc"
in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }
in_root apt-get -q update >"$BUILD/apt-update.log" 2>&1 || { tail "$BUILD/apt-update.log" >&2; die "apt-get update in the base failed"; }

have_pkg() { in_root apt-cache show --no-all-versions "$1" >/dev/null 2>&1; }
extra=()
for p in $BASE_OPTIONAL; do have_pkg "$p" && extra+=("$p"); done
if [ ${#extra[@]} -gt 0 ]; then
	log "base extras: ${extra[*]}"
	in_root apt-get -q -y install --no-install-recommends "${extra[@]}" >"$BUILD/base-extra.log" 2>&1 ||
		{ tail "$BUILD/base-extra.log" >&2; die "installing ${extra[*]} failed"; }
fi

# 3. Role packages: downloaded, never installed in the base.
pkgs=()
for p in $REPO_PKGS; do
	if have_pkg "$p"; then pkgs+=("$p"); else log "not in $SUITE, skipped: $p"; fi
done
log "downloading ${#pkgs[@]} role packages + dependencies"
in_root apt-get -q -y clean
in_root apt-get -q -y install --download-only "${pkgs[@]}" >"$BUILD/download.log" 2>&1 ||
	{ tail "$BUILD/download.log" >&2; die "downloading role packages failed"; }
mv "$R"/var/cache/apt/archives/*.deb "$BUILD/repo/pool/"
# WordPress is served as a tarball, not as a package: fetch it and the JS
# libraries its Debian package links to, then flatten them.
mkdir -p "$BUILD/wp/debs" "$BUILD/wp/root"
# shellcheck disable=SC2016 # expanded by the chroot's shell
in_root sh -c 'mkdir -p /tmp/wp && cd /tmp/wp && apt-get -q download wordpress $(apt-cache depends wordpress | sed -n "s/^ *\(Depends\|Recommends\): \(libjs-[^ ]*\|tinymce\|wordpress-theme-[^ ]*\)$/\2/p" | sort -u)' >"$BUILD/wp-download.log" 2>&1 ||
	{ tail "$BUILD/wp-download.log" >&2; die "downloading wordpress failed"; }
mv "$R"/tmp/wp/*.deb "$BUILD/wp/debs/"
rm -rf "$R/tmp/wp"
umount "$R/proc"

# 4. Base configuration (also re-applied alone when only it changed).
configure_base "$R" "$BUILD/root-password" "$BUILD/repo/key.asc"

# 5. Repository.
log "indexing $(find "$BUILD/repo/pool" -name '*.deb' | wc -l) packages"
(
	cd "$BUILD/repo"
	apt-ftparchive packages pool >Packages
	gzip -9kn Packages
	mkdir -p "dists/$SUITE/main/binary-amd64"
	cp Packages Packages.gz "dists/$SUITE/main/binary-amd64/"
	apt-ftparchive -o APT::FTPArchive::Release::Suite="$SUITE" -o APT::FTPArchive::Release::Codename="$SUITE" \
		-o APT::FTPArchive::Release::Components=main -o APT::FTPArchive::Release::Architectures=amd64 \
		-o APT::FTPArchive::Release::Origin=labctl-reallab release "dists/$SUITE" >"dists/$SUITE/Release.tmp"
	mv "dists/$SUITE/Release.tmp" "dists/$SUITE/Release"
	apt-ftparchive -o APT::FTPArchive::Release::Origin=labctl-reallab release . >Release.tmp
	mv Release.tmp Release
	for rel in Release "dists/$SUITE/Release"; do
		d=$(dirname "$rel")
		gpg --batch --yes --clearsign -o "$d/InRelease" "$rel"
		gpg --batch --yes --armor --detach-sign -o "$d/Release.gpg" "$rel"
	done
)

# 6. WordPress tarball shaped like the upstream release: wordpress/ at the top,
# symlinks into the JS libraries resolved, no Debian-specific config loader.
for d in "$BUILD"/wp/debs/*.deb; do dpkg-deb -x "$d" "$BUILD/wp/root"; done
WPSRC="$BUILD/wp/root/usr/share/wordpress"
[ -f "$WPSRC/wp-settings.php" ] || die "wordpress package has no wp-settings.php"
mkdir -p "$BUILD/wp/out"
# Resolve links that point inside the extracted tree; absolute targets are re-rooted.
(cd "$BUILD/wp/root" && find usr/share/wordpress -type l) | while read -r l; do
	t=$(readlink "$BUILD/wp/root/$l")
	case "$t" in /*) t="$BUILD/wp/root$t" ;; *) t="$(dirname "$BUILD/wp/root/$l")/$t" ;; esac
	rm -f "$BUILD/wp/root/$l"
	if [ -e "$t" ]; then cp -a --dereference "$t" "$BUILD/wp/root/$l" || log "wordpress: could not resolve $l"; fi
done
cp -a "$WPSRC" "$BUILD/wp/out/wordpress"
rm -f "$BUILD/wp/out/wordpress/wp-config.php"
if [ ! -f "$BUILD/wp/out/wordpress/wp-config-sample.php" ]; then
	s=$(find "$BUILD/wp/root/usr/share/doc/wordpress" -name 'wp-config-sample.php*' | head -n1)
	case "$s" in
	*.gz) gzip -dc "$s" >"$BUILD/wp/out/wordpress/wp-config-sample.php" ;;
	?*) cp "$s" "$BUILD/wp/out/wordpress/wp-config-sample.php" ;;
	esac
fi
[ -d "$BUILD/wp/out/wordpress/wp-content" ] || cp -a "$BUILD/wp/root/var/lib/wordpress/wp-content" "$BUILD/wp/out/wordpress/" 2>/dev/null || true
mkdir -p "$BUILD/wp/out/wordpress/wp-content/themes" "$BUILD/wp/out/wordpress/wp-content/plugins"
tar -C "$BUILD/wp/out" -czf "$BUILD/wordpress.tar.gz" --owner=0 --group=0 wordpress
rm -rf "$BUILD/wp"

# 7. Swap in atomically-ish: old artefacts out, new ones in, recipe last.
rm -f "$CACHE/recipe"
rm -rf "$CACHE/rootfs" "$CACHE/repo" "$CACHE/gnupg"
mv "$BUILD/rootfs" "$BUILD/repo" "$BUILD/gnupg" "$BUILD/root-password" "$BUILD/wordpress.tar.gz" "$CACHE/"
mkdir -p "$CACHE/logs"
mv "$BUILD"/*.log "$CACHE/logs/"
rm -rf "$BUILD"
echo "$WANT" >"$CACHE/recipe"
log "built in $(($(date +%s) - START)) s: rootfs $(du -sh "$CACHE/rootfs" | cut -f1), repo $(du -sh "$CACHE/repo" | cut -f1)"
