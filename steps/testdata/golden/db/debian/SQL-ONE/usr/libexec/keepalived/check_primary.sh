#!/bin/sh
# Managed by labctl: keepalived check for the MySQL VIP.
# Exits 0 only when this member is ONLINE and PRIMARY in a group whose
# majority is ONLINE, and is writable; any error or timeout fails the check.
# Credentials come from a 0600 option file, never from the command line.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# OK: this member should hold the VIP. WAIT: an ONLINE secondary while some
# member is UNREACHABLE, i.e. a failover may be under way and this member
# may be elected any moment. NO: anything else.
query="SELECT CASE
  WHEN m.MEMBER_STATE = 'ONLINE' AND m.MEMBER_ROLE = 'PRIMARY'
    AND @@GLOBAL.super_read_only = 0
    AND 2 * (SELECT COUNT(*) FROM performance_schema.replication_group_members WHERE MEMBER_STATE = 'ONLINE')
      > (SELECT COUNT(*) FROM performance_schema.replication_group_members) THEN 'OK'
  WHEN m.MEMBER_STATE = 'ONLINE' AND m.MEMBER_ROLE <> 'PRIMARY'
    AND EXISTS (SELECT 1 FROM performance_schema.replication_group_members WHERE MEMBER_STATE = 'UNREACHABLE') THEN 'WAIT'
  ELSE 'NO' END
FROM performance_schema.replication_group_members m
WHERE m.MEMBER_ID = @@GLOBAL.server_uuid"

# A mysqld being stopped still accepts connections but never answers them:
# ask systemd first, so the VIP leaves as soon as the stop begins.
systemctl is-active --quiet 'mysql' || exit 1

# keepalived runs this once a second. During a failover that would leave the
# elected member up to a second without the VIP, so while the answer is WAIT
# the check asks again every 0.1 s, for at most 5 more times.
polls=0
while :; do
	# --defaults-file: only this file, so no ~/.my.cnf can switch the account.
	# TCP to 127.0.0.1: skip_name_resolve maps it to the @'127.0.0.1' account.
	out=$(timeout 2 mysql --defaults-file=/etc/keepalived/check_primary.cnf \
		--protocol=TCP --host=127.0.0.1 --port=3306 \
		--connect-timeout=1 --batch --skip-column-names \
		--execute="$query" 2>/dev/null) || exit 1
	case $out in
	OK) exit 0 ;;
	WAIT) [ "$polls" -lt 5 ] || exit 1 ;;
	*) exit 1 ;;
	esac
	polls=$((polls + 1))
	sleep 0.1
done
