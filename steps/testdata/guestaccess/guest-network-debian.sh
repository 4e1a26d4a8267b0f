# check
mac='08:00:27:aa:bb:cc'
addr='192.168.1.100/24'
dev=
for d in /sys/class/net/*; do
	if [ "$(cat "$d/address" 2>/dev/null)" = "$mac" ]; then
		dev=${d##*/}
	fi
done
if command -v nmcli >/dev/null 2>&1 && systemctl is-active --quiet NetworkManager; then
	method=nmcli
elif systemctl is-active --quiet systemd-networkd; then
	method=networkd
elif [ -f /etc/network/interfaces ] && command -v ifup >/dev/null 2>&1; then
	method=ifupdown
else
	echo "no supported network configuration (NetworkManager, systemd-networkd or ifupdown) is active" >&2
	exit 1
fi
echo "static=$(grep -v '^[[:space:]]*#' /etc/hostname 2>/dev/null | head -n 1 | tr -d '[:space:]')"
echo "running=$(uname -n)"
echo "dev=$dev"
[ -n "$dev" ] || exit 0
echo "addrs=$(ip -4 -o addr show dev "$dev" | awk '{print $4}' | tr '\n' ' ')"
echo "gw=$(ip -4 route show default dev "$dev" | awk '{print $3; exit}')"
persist=no
case $method in
nmcli)
	con=$(nmcli -g GENERAL.CONNECTION device show "$dev" 2>/dev/null || true)
	if [ -n "$con" ] && [ "$(nmcli -g ipv4.method connection show "$con")" = manual ] &&
		[ "$(nmcli -g ipv4.addresses connection show "$con")" = "$addr" ]; then
		persist=yes
	fi
	;;
networkd)
	if grep -qx "Address=$addr" "/etc/systemd/network/10-labctl-$dev.network" 2>/dev/null; then
		persist=yes
	fi
	;;
ifupdown)
	if grep -q "^iface $dev inet static" /etc/network/interfaces &&
		grep -qx "	address $addr" /etc/network/interfaces; then
		persist=yes
	fi
	;;
esac
echo "persist=$persist"
# apply
set -eu
mac='08:00:27:aa:bb:cc'
host='sql-one'
addr='192.168.1.100/24'
ip='192.168.1.100'
gw='192.168.1.1'
dns='192.168.1.1 1.1.1.1'
dev=
for d in /sys/class/net/*; do
	if [ "$(cat "$d/address" 2>/dev/null)" = "$mac" ]; then
		dev=${d##*/}
	fi
done
if [ -z "$dev" ]; then
	echo "no network interface has MAC $mac (VirtualBox adapter 1)" >&2
	exit 1
fi
if command -v nmcli >/dev/null 2>&1 && systemctl is-active --quiet NetworkManager; then
	method=nmcli
elif systemctl is-active --quiet systemd-networkd; then
	method=networkd
elif [ -f /etc/network/interfaces ] && command -v ifup >/dev/null 2>&1; then
	method=ifupdown
else
	echo "no supported network configuration (NetworkManager, systemd-networkd or ifupdown) is active" >&2
	exit 1
fi
ip link set dev "$dev" up
if ! ip -4 -o addr show dev "$dev" | awk '{print $4}' | grep -qx "$addr"; then
	# Duplicate address detection: does another host answer for $ip?
	other=
	if command -v arping >/dev/null 2>&1; then
		out=$(arping -D -c 2 -w 3 -I "$dev" "$ip" 2>&1 || true)
		if printf '%s\n' "$out" | grep -qi 'reply from'; then
			other=$(printf '%s\n' "$out" | grep -io 'reply from.*' | grep -o '\[[0-9A-Fa-f:]*\]' | head -n 1 | tr -d '[]')
			other=${other:-unknown}
		fi
	elif command -v ping >/dev/null 2>&1; then
		if ping -c 2 -W 1 -I "$dev" "$ip" >/dev/null 2>&1; then
			other=$(ip neigh show "$ip" dev "$dev" | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i+1)}')
			other=${other:-unknown}
		fi
	else
		echo "warning: neither arping nor ping is installed: cannot check that $ip is free" >&2
	fi
	if [ -n "$other" ]; then
		echo "$ip is already used by another host (MAC $other): choose another address in lab.toml" >&2
		exit 3
	fi
fi
if command -v hostnamectl >/dev/null 2>&1; then
	hostnamectl set-hostname "$host"
else
	printf '%s\n' "$host" >/etc/hostname
	hostname "$host"
fi
case $method in
nmcli)
	con=$(nmcli -g GENERAL.CONNECTION device show "$dev" 2>/dev/null || true)
	if [ -z "$con" ]; then
		con="labctl-$dev"
		nmcli connection add type ethernet ifname "$dev" con-name "$con"
	fi
	# One profile write, then one activation: the runtime changes only at "up".
	nmcli connection modify "$con" connection.interface-name "$dev" 802-3-ethernet.mac-address "" \
		ipv4.method manual ipv4.addresses "$addr" ipv4.gateway "$gw" ipv4.dns "$dns" \
		ipv4.ignore-auto-dns yes ipv6.method ignore connection.autoconnect yes
	nmcli connection up "$con"
	;;
networkd)
	f="/etc/systemd/network/10-labctl-$dev.network"
	mkdir -p /etc/systemd/network
	{
		printf '[Match]\nMACAddress=%s\n\n[Network]\nAddress=%s\nGateway=%s\n' "$mac" "$addr" "$gw"
		for d in $dns; do printf 'DNS=%s\n' "$d"; done
	} >"$f.tmp"
	mv -f "$f.tmp" "$f"
	networkctl reload
	networkctl reconfigure "$dev"
	;;
ifupdown)
	cfg=/etc/network/interfaces
	tmp=$(mktemp /etc/network/.interfaces.XXXXXX)
	# Drop this NIC's stanza (and its auto/allow lines), keep everything else.
	awk -v dev="$dev" '
		($1 == "auto" || $1 ~ /^allow-/) && NF == 2 && $2 == dev { next }
		$1 == "iface" { skip = ($2 == dev) }
		$1 == "auto" || $1 ~ /^allow-/ || $1 == "source" || $1 == "source-directory" || $1 == "mapping" { skip = 0 }
		!skip { print }
	' "$cfg" >"$tmp"
	printf 'auto %s\niface %s inet static\n\taddress %s\n\tgateway %s\n' "$dev" "$dev" "$addr" "$gw" >>"$tmp"
	chmod 0644 "$tmp"
	ifdown "$dev" 2>/dev/null || ip -4 addr flush dev "$dev"
	mv -f "$tmp" "$cfg"
	ifup "$dev"
	;;
esac
# networkctl reconfigure (and a slow ifup) return before the address and the
# default route are in place: wait for them, bounded, so the re-check sees
# the result rather than the moment before it.
i=0
until ip -4 -o addr show dev "$dev" | grep -q "inet $addr " && ip -4 route show default dev "$dev" | grep -q "via $gw "; do
	i=$((i + 1))
	[ "$i" -ge 150 ] && break
	sleep 0.2
done
# Without a resolver daemon, resolv.conf is a plain file: write it.
if [ "$method" != nmcli ] && [ ! -L /etc/resolv.conf ]; then
	for d in $dns; do printf 'nameserver %s\n' "$d"; done >/etc/resolv.conf.labctl
	mv -f /etc/resolv.conf.labctl /etc/resolv.conf
fi
