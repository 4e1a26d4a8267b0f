#!/bin/sh
# SELinux for SERVER-ONE (web): it stays enforcing; labctl adds only the
# port label, booleans and file contexts this role needs.
set -eu
case "$(getenforce)" in
Enforcing) ;;
Permissive) setenforce 1 ;;
*)
	echo "SELinux is disabled on SERVER-ONE: set SELINUX=enforcing in /etc/selinux/config, run 'touch /.autorelabel', reboot it, then re-run labctl up" >&2
	exit 1
	;;
esac
# ... and enforcing after a reboot too.
sed -i 's/^SELINUX=.*/SELINUX=enforcing/' /etc/selinux/config
# semanage comes with the policy tools, which minimal installs may lack.
if ! command -v semanage >/dev/null 2>&1; then
	dnf -y install policycoreutils-python-utils
fi
# php-fpm (httpd_t) connects to MySQL through the VIP
setsebool -P httpd_can_network_connect_db on
# WordPress: readable by nginx and php-fpm
if ! semanage fcontext -a -t httpd_sys_content_t '/usr/share/nginx/wordpress(/.*)?' 2>/dev/null; then
	semanage fcontext -m -t httpd_sys_content_t '/usr/share/nginx/wordpress(/.*)?'
fi
# media uploads: writable by php-fpm
if ! semanage fcontext -a -t httpd_sys_rw_content_t '/usr/share/nginx/wordpress/wp-content/uploads(/.*)?' 2>/dev/null; then
	semanage fcontext -m -t httpd_sys_rw_content_t '/usr/share/nginx/wordpress/wp-content/uploads(/.*)?'
fi
if [ -d '/usr/share/nginx/wordpress' ]; then
	restorecon -R '/usr/share/nginx/wordpress'
fi
