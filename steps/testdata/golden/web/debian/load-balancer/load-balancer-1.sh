#!/bin/sh
# Read-only: facts for labctl's check; changes nothing.
echo '@@ file /etc/nginx/nginx.conf'
{ if [ -f '/etc/nginx/nginx.conf' ]; then echo "$(sha256sum <'/etc/nginx/nginx.conf' | cut -d' ' -f1) $(stat -c '%a %U:%G' '/etc/nginx/nginx.conf')"; fi
} 2>/dev/null || true
echo '@@ file /etc/nginx/conf.d/labctl-lb.conf'
{ if [ -f '/etc/nginx/conf.d/labctl-lb.conf' ]; then echo "$(sha256sum <'/etc/nginx/conf.d/labctl-lb.conf' | cut -d' ' -f1) $(stat -c '%a %U:%G' '/etc/nginx/conf.d/labctl-lb.conf')"; fi
} 2>/dev/null || true
echo '@@ active nginx'
{ systemctl is-active 'nginx'
} 2>/dev/null || true
echo '@@ enabled nginx'
{ systemctl is-enabled 'nginx'
} 2>/dev/null || true
echo '@@ loaded nginx-lb.loaded'
{ cat '/var/lib/labctl/nginx-lb.loaded'
} 2>/dev/null || true
