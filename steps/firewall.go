package steps

// Step "firewall" (every node, where the profile has firewalld): firewalld
// stays on and admits exactly what each role needs, each service only from
// the nodes that use it.
//
// The runbook: the lab's rules live in one zone, "labctl", bound to the lab
// network as its source, written as a whole zone file so a changed plan
// never leaves stale rules behind:
//
//	every node  ssh from the lab network
//	db          3306/tcp from the web nodes (WordPress through the VIP) and
//	            the other db nodes (distributed recovery);
//	            33061/tcp (group communication) and VRRP (IP protocol 112,
//	            keepalived's unicast adverts) from the other db nodes
//	web         80/tcp from the load balancer only
//	lb          http from anywhere (the lab zone and the default zone)
//
// then firewall-cmd --check-config and --reload. Check compares the zone file
// and that the running firewall has loaded it.
//
// Reads: plan (nodes, network), profile (Firewalld). Writes: the zone file.

import (
	"context"
	"strings"

	"labctl/guest"
	"labctl/lab"
)

const (
	fwZone     = "labctl"
	fwZoneFile = "/etc/firewalld/zones/" + fwZone + ".xml"
)

// Firewall returns the step that opens exactly the lab's ports.
func Firewall() Step { return firewallStep{} }

type firewallStep struct{}

func (firewallStep) Name() string                  { return "firewall" }
func (firewallStep) Title() string                 { return "Opening the lab's ports in firewalld" }
func (firewallStep) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }

// fwRule admits one port (or IP protocol, when Port is 0) from one source.
type fwRule struct {
	Source   string // address/32
	Port     int
	Protocol string // tcp, or an IP protocol name from /etc/protocols
	Why      string
}

// fwZoneData is what the zone file and the apply script are rendered from.
type fwZoneData struct {
	Node, Role string
	Zone       string
	Network    string
	Services   []string // beyond ssh
	Rules      []fwRule
	PublicHTTP bool // http also in the default zone: visitors from anywhere
}

// fwPlan is node n's firewall, from the plan.
func fwPlan(p *lab.Plan, n *lab.Node) fwZoneData {
	d := fwZoneData{Node: n.Name(), Role: string(n.Role), Zone: fwZone, Network: p.Network.Masked().String()}
	host := func(m *lab.Node) string { return m.IP.String() + "/32" }
	switch n.Role {
	case lab.RoleDB:
		for _, w := range p.Web() {
			d.Rules = append(d.Rules, fwRule{host(w), 3306, "tcp", "MySQL for WordPress on " + w.Name() + " (through the VIP)"})
		}
		for _, peer := range p.DB() {
			if peer == n {
				continue
			}
			d.Rules = append(d.Rules,
				fwRule{host(peer), 3306, "tcp", "distributed recovery from " + peer.Name()},
				fwRule{host(peer), dbXComPort, "tcp", "group communication with " + peer.Name()},
				fwRule{host(peer), 0, "vrrp", "keepalived adverts from " + peer.Name()})
		}
	case lab.RoleWeb:
		if lb := p.LB(); lb != nil {
			d.Rules = append(d.Rules, fwRule{host(lb), 80, "tcp", "http from the load balancer " + lb.Name() + " only"})
		}
	case lab.RoleLB:
		d.Services = []string{"http"}
		d.PublicHTTP = true
	}
	return d
}

// fwFile is the zone file node n receives.
func fwFile(p *lab.Plan, n *lab.Node) (guest.File, error) {
	content, err := webRender("firewalld-zone.xml.tmpl", fwPlan(p, n))
	if err != nil {
		return guest.File{}, err
	}
	return guest.File{Path: fwZoneFile, Content: content, Mode: 0o644}, nil
}

func (firewallStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	if env.Profile == nil || !env.Profile.Firewalld {
		return Status{Done: true, Why: "no firewalld in this guest profile"}, nil
	}
	f, err := fwFile(env.Plan, n)
	if err != nil {
		return Status{}, err
	}
	d := fwPlan(env.Plan, n)
	probes := append(webFileProbes([]guest.File{f}),
		webProbe{"active firewalld", "systemctl is-active firewalld"},
		webProbe{"enabled firewalld", "systemctl is-enabled firewalld"},
		// What firewalld runs against what it would load: equal once reloaded.
		webProbe{"runtime", "firewall-cmd --zone=" + fwZone + " --list-all"},
		webProbe{"permanent", "firewall-cmd --permanent --zone=" + fwZone + " --list-all"},
	)
	if d.PublicHTTP {
		probes = append(probes,
			webProbe{"http runtime", "firewall-cmd --query-service=http"},
			webProbe{"http permanent", "firewall-cmd --permanent --query-service=http"})
	}
	facts, err := webGather(ctx, env, n, probes)
	if err != nil {
		return Status{}, err
	}
	why := webServiceDiffs(facts, "firewalld")
	why = append(why, webFileDiffs(facts, []guest.File{f})...)
	switch {
	case facts["runtime"] == "":
		why = append(why, "zone "+fwZone+" is not loaded")
	case fwListing(facts["runtime"]) != fwListing(facts["permanent"]):
		why = append(why, "zone "+fwZone+" changed but firewalld was not reloaded")
	}
	if d.PublicHTTP && (facts["http runtime"] != "yes" || facts["http permanent"] != "yes") {
		why = append(why, "http is not open in the default zone")
	}
	return webStatus(why), nil
}

func (firewallStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	if env.Profile == nil || !env.Profile.Firewalld {
		return nil
	}
	f, err := fwFile(env.Plan, n)
	if err != nil {
		return err
	}
	ex := env.SSH(n)
	if err := webUpload(ctx, ex, n, []guest.File{f}); err != nil {
		return err
	}
	script, err := webRenderScript("firewall-apply.sh.tmpl", fwPlan(env.Plan, n))
	if err != nil {
		return err
	}
	return webRun(ctx, ex, n, "load the firewall zone", guest.Cmd{Script: script})
}

// fwListing drops the markers --list-all puts after the zone name
// ("labctl (active)" at runtime, "labctl" in the permanent view), so the two
// views compare equal once firewalld has loaded the file.
func fwListing(s string) string {
	first, rest, _ := strings.Cut(s, "\n")
	if f := strings.Fields(first); len(f) > 0 {
		first = f[0]
	}
	return first + "\n" + rest
}
