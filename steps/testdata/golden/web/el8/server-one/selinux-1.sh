#!/bin/sh
# Read-only: facts for labctl's check; changes nothing.
echo '@@ enforce'
{ getenforce
} 2>/dev/null || true
echo '@@ config'
{ sed -n 's/^SELINUX=//p' /etc/selinux/config
} 2>/dev/null || true
echo '@@ bool httpd_can_network_connect_db'
{ getsebool httpd_can_network_connect_db
} 2>/dev/null || true
echo '@@ fcontexts'
{ semanage fcontext -l -C
} 2>/dev/null || true
echo '@@ relabel'
{ if [ -d '/usr/share/nginx/wordpress' ]; then restorecon -R -n -v '/usr/share/nginx/wordpress' | head -n 3; fi
} 2>/dev/null || true
