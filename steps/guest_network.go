package steps

// guest-network: hostname and static IPv4 on the bridged NIC, through
// guest control (which does not ride on the guest network, so changing the
// address cannot cut off the channel doing it).
//
// Reads: nic1's MAC from VirtualBox (the NIC is found by it, never by a
// name like enp0s3), the plan's hostname, address, prefix, gateway and DNS.
// Writes: the hostname; the NIC's configuration in one reconfiguration
// (nmcli connection up / networkctl reconfigure / ifdown+ifup), after
// making sure no other host on the LAN answers for the address.

import (
	"context"
	"fmt"
	"strings"

	"labctl/guest"
	"labctl/lab"
)

// GuestNetwork is the "guest-network" step.
func GuestNetwork() Step { return guestNetwork{} }

type guestNetwork struct{}

func (guestNetwork) Name() string                  { return "guest-network" }
func (guestNetwork) Title() string                 { return "Setting hostnames and static addresses" }
func (guestNetwork) Needs() []string               { return []string{"fresh-identity", "address-probe"} }
func (guestNetwork) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }

// gaNet is what the network scripts are built from.
type gaNet struct {
	MAC      string // lowercase, colon-separated, as /sys/class/net/*/address shows it
	Hostname string
	Addr     string // "192.168.1.100/24"
	IP       string
	Gateway  string
	DNS      []string
}

// gaNetFor gathers the node's network facts; nic1's MAC comes from VirtualBox.
func gaNetFor(ctx context.Context, env *Env, n *lab.Node) (gaNet, error) {
	p := env.Plan
	nw := gaNet{
		Hostname: n.Hostname,
		IP:       n.IP.String(),
		Addr:     fmt.Sprintf("%s/%d", n.IP, p.Network.Bits()),
		Gateway:  p.Gateway.String(),
	}
	for _, d := range p.DNS {
		nw.DNS = append(nw.DNS, d.String())
	}
	info, err := env.vmSettled(ctx, n.VM)
	if err != nil {
		return nw, fmt.Errorf("read nic1 MAC: %w", err)
	}
	for _, nic := range info.NICs {
		if nic.Slot == 1 {
			mac, err := gaColonMAC(nic.MAC)
			if err != nil {
				return nw, err
			}
			nw.MAC = mac
			return nw, nil
		}
	}
	return nw, fmt.Errorf("VM %s has no network adapter 1: run `labctl up` from configure-vms", n.VM)
}

// gaColonMAC turns VirtualBox's "080027AABBCC" into "08:00:27:aa:bb:cc".
func gaColonMAC(raw string) (string, error) {
	m := strings.ToLower(strings.ReplaceAll(raw, ":", ""))
	if len(m) != 12 || strings.Trim(m, "0123456789abcdef") != "" {
		return "", fmt.Errorf("nic1 MAC %q is not 12 hex digits", raw)
	}
	var parts []string
	for i := 0; i < 12; i += 2 {
		parts = append(parts, m[i:i+2])
	}
	return strings.Join(parts, ":"), nil
}

// gaFindDev is shell that sets $dev to the interface whose MAC is $mac.
const gaFindDev = `dev=
for d in /sys/class/net/*; do
	if [ "$(cat "$d/address" 2>/dev/null)" = "$mac" ]; then
		dev=${d##*/}
	fi
done
`

// gaDetectMethod is shell that sets $method to how this guest configures
// its network, by what is actually running.
const gaDetectMethod = `if command -v nmcli >/dev/null 2>&1 && systemctl is-active --quiet NetworkManager; then
	method=nmcli
elif systemctl is-active --quiet systemd-networkd; then
	method=networkd
elif [ -f /etc/network/interfaces ] && command -v ifup >/dev/null 2>&1; then
	method=ifupdown
else
	echo "no supported network configuration (NetworkManager, systemd-networkd or ifupdown) is active" >&2
	exit 1
fi
`

