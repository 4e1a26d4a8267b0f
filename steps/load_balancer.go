package steps

// Step "load-balancer" (the LB node): nginx in front of both web nodes.
//
// The runbook:
//  1. nginx.conf owned whole by labctl (no stock default server to win
//     over the lab's), and one server block: an upstream over every web
//     node with passive health checks (max_fails/fail_timeout,
//     proxy_next_upstream on errors, timeouts and 502-504), Host and
//     X-Forwarded-For/-Proto/-Host passed on, an X-Upstream header naming
//     the web node that answered. No sub_filter: WordPress itself knows its
//     URL (WP_HOME/WP_SITEURL, see the web step).
//  2. nginx -t, then enable and (re)load nginx.
//
// Reads: plan (web node IPs), profile (nginx paths, user, service).
// Writes: nginx.conf and the load balancer's server block.

import (
	"context"
	"fmt"

	"labctl/guest"
	"labctl/lab"
)

// LoadBalancer returns the step that configures nginx on the load balancer.
func LoadBalancer() Step { return lbStep{} }

type lbStep struct{}

func (lbStep) Name() string    { return "load-balancer" }
func (lbStep) Title() string   { return "Setting up the nginx load balancer" }
func (lbStep) Needs() []string { return []string{"packages"} }
func (lbStep) Targets(p *lab.Plan) lab.Nodes {
	if lb := p.LB(); lb != nil {
		return lab.Nodes{lb}
	}
	return nil
}

// lbConfData is what the server block is rendered from.
type lbConfData struct {
	Listen   string   // "80"
	Backends []string // "ip:port" of each web node
	// HostVar is the nginx variable passed on as Host: $host, or in
	// natnetwork mode $http_host, which keeps the port of the host's
	// forward (127.0.0.1:<port>) so WordPress sees the address typed.
	HostVar string
}

// lbConf renders the load balancer's server block.
func lbConf(d lbConfData) ([]byte, error) {
	if d.HostVar == "" {
		d.HostVar = "$host"
	}
	if len(d.Backends) == 0 {
		return nil, fmt.Errorf("the load balancer has no web node to send requests to: add nodes with role \"web\" to lab.toml")
	}
	return webRender("nginx-lb.conf.tmpl", d)
}

// lbFiles are the files the load balancer receives.
func lbFiles(env *Env) ([]guest.File, error) {
	l, err := webLayoutFor(env)
	if err != nil {
		return nil, err
	}
	d := lbConfData{Listen: "80", HostVar: "$host"}
	if env.Plan.Forwarded() {
		d.HostVar = "$http_host"
	}
	for _, w := range env.Plan.Web() {
		d.Backends = append(d.Backends, w.IP.String()+":80")
	}
	site, err := lbConf(d)
	if err != nil {
		return nil, err
	}
	main, err := webNginxMain(env.Profile)
	if err != nil {
		return nil, err
	}
	return []guest.File{
		{Path: l.NginxConf, Content: main, Mode: 0o644},
		{Path: l.LBConf, Content: site, Mode: 0o644},
	}, nil
}

func (lbStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	files, err := lbFiles(env)
	if err != nil {
		return Status{}, err
	}
	svc := env.Profile.NginxService
	probes := append(webFileProbes(files), webServiceProbes(svc)...)
	facts, err := webGather(ctx, env, n, append(probes, stampProbe(lbStamp)))
	if err != nil {
		return Status{}, err
	}
	why := webFileDiffs(facts, files)
	why = append(why, webServiceDiffs(facts, svc)...)
	if len(why) == 0 {
		why = stampDiffs(env, facts, lbStamp, svc, files)
	}
	return webStatus(why), nil
}

func (lbStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	files, err := lbFiles(env)
	if err != nil {
		return err
	}
	ex := env.SSH(n)
	if err := webUpload(ctx, ex, n, files); err != nil {
		return err
	}
	script, err := lbApplyScript(env, n)
	if err != nil {
		return err
	}
	return webRun(ctx, ex, n, "start nginx", guest.Cmd{Script: script + stampScript(env, lbStamp, files)})
}

// lbStamp names the load balancer's loaded-configuration stamp.
const lbStamp = "nginx-lb.loaded"

// lbApplyScript validates and (re)loads nginx.
func lbApplyScript(env *Env, n *lab.Node) (string, error) {
	return webRenderScript("lb-apply.sh.tmpl", struct{ Node, NginxService string }{n.Name(), env.Profile.NginxService})
}
