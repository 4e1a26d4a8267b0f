#!/bin/sh
# Read-only: facts for labctl's check; changes nothing.
echo '@@ enforce'
{ getenforce
} 2>/dev/null || true
echo '@@ config'
{ sed -n 's/^SELINUX=//p' /etc/selinux/config
} 2>/dev/null || true
echo '@@ bool httpd_can_network_connect'
{ getsebool httpd_can_network_connect
} 2>/dev/null || true
