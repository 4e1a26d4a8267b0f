#!/bin/sh
# Managed by labctl: keepalived check for the MySQL VIP.
# Exits 0 only when this member is ONLINE and PRIMARY in a group whose
# majority is ONLINE, and is writable; any error or timeout fails the check.
# Credentials come from a 0600 option file, never from the command line.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

query="SELECT IF(m.MEMBER_STATE = 'ONLINE' AND m.MEMBER_ROLE = 'PRIMARY'
  AND @@GLOBAL.super_read_only = 0
  AND 2 * (SELECT COUNT(*) FROM performance_schema.replication_group_members WHERE MEMBER_STATE = 'ONLINE')
    > (SELECT COUNT(*) FROM performance_schema.replication_group_members),
  'OK', 'NO')
FROM performance_schema.replication_group_members m
WHERE m.MEMBER_ID = @@GLOBAL.server_uuid"

# --defaults-file: only this file, so no ~/.my.cnf can switch the account.
# TCP to 127.0.0.1: skip_name_resolve maps it to the @'127.0.0.1' account.
out=$(timeout 2 mysql --defaults-file=/etc/keepalived/check_primary.cnf \
	--protocol=TCP --host=127.0.0.1 --port=3306 \
	--connect-timeout=1 --batch --skip-column-names \
	--execute="$query" 2>/dev/null) || exit 1
[ "$out" = "OK" ]
