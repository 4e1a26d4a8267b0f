#!/bin/sh
# Install WordPress once, as the php-fpm user; the admin password is on stdin.
set -eu
runuser -u www-data -- php '/var/lib/labctl/wp-install.php'
