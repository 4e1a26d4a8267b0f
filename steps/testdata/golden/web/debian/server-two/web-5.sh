#!/bin/sh
# Web node SERVER-TWO: WordPress's writable folder, then php-fpm and nginx
# validated before they are (re)loaded.
set -eu
root='/var/www/wordpress'
install -d -o www-data -g www-data -m 0755 "$root/wp-content/uploads"
php -l "$root/wp-config.php" >&2
php-fpm8.2 -t
nginx -t
systemctl enable php8.2-fpm nginx
systemctl reload-or-restart php8.2-fpm
systemctl reload-or-restart nginx
install -d -m 0755 '/var/lib/labctl'
printf '%s\n' 481b8ae1ca90080558cd8d57 >'/var/lib/labctl/web.loaded'
