// Package addrprobe asks the lab's network, before any node takes an
// address, whether another machine already answers for one of the lab's
// planned addresses (the nodes' and the VIP): from inside a guest (Script,
// Parse; the host may not be on the LAN at all) and, where this computer
// has an address on the lab network, from the host (Host).
//
// The guest probe is RFC 5227 duplicate-address detection: an ARP request
// whose sender address is 0.0.0.0, which every IPv4 host answers for its
// own address whatever its routes or filters, and which needs no address
// on the probing side. It uses iputils arping when the guest has it, else a
// few lines of Perl on a packet socket (Debian's perl-base is always
// there; AlmaLinux has iputils arping), else it says it cannot probe.
package addrprobe

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Wait bounds one probe: an address nobody answers for costs this long;
// an address someone answers for returns at the first reply.
const Wait = 2 // seconds

// Answer is what one probed address got back.
type Answer struct {
	Addr netip.Addr
	MAC  string // "aa:bb:cc:dd:ee:ff" of the answering machine; "" = no answer
	Self bool   // the probing guest holds the address itself
}

// Result is one probe run.
type Result struct {
	Method  string // "arping", "perl", "udp-arp" (host), or "" when it could not probe
	Why     string // why it could not probe
	Answers []Answer
}

// Clash is a planned address that a machine outside the lab answers for.
type Clash struct {
	Addr  netip.Addr
	MAC   string
	Owner string // what the lab planned there: "SQL-ONE", "the VIP"
}

// Error names the address, who answered, and what to do.
func (c Clash) Error() string {
	return fmt.Sprintf("%s (planned for %s) is already in use on the network: MAC %s answered, and it is not one of this lab's VMs. "+
		"Give this lab addresses of its own: a seat (`labctl --seat N up`; `labctl seats --count N` shows the room's), "+
		"or other addresses in lab.toml (ip of the nodes, vip in [network])", c.Addr, c.Owner, c.MAC)
}

// Clashes lists the answers from machines that are not the lab's: own
// holds the MACs of every VM of the lab ("aa:bb:..", any case), owners
// names what each address is planned for. In address order.
func Clashes(r Result, own map[string]bool, owners map[netip.Addr]string) []Clash {
	mine := map[string]bool{}
	for m := range own {
		mine[NormMAC(m)] = true
	}
	var out []Clash
	for _, a := range r.Answers {
		if a.Self || a.MAC == "" || mine[NormMAC(a.MAC)] {
			continue
		}
		out = append(out, Clash{Addr: a.Addr, MAC: NormMAC(a.MAC), Owner: owners[a.Addr]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.Less(out[j].Addr) })
	return out
}

// NormMAC writes a MAC as lower-case colon-separated pairs; VirtualBox's
// "080027AABBCC" and arping's "08:00:27:AA:BB:CC" become the same string.
// Anything that is not 12 hex digits is returned lower-cased as it is.
func NormMAC(m string) string {
	h := strings.ToLower(strings.NewReplacer(":", "", "-", "").Replace(strings.TrimSpace(m)))
	if len(h) != 12 || strings.Trim(h, "0123456789abcdef") != "" {
		return strings.ToLower(m)
	}
	var parts []string
	for i := 0; i < 12; i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

// Parse reads the guest script's output: "method=NAME [why]", then one
// "probe ADDR MAC|-|self" line per address.
func Parse(out string) (Result, error) {
	var r Result
	sawMethod := false
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 0:
		case strings.HasPrefix(f[0], "method="):
			sawMethod = true
			r.Method = strings.TrimPrefix(f[0], "method=")
			if r.Method == "none" {
				r.Method = ""
				r.Why = strings.Join(f[1:], " ")
			}
		case f[0] == "probe" && len(f) == 3:
			a, err := netip.ParseAddr(f[1])
			if err != nil {
				return r, fmt.Errorf("probe output: %q: %w", l, err)
			}
			ans := Answer{Addr: a}
			switch f[2] {
			case "-":
			case "self":
				ans.Self = true
			default:
				ans.MAC = NormMAC(f[2])
			}
			r.Answers = append(r.Answers, ans)
		}
	}
	if !sawMethod {
		return r, fmt.Errorf("probe output has no method= line: %q", strings.TrimSpace(out))
	}
	return r, nil
}

