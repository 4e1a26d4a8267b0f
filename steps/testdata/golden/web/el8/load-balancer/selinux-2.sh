#!/bin/sh
# SELinux for LOAD-BALANCER (lb): it stays enforcing; labctl adds only the
# port label, booleans and file contexts this role needs.
set -eu
case "$(getenforce)" in
Enforcing) ;;
Permissive) setenforce 1 ;;
*)
	echo "SELinux is disabled on LOAD-BALANCER: set SELINUX=enforcing in /etc/selinux/config, run 'touch /.autorelabel', reboot it, then re-run labctl up" >&2
	exit 1
	;;
esac
# ... and enforcing after a reboot too.
sed -i 's/^SELINUX=.*/SELINUX=enforcing/' /etc/selinux/config
# semanage comes with the policy tools, which minimal installs may lack.
if ! command -v semanage >/dev/null 2>&1; then
	dnf -y install policycoreutils-python-utils
fi
# nginx proxies to the web nodes
setsebool -P httpd_can_network_connect on
