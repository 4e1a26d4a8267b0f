#!/bin/sh
# Load balancer LOAD-BALANCER: nginx validated before it is (re)loaded.
set -eu
nginx -t
systemctl enable nginx
systemctl reload-or-restart nginx
