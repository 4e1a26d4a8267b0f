#!/bin/bash
# Builds (or reuses) the Debian bullseye roots that stand in for what
# AlmaLinux 8 runs: bullseye carries EL8's keepalived (2.1.5), the PHP stream
# labctl picks on EL8 (7.4) and an EL8 nginx stream (1.18).
#
#   sudo hack/checkers/bullseye.sh        # prints the cache folder when ready
#
# Output, in $LABCTL_CHECKERS_CACHE/bullseye (default
# /var/cache/labctl-checkers/bullseye), rebuilt only when missing or when this
# recipe changed (its hash is stored in recipe):
#   base/    minbase + systemd, sshd, sudo: no role packages. The real-lab
#            suite's PHP 7.4 variant boots its web machines from a copy.
#   root/    base + the checkers (keepalived, nginx, php7.4-cli/-fpm,
#            firewalld's python reader): the steps tests chroot into it.
#   pool/    the web role's packages with every dependency base lacks, for
#            the real-lab suite's package repository.
#   versions what root's checkers report (keepalived, nginx, php, firewalld)
#
# The Debian mirror is read from the host's apt sources (or
# $LABCTL_CHECKERS_MIRROR); no mirror host name is written in this repository.
# Needs root and debootstrap.
set -euo pipefail
cd "$(dirname "$0")/../.."

SUITE=bullseye
CACHE=${LABCTL_CHECKERS_CACHE:-/var/cache/labctl-checkers}/$SUITE
# Same as the real-lab base, so a web machine boots like the others.
BASE_INCLUDE=systemd,systemd-sysv,dbus,iproute2,openssh-server,ca-certificates,sudo,iputils-ping,procps,less,gnupg,curl
# netbase: /etc/protocols, which firewalld's reader checks protocol names
# against (EL8 always has it).
CHECKERS=(keepalived nginx-core php7.4-cli php7.4-fpm python3-firewall netbase)
# What labctl's debian profile installs on a web node (guest.Debian.WebPackages).
WEB_PKGS=(nginx php-fpm php-cli php-mysql php-gd php-mbstring php-xml php-intl php-curl)

log() { printf '[bullseye %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die "missing debootstrap: apt-get install -y debootstrap"

# One mirror lookup for the whole project: the real-lab base's.
REALLAB_MIRROR=${LABCTL_CHECKERS_MIRROR:-${REALLAB_MIRROR:-}}
eval "$(sed -n '/^read_mirror() {/,/^}/p' hack/reallab/base.sh)"

WANT=$(sha256sum <"$0" | cut -c1-16)
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [ "$(cat "$CACHE/recipe" 2>/dev/null)" = "$WANT" ] && [ -x "$CACHE/root/usr/sbin/keepalived" ] &&
	[ -x "$CACHE/base/sbin/init" ] && [ -s "$CACHE/pool/Packages" ]; then
	log "cache up to date: $CACHE (recipe $WANT)"
	echo "$CACHE"
	exit 0
fi

MIRROR=$(read_mirror)
log "building into $CACHE (recipe $WANT); mirror read from host apt sources"
START=$(date +%s)
BUILD="$CACHE/build.tmp"
umount_all() {
	local m
	for m in "$BUILD/base/proc" "$BUILD/root/proc"; do
		if mountpoint -q "$m" 2>/dev/null; then umount -l "$m"; fi
	done
}
trap umount_all EXIT
umount_all
rm -rf "$BUILD"
mkdir -p "$BUILD/pool"

debootstrap --variant=minbase --include="$BASE_INCLUDE" "$SUITE" "$BUILD/base" "$MIRROR" >"$BUILD/debootstrap.log" 2>&1 ||
	{ tail -20 "$BUILD/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
log "debootstrap done after $(($(date +%s) - START)) s"
echo 'Acquire::Check-Valid-Until "false";' >"$BUILD/base/etc/apt/apt.conf.d/99novaliduntil"
# No daemon starts inside a chroot.
printf '#!/bin/sh\nexit 101\n' >"$BUILD/base/usr/sbin/policy-rc.d"
chmod 0755 "$BUILD/base/usr/sbin/policy-rc.d"

in_root() {
	local r=$1
	shift
	chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
}
mount -t proc proc "$BUILD/base/proc"
in_root "$BUILD/base" apt-get -q update >"$BUILD/apt-update.log" 2>&1 || { tail "$BUILD/apt-update.log" >&2; die "apt-get update failed"; }
# The web role's packages: downloaded, never installed in base.
in_root "$BUILD/base" apt-get -q -y clean
in_root "$BUILD/base" apt-get -q -y install --download-only "${WEB_PKGS[@]}" >"$BUILD/download.log" 2>&1 ||
	{ tail "$BUILD/download.log" >&2; die "downloading the web packages failed"; }
mv "$BUILD"/base/var/cache/apt/archives/*.deb "$BUILD/pool/"
umount "$BUILD/base/proc"

log "checkers root: ${CHECKERS[*]}"
cp -a "$BUILD/base" "$BUILD/root"
mount -t proc proc "$BUILD/root/proc"
in_root "$BUILD/root" apt-get -q -y install --no-install-recommends "${CHECKERS[@]}" >"$BUILD/checkers.log" 2>&1 ||
	{ tail "$BUILD/checkers.log" >&2; die "installing the checkers failed"; }
in_root "$BUILD/root" apt-get -q -y clean
{
	in_root "$BUILD/root" keepalived --version 2>&1 | head -n 1
	in_root "$BUILD/root" nginx -v 2>&1 | head -n 1
	in_root "$BUILD/root" php7.4 -v | head -n 1
	in_root "$BUILD/root" python3 -c 'import firewall.config as c; print("firewalld", c.VERSION)'
} >"$BUILD/versions"
umount "$BUILD/root/proc"

# The base leaves with clean package lists (the lab's mirror replaces them).
in_root "$BUILD/base" apt-get -q -y clean
rm -rf "$BUILD"/base/var/lib/apt/lists/* "$BUILD/base/usr/sbin/policy-rc.d"

# Package index of pool/, relative to its parent (Filename: pool/...).
(cd "$BUILD" && apt-ftparchive packages pool >pool/Packages 2>/dev/null) ||
	die "apt-ftparchive failed (apt-get install -y apt-utils)"

rm -f "$CACHE/recipe"
rm -rf "$CACHE/base" "$CACHE/root" "$CACHE/pool" "$CACHE/logs"
mv "$BUILD/base" "$BUILD/root" "$BUILD/pool" "$BUILD/versions" "$CACHE/"
mkdir -p "$CACHE/logs"
mv "$BUILD"/*.log "$CACHE/logs/"
rm -rf "$BUILD"
echo "$WANT" >"$CACHE/recipe"
log "built in $(($(date +%s) - START)) s: $(tr '\n' ';' <"$CACHE/versions")"
echo "$CACHE"
