#!/bin/sh
# Load balancer LOAD-BALANCER: nginx validated before it is (re)loaded.
set -eu
nginx -t
systemctl enable nginx
systemctl reload-or-restart nginx
install -d -m 0755 '/var/lib/labctl'
printf '%s\n' 2f18623163ad55258cef988c >'/var/lib/labctl/nginx-lb.loaded'
