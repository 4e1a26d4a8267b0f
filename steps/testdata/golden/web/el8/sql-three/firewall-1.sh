#!/bin/sh
# Read-only: facts for labctl's check; changes nothing.
echo '@@ file /etc/firewalld/zones/labctl.xml'
{ if [ -f '/etc/firewalld/zones/labctl.xml' ]; then echo "$(sha256sum <'/etc/firewalld/zones/labctl.xml' | cut -d' ' -f1) $(stat -c '%a %U:%G' '/etc/firewalld/zones/labctl.xml')"; fi
} 2>/dev/null || true
echo '@@ active firewalld'
{ systemctl is-active firewalld
} 2>/dev/null || true
echo '@@ enabled firewalld'
{ systemctl is-enabled firewalld
} 2>/dev/null || true
echo '@@ runtime'
{ firewall-cmd --zone=labctl --list-all
} 2>/dev/null || true
echo '@@ permanent'
{ firewall-cmd --permanent --zone=labctl --list-all
} 2>/dev/null || true