// Script is the guest-side probe: it finds the NIC whose MAC is mac (never
// by a name), then probes every address at once, bounded by Wait (twice
// that for the Perl fallback's two rounds). Read-only, except that a NIC
// that is down is brought up, as the probe cannot send otherwise.
func Script(mac string, addrs []netip.Addr) string {
	list := make([]string, len(addrs))
	for i, a := range addrs {
		list[i] = a.String()
	}
	return fmt.Sprintf(`set -u
mac='%s'
addrs='%s'
dev=
for d in /sys/class/net/*; do
	if [ "$(cat "$d/address" 2>/dev/null)" = "$mac" ]; then
		dev=${d##*/}
	fi
done
if [ -z "$dev" ]; then
	echo "method=none no network interface has MAC $mac"
	exit 0
fi
ip link set dev "$dev" up 2>/dev/null || true
held=" $(ip -4 -o addr show dev "$dev" | awk '{split($4, a, "/"); printf "%%s ", a[1]}')"
method=none
if command -v arping >/dev/null 2>&1 && arping -V 2>&1 | grep -qi iputils; then
	method=arping
elif command -v perl >/dev/null 2>&1 && perl -MSocket -e 1 2>/dev/null; then
	method=perl
fi
if [ "$method" = none ]; then
	echo "method=none neither iputils arping nor perl is installed in the guest"
	exit 0
fi
echo "method=$method"
todo=
for a in $addrs; do
	case $held in
	*" $a "*) echo "probe $a self" ;;
	*) todo="$todo $a" ;;
	esac
done
[ -n "$todo" ] || exit 0
if [ "$method" = arping ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	for a in $todo; do
		(
			# -D: sender 0.0.0.0, and arping stops at the first reply.
			out=$(arping -D -c 2 -w %[3]d -I "$dev" "$a" 2>&1)
			m=$(printf '%%s\n' "$out" | grep -io 'reply from.*' | grep -o '\[[0-9A-Fa-f:]*\]' | head -n 1 | tr -d '[]')
			echo "probe $a ${m:--}" >"$tmp/$a"
		) &
	done
	wait
	cat "$tmp"/*
	exit 0
fi
# shellcheck disable=SC2086 # one argument per address
exec perl -e '%[4]s' "$dev" $todo
`, mac, strings.Join(list, " "), Wait, perlProbe)
}

// perlProbe sends one duplicate-address probe per address on a packet
// socket, twice, and prints who answered. It holds no single quote (it
// sits in one in the shell script).
const perlProbe = `use strict; use Socket;
my ($dev, @want) = @ARGV;
sub slurp { open(my $f, "<", $_[0]) or die "$_[0]: $!\n"; my $v = <$f>; chomp $v; return $v; }
my $ifx = slurp("/sys/class/net/$dev/ifindex");
my $me = pack("H12", join("", split(/:/, slurp("/sys/class/net/$dev/address"))));
my $bc = pack("H12", "ffffffffffff");
socket(my $s, 17, 3, unpack("S", pack("n", 0x0806))) or die "packet socket: $!\n";
my $sll = pack("S n i S C C a8", 17, 0x0806, $ifx, 1, 0, 6, $bc);
bind($s, $sll) or die "bind $dev: $!\n";
my %got;
for my $round (1, 2) {
	for my $t (@want) {
		next if $got{$t};
		my $arp = pack("n n C C n", 1, 0x0800, 6, 4, 1) . $me . inet_aton("0.0.0.0") . ("\0" x 6) . inet_aton($t);
		my $frame = $bc . $me . pack("n", 0x0806) . $arp;
		$frame .= "\0" x (60 - length($frame));
		send($s, $frame, 0, $sll) or die "send: $!\n";
	}
	my $end = time() + ` + "2" + `;
	while (time() < $end && grep { !$got{$_} } @want) {
		my $rin = ""; vec($rin, fileno($s), 1) = 1;
		next unless select(my $rout = $rin, undef, undef, 0.2);
		defined(recv($s, my $buf, 2048, 0)) or next;
		next if length($buf) < 42 || unpack("n", substr($buf, 12, 2)) != 0x0806;
		next unless unpack("n", substr($buf, 20, 2)) == 2;
		my $ip = inet_ntoa(substr($buf, 28, 4));
		next unless grep { $_ eq $ip } @want;
		$got{$ip} ||= join(":", unpack("(H2)6", substr($buf, 22, 6)));
	}
	last unless grep { !$got{$_} } @want;
}
print "probe $_ ", ($got{$_} || "-"), "\n" for @want;
`
