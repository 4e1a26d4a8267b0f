package lab

import (
	"strings"
	"testing"
)

func TestParseProcNetRoute(t *testing.T) {
	// Two default routes (wired, metric 100; Wi-Fi, metric 600), a down
	// one with metric 0 (flags 0x2 = gateway but not up), and a LAN route.
	const table = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
wlp2s0	00000000	FE01A8C0	0003	0	0	600	00000000	0	0	0
docker0	00000000	010011AC	0002	0	0	0	00000000	0	0	0
enp3s0	00000000	0101A8C0	0003	0	0	100	00000000	0	0	0
enp3s0	0001A8C0	00000000	0001	0	0	100	00FFFFFF	0	0	0
`
	iface, gw, err := parseProcNetRoute(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "iface", iface, "enp3s0")
	eq(t, "gateway", gw.String(), "192.168.1.1")

	_, _, err = parseProcNetRoute(strings.NewReader("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\nlo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\n"))
	if err == nil {
		t.Error("a table without a default route gave an answer")
	}
	// A default route without a gateway (point-to-point) has no gateway address.
	iface, gw, err = parseProcNetRoute(strings.NewReader("tun0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\n"))
	if err != nil || iface != "tun0" || gw.IsValid() {
		t.Errorf("tun0: %q %v %v", iface, gw, err)
	}
}

// DetectHostNet depends on the machine; it must either fail cleanly or
// return an IPv4 prefix on a named interface. Tests never rely on its value.
func TestDetectHostNetShape(t *testing.T) {
	h, err := DetectHostNet()
	if err != nil {
		t.Skipf("no default route on this machine: %v", err)
	}
	if h.Adapter == "" || !h.Prefix.IsValid() || !h.Prefix.Addr().Is4() {
		t.Errorf("incomplete host network: %+v", h)
	}
	if h.Gateway.IsValid() && !h.Gateway.Is4() {
		t.Errorf("gateway %v", h.Gateway)
	}
}
