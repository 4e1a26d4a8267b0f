#!/bin/sh
# SELinux for SQL-TWO (db): it stays enforcing; labctl adds only the
# port label, booleans and file contexts this role needs.
set -eu
case "$(getenforce)" in
Enforcing) ;;
Permissive) setenforce 1 ;;
*)
	echo "SELinux is disabled on SQL-TWO: set SELINUX=enforcing in /etc/selinux/config, run 'touch /.autorelabel', reboot it, then re-run labctl up" >&2
	exit 1
	;;
esac
# ... and enforcing after a reboot too.
sed -i 's/^SELINUX=.*/SELINUX=enforcing/' /etc/selinux/config
# semanage comes with the policy tools, which minimal installs may lack.
if ! command -v semanage >/dev/null 2>&1; then
	dnf -y install policycoreutils-python-utils
fi
# group replication's communication port: mysqld may bind only mysqld_port_t ports
if ! semanage port -a -t mysqld_port_t -p tcp 33061 2>/dev/null; then
	semanage port -m -t mysqld_port_t -p tcp 33061
fi
