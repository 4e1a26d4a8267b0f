package vbox_test

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"labctl/internal/vboxtest"
	"labctl/vbox"
)

// Listings copied from the networks reference (§1.4, §1.5, §4).
const (
	natList7 = `NAT Networks:

Name:         vm-net
Enabled:      Yes
Network:      192.168.10.0/24
Gateway:      192.168.10.1
DHCP Server:  No
IPv6:         No
IPv6 Prefix:  fd17:625c:f037:2::/64
IPv6 Default: No
Port-forwarding (ipv4)
        ssh-to-storage-1:tcp:[]:3323:[192.168.10.23]:22
        ssh-to-workers-1:tcp:[]:3389:[192.168.10.89]:22
loopback mappings (ipv4)
        127.0.0.1=2

1 network found
`
	natnets61 = `NetworkName:    NatNetwork
IP:             10.0.2.1
Network:        10.0.2.0/24
IPv6 Enabled:   No
IPv6 Prefix:    fd17:625c:f037:2::/64
DHCP Enabled:   Yes
Enabled:        Yes
Port-forwarding (ipv4)
        Rule 1:tcp:[]:2222:[10.0.2.7]:22
loopback mappings (ipv4)
        127.0.0.1=2

`
	hostOnlyNets = `Name:            vagrantnet-vbox1
GUID:            bc907fa2-e158-4c1b-96fb-63b8765a64d8

State:           Enabled
NetworkMask:     255.255.255.0
LowerIP:         192.168.56.0
UpperIP:         192.168.56.0
VBoxNetworkName: hostonly-vagrantnet-vbox1

`
)

