#!/bin/sh
# Read-only: which php-fpm is installed.
set -eu
PHP_FPM_POOL_DIR=$(for d in /etc/php/*/fpm/pool.d; do if [ -d "$d" ]; then echo "$d"; fi; done | sort -V | tail -n 1)
if [ -z "$PHP_FPM_POOL_DIR" ]; then
	echo "php-fpm is not installed (no /etc/php/*/fpm/pool.d)" >&2
	exit 1
fi
PHP_FPM_VERSION=${PHP_FPM_POOL_DIR%/fpm/pool.d}
PHP_FPM_VERSION=${PHP_FPM_VERSION##*/}
PHP_FPM_SERVICE=php$PHP_FPM_VERSION-fpm
echo '@@ service'
echo "$PHP_FPM_SERVICE"
echo '@@ pooldir'
echo "$PHP_FPM_POOL_DIR"
