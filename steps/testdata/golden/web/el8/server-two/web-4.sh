#!/bin/sh
# Web node SERVER-TWO: WordPress's writable folder, then php-fpm and nginx
# validated before they are (re)loaded.
set -eu
root='/usr/share/nginx/wordpress'
install -d -o apache -g apache -m 0755 "$root/wp-content/uploads"
# Files unpacked after the SELinux step get their labels here.
restorecon -R "$root"
php -l "$root/wp-config.php" >&2
php-fpm -t
nginx -t
systemctl enable php-fpm nginx
systemctl reload-or-restart php-fpm
systemctl reload-or-restart nginx
install -d -m 0755 '/var/lib/labctl'
printf '%s\n' 16b134d01d099562ea75f9ab >'/var/lib/labctl/web.loaded'
