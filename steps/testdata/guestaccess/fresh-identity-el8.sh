# check
echo "marker=$(cat /etc/labctl/identity 2>/dev/null || true)"
# apply
set -eu
vm='4a1b2c3d-0000-4000-8000-000000000007'
if [ "$(cat /etc/labctl/identity 2>/dev/null || true)" = "$vm" ]; then
	exit 0
fi
# machine-id: systemd-machine-id-setup writes a new one when the file is missing.
rm -f /etc/machine-id
systemd-machine-id-setup
if [ -f /var/lib/dbus/machine-id ] && [ ! -L /var/lib/dbus/machine-id ]; then
	cp /etc/machine-id /var/lib/dbus/machine-id
fi
# SSH host keys: new ones of every default type, then sshd picks them up.
rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub
ssh-keygen -A
restorecon /etc/ssh/ssh_host_*
systemctl reset-failed sshd 2>/dev/null || true
systemctl restart sshd
# MySQL: an auto.cnf here was cloned from the base (the marker did not name
# this VM, so this mysqld never joined a group): drop it for a new server_uuid.
if [ -f /var/lib/mysql/auto.cnf ]; then
	active=no
	if systemctl is-active --quiet mysqld; then
		active=yes
		systemctl stop mysqld
	fi
	rm -f /var/lib/mysql/auto.cnf
	if [ "$active" = yes ]; then
		systemctl start mysqld
	fi
fi
mkdir -p /etc/labctl
printf '%s\n' "$vm" >/etc/labctl/identity.tmp
mv -f /etc/labctl/identity.tmp /etc/labctl/identity
