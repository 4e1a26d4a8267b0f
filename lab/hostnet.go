package lab

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// DetectHostNet finds the interface carrying the IPv4 default route and its
// address/mask. On Linux it reads /proc/net/route; elsewhere (or if that
// fails) it asks the routing table indirectly through a UDP socket, which
// sends nothing. The CLI prefers VirtualBox's `list bridgedifs` names when
// VirtualBox is installed; this is the fallback.
func DetectHostNet() (HostNet, error) {
	if f, err := os.Open("/proc/net/route"); err == nil {
		defer f.Close()
		if iface, gw, err := parseProcNetRoute(f); err == nil {
			if p, err := ifacePrefix(iface); err == nil {
				return HostNet{Adapter: iface, Prefix: p, Gateway: gw}, nil
			}
		}
	}
	return detectBySocket()
}

// parseProcNetRoute returns the default route's interface and gateway: the
// up route to 0.0.0.0/0 with the lowest metric. Addresses in the file are
// hexadecimal in host (little-endian on every Linux VirtualBox runs on) order.
func parseProcNetRoute(r io.Reader) (string, netip.Addr, error) {
	sc := bufio.NewScanner(r)
	best, bestMetric := "", -1
	var bestGW netip.Addr
	first := true
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if first {
			first = false
			if len(f) > 0 && f[0] == "Iface" {
				continue
			}
		}
		// Iface Destination Gateway Flags RefCnt Use Metric Mask ...
		if len(f) < 8 || f[1] != "00000000" || f[7] != "00000000" {
			continue
		}
		flags, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil || flags&0x1 == 0 { // RTF_UP
			continue
		}
		metric, err := strconv.Atoi(f[6])
		if err != nil {
			continue
		}
		if bestMetric >= 0 && metric >= bestMetric {
			continue
		}
		best, bestMetric, bestGW = f[0], metric, netip.Addr{}
		if b, err := hex.DecodeString(f[2]); err == nil && len(b) == 4 {
			v := binary.LittleEndian.Uint32(b)
			var a [4]byte
			binary.BigEndian.PutUint32(a[:], v)
			if gw := netip.AddrFrom4(a); !gw.IsUnspecified() {
				bestGW = gw
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", netip.Addr{}, err
	}
	if best == "" {
		return "", netip.Addr{}, errors.New("no IPv4 default route")
	}
	return best, bestGW, nil
}

// ifacePrefix returns the first IPv4 address/mask of the named interface.
func ifacePrefix(name string) (netip.Prefix, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return netip.Prefix{}, err
	}
	if ifc.Flags&net.FlagUp == 0 {
		return netip.Prefix{}, fmt.Errorf("interface %s is down", name)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return netip.Prefix{}, err
	}
	for _, a := range addrs {
		if p, ok := ipv4Prefix(a); ok {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("interface %s has no IPv4 address", name)
}

func ipv4Prefix(a net.Addr) (netip.Prefix, bool) {
	in, ok := a.(*net.IPNet)
	if !ok {
		return netip.Prefix{}, false
	}
	ip4 := in.IP.To4()
	if ip4 == nil {
		return netip.Prefix{}, false
	}
	ones, bits := in.Mask.Size()
	if bits != 32 {
		return netip.Prefix{}, false
	}
	addr, _ := netip.AddrFromSlice(ip4)
	return netip.PrefixFrom(addr, ones), true
}

// detectBySocket lets the kernel choose the source address for an
// off-link destination (a documentation address, RFC 5737; UDP "connect"
// sends no packet) and finds the interface holding that address.
func detectBySocket() (HostNet, error) {
	conn, err := net.Dial("udp4", "192.0.2.1:9")
	if err != nil {
		return HostNet{}, fmt.Errorf("detect host network: no IPv4 default route: %w", err)
	}
	local := conn.LocalAddr().(*net.UDPAddr).IP
	conn.Close()
	ifaces, err := net.Interfaces()
	if err != nil {
		return HostNet{}, fmt.Errorf("detect host network: %w", err)
	}
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if in, ok := a.(*net.IPNet); ok && in.IP.Equal(local) {
				if p, ok := ipv4Prefix(a); ok {
					return HostNet{Adapter: ifc.Name, Prefix: p}, nil
				}
			}
		}
	}
	return HostNet{}, fmt.Errorf("detect host network: no interface holds %s", local)
}
