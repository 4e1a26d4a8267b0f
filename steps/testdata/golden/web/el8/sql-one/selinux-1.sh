#!/bin/sh
# Read-only: facts for labctl's check; changes nothing.
echo '@@ enforce'
{ getenforce
} 2>/dev/null || true
echo '@@ config'
{ sed -n 's/^SELINUX=//p' /etc/selinux/config
} 2>/dev/null || true
echo '@@ ports'
{ semanage port -l
} 2>/dev/null || true