func TestParseNATNetworksEveryLayout(t *testing.T) {
	got := vbox.ParseNATNetworks(natList7)
	want := []vbox.NATNetwork{{Name: "vm-net", Network: "192.168.10.0/24", Gateway: "192.168.10.1", Enabled: true, DHCP: false,
		Forwards: []vbox.PortForward{
			{Name: "ssh-to-storage-1", Proto: "tcp", HostPort: 3323, GuestIP: "192.168.10.23", GuestPort: 22},
			{Name: "ssh-to-workers-1", Proto: "tcp", HostPort: 3389, GuestIP: "192.168.10.89", GuestPort: 22},
		}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("7.x natnetwork list:\n got %+v\nwant %+v", got, want)
	}
	got = vbox.ParseNATNetworks(natnets61)
	want = []vbox.NATNetwork{{Name: "NatNetwork", Network: "10.0.2.0/24", Gateway: "10.0.2.1", Enabled: true, DHCP: true,
		Forwards: []vbox.PortForward{{Name: "Rule 1", Proto: "tcp", HostPort: 2222, GuestIP: "10.0.2.7", GuestPort: 22}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("6.1 list natnets:\n got %+v\nwant %+v", got, want)
	}
	if f := want[0].Forwards[0]; f.String() != "Rule 1:tcp:[]:2222:[10.0.2.7]:22" {
		t.Errorf("rule renders as %q", f.String())
	}
	if n := vbox.ParseNATNetworks(""); len(n) != 0 {
		t.Errorf("no networks: %+v", n)
	}
	hn := vbox.ParseHostOnlyNets(hostOnlyNets)
	if len(hn) != 1 || hn[0] != (vbox.HostOnlyNet{Name: "vagrantnet-vbox1", Enabled: true, Netmask: "255.255.255.0", LowerIP: "192.168.56.0", UpperIP: "192.168.56.0"}) {
		t.Errorf("hostonlynets %+v", hn)
	}
}

// TestNetworksAgainstFake drives the network operations through VBoxManage's
// command line against the fake, on 7.x and the two 6.1 layouts.
func TestNetworksAgainstFake(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the fake VBoxManage")
	}
	for _, version := range []string{vboxtest.DefaultVersion, "6.1.38_Ubuntur153438", "6.1.32r149290"} {
		t.Run(version, func(t *testing.T) {
			fake := vboxtest.New(t, vboxtest.WithVersion(version))
			c := vbox.New(vbox.ExecRunner{Path: fake.Bin})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			ssh := vbox.PortForward{Name: "ssh-sql-one", Proto: "tcp", HostIP: "127.0.0.1", HostPort: 42001, GuestIP: "10.213.5.100", GuestPort: 22}
			want := vbox.NATNetwork{Name: "labctl-a", Network: "10.213.5.0/24", Gateway: "10.213.5.1", Enabled: true, Forwards: []vbox.PortForward{ssh}}
			if err := c.AddNATNetwork(ctx, want); err != nil {
				t.Fatal(err)
			}
			if err := c.AddNATNetwork(ctx, want); !errors.Is(err, vbox.ErrNetworkExists) {
				t.Fatalf("second add: %v, want ErrNetworkExists", err)
			}
			nets, err := c.NATNetworks(ctx)
			if err != nil || len(nets) != 1 || !reflect.DeepEqual(nets[0], want) {
				t.Fatalf("listed %+v %v, want %+v", nets, err, want)
			}
			// A failed add leaves nothing behind: the client removes what
			// VirtualBox registered before the bad rule failed.
			dup := vbox.NATNetwork{Name: "labctl-b", Network: "10.213.6.0/24", Forwards: []vbox.PortForward{ssh, ssh}}
			if err := c.AddNATNetwork(ctx, dup); err == nil || !strings.Contains(err.Error(), "A NAT rule of this name already exists") {
				t.Fatalf("duplicate rule: %v", err)
			}
			if nets, _ := c.NATNetworks(ctx); len(nets) != 1 {
				t.Fatalf("the failed add left %+v", nets)
			}
			http := vbox.PortForward{Name: "http-lb", Proto: "tcp", HostIP: "127.0.0.1", HostPort: 42007, GuestIP: "10.213.5.105", GuestPort: 80}
			moved := ssh
			moved.HostPort = 42002
			if err := c.ModifyNATNetwork(ctx, "labctl-a", vbox.NATNetworkChange{DeleteForward: []string{ssh.Name}, AddForward: []vbox.PortForward{moved, http}}); err != nil {
				t.Fatal(err)
			}
			nets, _ = c.NATNetworks(ctx)
			if len(nets) != 1 || !reflect.DeepEqual(nets[0].Forwards, []vbox.PortForward{http, moved}) {
				t.Fatalf("after modify %+v", nets)
			}
			if err := c.ModifyNATNetwork(ctx, "nope", vbox.NATNetworkChange{AddForward: []vbox.PortForward{http}}); !errors.Is(err, vbox.ErrNetworkNotFound) {
				t.Fatalf("modify of a missing network: %v", err)
			}
			if err := c.RemoveNATNetwork(ctx, "labctl-a"); err != nil {
				t.Fatal(err)
			}
			if err := c.RemoveNATNetwork(ctx, "labctl-a"); !errors.Is(err, vbox.ErrNetworkNotFound) {
				t.Fatalf("second remove: %v", err)
			}

			// Host-only adapters: create, configure inside the default range, refuse outside it.
			name, err := c.CreateHostOnlyIf(ctx)
			if err != nil || name != "vboxnet0" {
				t.Fatalf("create: %q %v", name, err)
			}
			if err := c.ConfigureHostOnlyIf(ctx, name, netip.MustParsePrefix("192.168.57.1/24")); err != nil {
				t.Fatal(err)
			}
			if err := c.ConfigureHostOnlyIf(ctx, name, netip.MustParsePrefix("10.1.2.1/24")); !errors.Is(err, vbox.ErrHostOnlyRange) {
				t.Fatalf("outside the allowed range: %v", err)
			}
			ifs, err := c.HostOnlyIfs(ctx)
			if err != nil || len(ifs) != 1 || ifs[0].IPAddress != "192.168.57.1" || ifs[0].NetworkMask != "255.255.255.0" {
				t.Fatalf("hostonlyifs %+v %v", ifs, err)
			}
			if err := c.RemoveHostOnlyIf(ctx, name); err != nil {
				t.Fatal(err)
			}
			if err := c.RemoveHostOnlyIf(ctx, name); !errors.Is(err, vbox.ErrNetworkNotFound) {
				t.Fatalf("second remove: %v", err)
			}
			// Linux hosts have no host-only networks (macOS 7.x only).
			if _, err := c.HostOnlyNets(ctx); err == nil {
				t.Error("list hostonlynets worked on a Linux host")
			}
		})
	}
}
