package addrprobe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// HostWait bounds the host probe: addresses nobody answers for cost this long.
const HostWait = 1500 * time.Millisecond

// procARP is the kernel's neighbour table as text (Linux).
var procARP = "/proc/net/arp"

// Host probes addrs from this computer, where it has an address on prefix
// (without root): one UDP datagram to each address's discard port makes
// the kernel resolve it by ARP, and /proc/net/arp then shows which MAC
// answered. Where the host cannot tell (no address on the lab network, no
// /proc/net/arp: not Linux), Result.Method is "" and Why says why.
//
// Only entries the probe itself completed count as answers: an entry the
// cache held before may be a machine that has since left (the kernel keeps
// it for a minute), so those are returned in Recent for a warning; the
// guest probe, which asks the network itself, has the last word.
func Host(ctx context.Context, prefix netip.Prefix, addrs []netip.Addr) (r Result, recent []Answer) {
	dev, self, err := hostIface(prefix)
	if err != nil {
		r.Why = err.Error()
		return r, nil
	}
	before, err := readARP(dev)
	if err != nil {
		r.Why = fmt.Sprintf("cannot read the neighbour table: %v", err)
		return r, nil
	}
	r.Method = "udp-arp"
	var todo []netip.Addr
	for _, a := range addrs {
		if a == self {
			r.Answers = append(r.Answers, Answer{Addr: a, Self: true})
			continue
		}
		if m, ok := before[a]; ok {
			recent = append(recent, Answer{Addr: a, MAC: m})
			continue
		}
		todo = append(todo, a)
	}
	for _, a := range todo {
		d := net.Dialer{LocalAddr: &net.UDPAddr{IP: self.AsSlice()}}
		c, err := d.DialContext(ctx, "udp4", netip.AddrPortFrom(a, 9).String())
		if err != nil {
			continue
		}
		_, _ = c.Write([]byte{0}) // only the ARP resolution it causes matters
		c.Close()
	}
	deadline := time.Now().Add(HostWait)
	got := map[netip.Addr]string{}
	for len(todo) > 0 {
		now, err := readARP(dev)
		if err == nil {
			for _, a := range todo {
				if m, ok := now[a]; ok {
					got[a] = m
				}
			}
		}
		if len(got) == len(todo) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			r.Method, r.Why = "", ctx.Err().Error()
			return r, recent
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, a := range todo {
		r.Answers = append(r.Answers, Answer{Addr: a, MAC: got[a]})
	}
	return r, recent
}

// hostIface is the host interface with an IPv4 address inside prefix.
func hostIface(prefix netip.Prefix) (string, netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", netip.Addr{}, err
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		as, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range as {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if ok && ip.Unmap().Is4() && prefix.Contains(ip.Unmap()) {
				return ifc.Name, ip.Unmap(), nil
			}
		}
	}
	return "", netip.Addr{}, fmt.Errorf("this computer has no address on %s", prefix)
}

// readARP is the complete entries of dev in /proc/net/arp: address → MAC.
func readARP(dev string) (map[netip.Addr]string, error) {
	f, err := os.Open(procARP)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseARP(f, dev)
}

// parseARP reads "IP address HW type Flags HW address Mask Device" lines;
// flag 0x2 (ATF_COM) marks an entry whose MAC is known.
func parseARP(r io.Reader, dev string) (map[netip.Addr]string, error) {
	out := map[netip.Addr]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[5] != dev {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			continue // the header line
		}
		flags, err := strconv.ParseUint(strings.TrimPrefix(f[2], "0x"), 16, 32)
		if err != nil || flags&0x2 == 0 || f[3] == "00:00:00:00:00:00" {
			continue
		}
		out[a] = NormMAC(f[3])
	}
	return out, sc.Err()
}
