package lab

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// HostNet is what the host knows about its LAN; Plan uses it for whatever
// lab.toml leaves empty (bridge_adapter, network, gateway).
type HostNet struct {
	Adapter string       // interface to bridge to, as VirtualBox names it
	Prefix  netip.Prefix // the adapter's IPv4 address and mask, e.g. 192.168.1.37/24
	Gateway netip.Addr   // the default gateway, if known
}

// StateDirEnv overrides where lab state folders live: $LABCTL_STATE_DIR/<lab>.
const StateDirEnv = "LABCTL_STATE_DIR"

// NeedsHostNet reports whether Plan needs the host's network: lab.toml
// leaves the bridge adapter or the network to be detected.
func (c *Config) NeedsHostNet() bool {
	if c.NetMode() != ModeBridged {
		return false // a private network: labenv picks it, no LAN involved
	}
	return c.Network.BridgeAdapter == "" || c.Network.Network == ""
}

// Plan derives the full lab. Errors are a *ConfigError naming lab.toml's
// lines, like Parse's, so a bad address found only now is reported the same way.
func (c *Config) Plan(h HostNet) (*Plan, error) {
	ps := &problems{file: c.File, pos: c.pos}

	adapter := c.Network.BridgeAdapter
	if adapter == "" {
		adapter = h.Adapter
	}
	if c.NetMode() != ModeBridged {
		adapter = ""
	} else if adapter == "" {
		ps.add("network.bridge_adapter", "is empty and no host interface carrying the default route was found; set bridge_adapter = \"NAME\" in [network], using a Name: that `VBoxManage list bridgedifs` prints")
	}

	var prefix netip.Prefix
	var hostIP netip.Addr
	note := ""
	if c.Network.Network != "" {
		p, msg := parseNetwork(c.Network.Network)
		if msg != "" {
			ps.add("network.network", "%s", msg)
		}
		prefix = p
	} else {
		switch {
		case c.NetMode() != ModeBridged && h.Prefix.IsValid():
			prefix = h.Prefix.Masked()
			note = fmt.Sprintf(" (picked by labctl for the lab's %s; set network in [network] to choose another)", c.NetMode())
		case c.NetMode() != ModeBridged:
			ps.add("network.network", "is empty and no free private network was found for mode %q; set network = \"10.213.1.0/24\" in [network]", c.NetMode())
		case !h.Prefix.IsValid() || !h.Prefix.Addr().Is4():
			ps.add("network.network", "is empty and this computer's network could not be detected; set network = \"192.168.1.0/24\" in [network] to your LAN's subnet (shown by `ip a` on Linux, `ipconfig` on Windows)")
		default:
			p, msg := parseNetwork(h.Prefix.Masked().String())
			if msg != "" {
				ps.add("network.network", "is empty and the detected network of %s does not suit the lab: %s; set network in [network]", adapterName(h.Adapter), msg)
			}
			prefix = p
			note = fmt.Sprintf(" (detected on %s; set network in [network] to choose another)", adapterName(h.Adapter))
		}
	}
	// The host's own address matters only on its own network.
	if h.Prefix.IsValid() && h.Prefix.Addr().Is4() && prefix.IsValid() && prefix.Contains(h.Prefix.Addr()) {
		hostIP = h.Prefix.Addr()
	}
	var addrs lanAddrs
	if c.NetMode() != ModeBridged {
		// A private network: its gateway is its first address (VirtualBox's
		// NAT service, or the host on a host-only network), never the LAN's.
		h.Gateway, hostIP = firstHost(prefix), netip.Addr{}
	}
	if prefix.IsValid() {
		addrs = c.resolveAddrs(ps, prefix, h.Gateway, hostIP, note)
		c.checkPrivateAddrs(ps, prefix, addrs)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}

	stateDir, err := c.stateDir()
	if err != nil {
		return nil, err
	}
	p := &Plan{
		Name:     c.Name,
		File:     c.File,
		StateDir: stateDir,
		Base: Base{
			VM:           c.Base.VM,
			Snapshot:     c.Base.Snapshot,
			User:         c.Base.User,
			PasswordFile: c.hostPath(c.Base.PasswordFile),
		},
		NetMode:              c.NetMode(),
		BridgeAdapter:        adapter,
		Network:              prefix,
		Gateway:              addrs.gateway,
		DNS:                  addrs.dns,
		VIP:                  addrs.vip,
		VIPHostname:          c.Network.VIPHostname,
		Profile:              c.Base.Profile,
		SSHUser:              c.Base.SSHUser,
		PackageMirror:        c.Packages.Mirror,
		PackageRelease:       c.Packages.Release,
		WordPressArchive:     c.WordPress.Archive,
		WordPressSHA256:      strings.ToLower(c.WordPress.SHA256),
		SiteTitle:            c.WordPress.Title,
		AdminUser:            c.WordPress.AdminUser,
		AdminEmail:           c.WordPress.AdminEmail,
		GRMemberExpelTimeout: c.MySQL.MemberExpelTimeout,
		VRRPRouterID:         c.Keepalived.RouterID,
		ExercisesDir:         c.hostPath(c.Exercises.Dir),
		ReportKeyFile:        c.hostPath(c.Exercises.ReportKeyFile),
	}
	if p.WordPressArchive != "" && !strings.Contains(p.WordPressArchive, "://") {
		p.WordPressArchive = c.hostPath(p.WordPressArchive)
	}
	if p.NetMode != ModeBridged {
		p.NATNetwork = NetworkName(c.Name)
	}
	if p.VRRPRouterID == 0 {
		p.VRRPRouterID = RouterIDFor(c.Name)
	}
	index := map[Role]int{}
	for i, n := range c.Nodes {
		index[n.Role]++
		rc := c.Roles[n.Role]
		node := &Node{
			VM:       n.VM,
			Hostname: n.Hostname,
			IP:       addrs.nodes[i],
			Role:     n.Role,
			Index:    index[n.Role],
			CPUs:     rc.CPUs,
			MemoryMB: rc.MemoryMB,
		}
		if n.CPUs != 0 {
			node.CPUs = n.CPUs
		}
		if n.MemoryMB != 0 {
			node.MemoryMB = n.MemoryMB
		}
		p.Nodes = append(p.Nodes, node)
	}
	if c.Seat > 0 {
		if err := c.applySeat(p, c.Seat); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func adapterName(a string) string {
	if a == "" {
		return "the default-route interface"
	}
	return fmt.Sprintf("adapter %q", a)
}

// RouterIDFor derives a VRRP virtual_router_id (1-255) from the lab name, so
// two labs on one LAN rarely collide. It skips 50 and 51, the ids most
// tutorials and appliances use.
func RouterIDFor(name string) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	id := int(h.Sum32()%253) + 1 // 1..253
	if id >= 50 {
		id += 2 // 50, 51 → 52, 53; 253 → 255
	}
	return id
}

// hostPath resolves a path written in lab.toml: "~/" is the home folder and
// a relative path is relative to lab.toml's folder (the current folder for
// the embedded lab), so `--lab labs/a.toml` works from anywhere.
func (c *Config) hostPath(p string) string {
	if p == "" {
		return ""
	}
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, `~\`) {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
		return p
	}
	if filepath.IsAbs(p) || c.File == EmbeddedName || c.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

// stateDir picks the lab's local folder: $LABCTL_STATE_DIR/<lab>, else
// state_dir from lab.toml, else $XDG_STATE_HOME/labctl/<lab>, else
// ~/.local/state/labctl/<lab>. The environment wins so tests and scripts
// can isolate a run without editing lab.toml.
func (c *Config) stateDir() (string, error) {
	if d := os.Getenv(StateDirEnv); d != "" {
		return filepath.Join(d, c.Name), nil
	}
	if c.StateDir != "" {
		return c.hostPath(c.StateDir), nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "labctl", c.Name), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", errors.New("cannot find a folder for the lab's state (no home folder): set state_dir in lab.toml or " + StateDirEnv)
	}
	return filepath.Join(home, ".local", "state", "labctl", c.Name), nil
}
