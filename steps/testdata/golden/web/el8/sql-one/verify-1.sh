#!/bin/sh
# Read-only: SQL-ONE's view of the group and whether it holds the VIP. The
# MySQL root credentials arrive on stdin and live only in a 0600 temp file.
set -eu
umask 077
cnf=$(mktemp)
trap 'rm -f "$cnf"' EXIT
cat >"$cnf"
echo '@@ members'
mysql --defaults-extra-file="$cnf" --connect-timeout=5 -N -B \
	-e 'SELECT MEMBER_HOST, MEMBER_STATE, MEMBER_ROLE FROM performance_schema.replication_group_members' 2>&1 || true
echo '@@ self'
mysql --defaults-extra-file="$cnf" --connect-timeout=5 -N -B \
	-e 'SELECT @@hostname, @@super_read_only' 2>&1 || true
echo '@@ addresses'
ip -o -4 addr show | awk '{ split($4, a, "/"); print a[1] }'