func gaNetVars(nw gaNet) string {
	return fmt.Sprintf("mac=%s\nhost=%s\naddr=%s\nip=%s\ngw=%s\ndns=%s\n",
		guest.Quote(nw.MAC), guest.Quote(nw.Hostname), guest.Quote(nw.Addr), guest.Quote(nw.IP),
		guest.Quote(nw.Gateway), guest.Quote(strings.Join(nw.DNS, " ")))
}

func gaMethodShell(p *guest.Profile) string {
	if p.NetworkMethod == "detect" {
		return gaDetectMethod
	}
	return "method=" + p.NetworkMethod + "\n"
}

// networkCheckScript prints what the guest has now, read-only.
func networkCheckScript(p *guest.Profile, nw gaNet) string {
	vars := fmt.Sprintf("mac=%s\naddr=%s\n", guest.Quote(nw.MAC), guest.Quote(nw.Addr))
	// The static hostname is /etc/hostname's first name (what hostnamectl
	// --static prints); reading the file spares a D-Bus activation of
	// systemd-hostnamed, which takes most of a second on a loaded guest.
	return vars + gaFindDev + gaMethodShell(p) + `echo "static=$(grep -v '^[[:space:]]*#' /etc/hostname 2>/dev/null | head -n 1 | tr -d '[:space:]')"
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
`
}

// networkScript sets the hostname and the static address. Duplicate
// address detection runs first, so a taken address changes nothing.
func networkScript(p *guest.Profile, nw gaNet) string {
	var b strings.Builder
	b.WriteString("set -eu\n")
	b.WriteString(gaNetVars(nw))
	b.WriteString(gaFindDev)
	b.WriteString(`if [ -z "$dev" ]; then
	echo "no network interface has MAC $mac (VirtualBox adapter 1)" >&2
	exit 1
fi
`)
	b.WriteString(gaMethodShell(p))
	b.WriteString(`ip link set dev "$dev" up
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
`)
	b.WriteString(gaApplyShell(p))
	return b.String()
}

// gaApplyShell is the one reconfiguration per method.
func gaApplyShell(p *guest.Profile) string {
	nm := `nmcli)
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
`
	if p.NetworkMethod != "detect" {
		return "case $method in\n" + nm + "*)\n\techo \"unsupported network method $method\" >&2\n\texit 1\n\t;;\nesac\n"
	}
	return "case $method in\n" + nm + `networkd)
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
`
}

func (guestNetwork) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	nw, err := gaNetFor(ctx, env, n)
	if err != nil {
		return Status{}, err
	}
	res, err := gaRead(ctx, env, n, networkCheckScript(env.Profile, nw))
	if err != nil {
		return Status{}, fmt.Errorf("read network settings: %w", err)
	}
	kv := gaKV(res.Stdout)
	var why []string
	if kv["static"] != nw.Hostname || kv["running"] != nw.Hostname {
		why = append(why, fmt.Sprintf("hostname is %q, want %s", kv["static"], nw.Hostname))
	}
	if kv["dev"] == "" {
		why = append(why, fmt.Sprintf("no NIC with MAC %s yet", nw.MAC))
	} else {
		if !gaHasWord(kv["addrs"], nw.Addr) {
			why = append(why, fmt.Sprintf("%s has %q, want %s", kv["dev"], strings.TrimSpace(kv["addrs"]), nw.Addr))
		}
		if kv["gw"] != nw.Gateway {
			why = append(why, fmt.Sprintf("default gateway is %q, want %s", kv["gw"], nw.Gateway))
		}
		if kv["persist"] != "yes" {
			why = append(why, fmt.Sprintf("static address %s is not saved in the network configuration", nw.Addr))
		}
	}
	if len(why) > 0 {
		return Status{Why: strings.Join(why, "; ")}, nil
	}
	return Status{Done: true}, nil
}

func (guestNetwork) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	nw, err := gaNetFor(ctx, env, n)
	if err != nil {
		return err
	}
	if _, err := env.Control(n).Run(ctx, guest.Cmd{Script: networkScript(env.Profile, nw)}); err != nil {
		return fmt.Errorf("set hostname and address: %w", err)
	}
	return nil
}

func gaHasWord(list, w string) bool {
	for _, f := range strings.Fields(list) {
		if f == w {
			return true
		}
	}
	return false
}
