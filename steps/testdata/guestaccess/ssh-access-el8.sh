# check
user='root'
key='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGolden0Golden0Golden0Golden0Golden0Golden00 labctl@demo'
home=$(getent passwd "$user" | cut -d: -f6)
ak="$home/.ssh/authorized_keys"
installed=no
if [ -n "$home" ] && [ -f "$ak" ] && grep -qxF "$key" "$ak" &&
	[ "$(stat -c %a "$home/.ssh")" = 700 ] && [ "$(stat -c %a "$ak")" = 600 ] &&
	[ "$(stat -c %U "$ak")" = "$user" ]; then
	installed=yes
fi
echo "installed=$installed"
echo "hostkey=$(cat /etc/ssh/ssh_host_ed25519_key.pub 2>/dev/null || true)"
# apply
set -eu
user='root'
key='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGolden0Golden0Golden0Golden0Golden0Golden00 labctl@demo'
home=$(getent passwd "$user" | cut -d: -f6)
if [ -z "$home" ]; then
	echo "user $user does not exist in the guest: set ssh_user in lab.toml to an existing account" >&2
	exit 1
fi
group=$(id -gn "$user")
install -d -m 0700 -o "$user" -g "$group" "$home/.ssh"
ak="$home/.ssh/authorized_keys"
touch "$ak"
if ! grep -qxF "$key" "$ak"; then
	printf '%s\n' "$key" >>"$ak"
fi
chown "$user:$group" "$ak"
chmod 0600 "$ak"
restorecon -R "$home/.ssh"
if [ "$user" != root ] && ! sudo -n -l -U "$user" 2>/dev/null | grep -q NOPASSWD; then
	echo "user $user needs passwordless sudo (NOPASSWD) for labctl" >&2
	exit 1
fi
cat /etc/ssh/ssh_host_ed25519_key.pub
