#!/bin/bash
# Builds (or reuses) what the real-lab suite's PHP 7.4 variant boots its web
# machines from: EL8's web tier (PHP 7.4-fpm, nginx 1.18) as Debian bullseye
# carries it. Run after base.sh (it needs the base's root password and
# repository key); the bullseye root and packages come from the checkers'
# cache (hack/checkers/bullseye.sh), so CI builds them once for both.
#
# Output, in $REALLAB_CACHE/bullseye:
#   rootfs/  the checkers' bullseye base, configured like the sid base
#            (configure_base in base.sh): no role packages
#   repo/    dists/bullseye + pool-bullseye/: the web role's packages, unsigned
#            (the lab writes [trusted=yes] for a private-address http mirror);
#            the suite serves it beside the sid repository
#   recipe   hash of the inputs that built the above
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE=${REALLAB_CACHE:-/var/cache/labctl-reallab}
OUT="$CACHE/bullseye"
log() { printf '[bullseye-web %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
if [ ! -s "$CACHE/root-password" ] || [ ! -s "$CACHE/repo/key.asc" ]; then die "run hack/reallab/base.sh first"; fi
CHECKERS=$(hack/checkers/bullseye.sh | tail -n 1)
[ -x "$CHECKERS/base/sbin/init" ] || die "no bullseye base in $CHECKERS"

# configure_base is the sid base's own, read from base.sh (one definition).
eval "$(sed -n '/^configure_base() {/,/^}/p' hack/reallab/base.sh)"
WANT=$({ cat "$CHECKERS/recipe" "$0"; declare -f configure_base; } | sha256sum | cut -c1-16)

mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock 9
if [ "$(cat "$OUT/recipe" 2>/dev/null)" = "$WANT" ] && [ -x "$OUT/rootfs/sbin/init" ] &&
	[ -s "$OUT/repo/dists/bullseye/Release" ]; then
	log "cache up to date: $OUT (recipe $WANT)"
	exit 0
fi
START=$(date +%s)
BUILD="$OUT/build.tmp"
rm -rf "$BUILD"
mkdir -p "$BUILD/repo/pool-bullseye" "$BUILD/repo/dists/bullseye/main/binary-amd64"
cp -a "$CHECKERS/base" "$BUILD/rootfs"
configure_base "$BUILD/rootfs" "$CACHE/root-password" "$CACHE/repo/key.asc"
cp -l "$CHECKERS"/pool/*.deb "$BUILD/repo/pool-bullseye/" 2>/dev/null || cp "$CHECKERS"/pool/*.deb "$BUILD/repo/pool-bullseye/"
(
	cd "$BUILD/repo"
	apt-ftparchive packages pool-bullseye >dists/bullseye/main/binary-amd64/Packages
	gzip -9kn dists/bullseye/main/binary-amd64/Packages
	apt-ftparchive -o APT::FTPArchive::Release::Suite=bullseye -o APT::FTPArchive::Release::Codename=bullseye \
		-o APT::FTPArchive::Release::Components=main -o APT::FTPArchive::Release::Architectures=amd64 \
		-o APT::FTPArchive::Release::Origin=labctl-reallab release dists/bullseye >Release.tmp
	mv Release.tmp dists/bullseye/Release
)
rm -f "$OUT/recipe"
rm -rf "$OUT/rootfs" "$OUT/repo"
mv "$BUILD/rootfs" "$BUILD/repo" "$OUT/"
rm -rf "$BUILD"
echo "$WANT" >"$OUT/recipe"
log "built in $(($(date +%s) - START)) s: $(tr '\n' ';' <"$CHECKERS/versions")"
