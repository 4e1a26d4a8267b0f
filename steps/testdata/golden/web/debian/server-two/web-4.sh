#!/bin/sh
# Unpack the WordPress release into /var/www/wordpress, owned by root: php-fpm
# (www-data) may write only wp-content/uploads.
set -eu
archive='/var/www/.labctl-wordpress.tar.gz'
root='/var/www/wordpress'
mkdir -p "$(dirname "$root")"
# Unpack beside the web root so the final mv is a rename on one file system.
tmp=$(mktemp -d "$root.labctl.XXXXXX")
trap 'rm -f "$archive"; rm -rf "$tmp"' EXIT
tar -xzf "$archive" -C "$tmp" --no-same-owner --no-same-permissions
if [ ! -f "$tmp/wordpress/wp-includes/version.php" ]; then
	echo "$archive is not a WordPress release: it has no wordpress/wp-includes/version.php" >&2
	exit 1
fi
chown -R root:root "$tmp/wordpress"
chmod -R u=rwX,go=rX "$tmp/wordpress"
if [ -d "$root" ]; then
	# A folder left by an interrupted run: complete it in place.
	cp -a "$tmp/wordpress/." "$root/"
else
	mv "$tmp/wordpress" "$root"
fi
