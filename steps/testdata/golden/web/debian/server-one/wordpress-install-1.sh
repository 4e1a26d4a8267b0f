#!/bin/sh
# Read-only: the check program arrives on stdin; php runs it as the php-fpm user.
set -eu
runuser -u www-data -- php
