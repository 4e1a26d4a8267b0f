package steps

// Step "selinux" (every node, where the profile has SELinux): SELinux stays
// enforcing (now and after a reboot); each role gets only what it needs:
//
//	db   33061/tcp typed mysqld_port_t, or mysqld may not bind group
//	     replication's communication port
//	web  httpd_can_network_connect_db (php-fpm runs as httpd_t and must reach
//	     MySQL over TCP); the WordPress folder httpd_sys_content_t and its
//	     uploads httpd_sys_rw_content_t (semanage fcontext + restorecon)
//	lb   httpd_can_network_connect (nginx proxies to the web nodes)
//
// Booleans are set with -P so they survive a reboot. Check reads getenforce,
// the SELinux config, semanage's port and local file-context lists,
// getsebool, and restorecon -n (which changes nothing).
//
// Reads: plan (roles), profile (SELinux, WebRoot, InstallCmd). Writes: SELinux
// policy settings only.

import (
	"context"
	"fmt"
	"strings"

	"labctl/guest"
	"labctl/lab"
)

// seSemanagePackage provides semanage on the EL family (el8, el9).
const seSemanagePackage = "policycoreutils-python-utils"

// SELinux returns the step that keeps SELinux enforcing and opens what the lab needs.
func SELinux() Step { return selinuxStep{} }

type selinuxStep struct{}

func (selinuxStep) Name() string                  { return "selinux" }
func (selinuxStep) Title() string                 { return "Configuring SELinux (enforcing) for each role" }
func (selinuxStep) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }

type (
	sePort struct {
		Type, Proto, Why string
		Port             int
	}
	seBoolean  struct{ Name, Why string }
	seFContext struct{ Spec, Type, Why string }
)

// seData is node n's SELinux settings.
type seData struct {
	Node, Role      string
	InstallCmd      string
	SemanagePackage string
	Ports           []sePort
	Booleans        []seBoolean
	FContexts       []seFContext
	WebRoot         string // relabelled when present (web nodes)
}

func sePlan(env *Env, n *lab.Node) seData {
	d := seData{Node: n.Name(), Role: string(n.Role), InstallCmd: env.Profile.InstallCmd, SemanagePackage: seSemanagePackage}
	switch n.Role {
	case lab.RoleDB:
		d.Ports = []sePort{{Type: "mysqld_port_t", Proto: "tcp", Port: dbXComPort,
			Why: "group replication's communication port: mysqld may bind only mysqld_port_t ports"}}
	case lab.RoleWeb:
		root := env.Profile.WebRoot
		d.Booleans = []seBoolean{{"httpd_can_network_connect_db", "php-fpm (httpd_t) connects to MySQL through the VIP"}}
		d.FContexts = []seFContext{
			{root + "(/.*)?", "httpd_sys_content_t", "WordPress: readable by nginx and php-fpm"},
			{root + "/wp-content/uploads(/.*)?", "httpd_sys_rw_content_t", "media uploads: writable by php-fpm"},
		}
		d.WebRoot = root
	case lab.RoleLB:
		d.Booleans = []seBoolean{{"httpd_can_network_connect", "nginx proxies to the web nodes"}}
	}
	return d
}

func (selinuxStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	if env.Profile == nil || !env.Profile.SELinux {
		return Status{Done: true, Why: "no SELinux in this guest profile"}, nil
	}
	d := sePlan(env, n)
	probes := []webProbe{
		{"enforce", "getenforce"},
		{"config", "sed -n 's/^SELINUX=//p' /etc/selinux/config"},
	}
	if len(d.Ports) > 0 {
		probes = append(probes, webProbe{"ports", "semanage port -l"})
	}
	for _, b := range d.Booleans {
		probes = append(probes, webProbe{"bool " + b.Name, "getsebool " + b.Name})
	}
	if len(d.FContexts) > 0 {
		probes = append(probes, webProbe{"fcontexts", "semanage fcontext -l -C"})
	}
	if d.WebRoot != "" {
		probes = append(probes, webProbe{"relabel", "if [ -d " + guest.Quote(d.WebRoot) + " ]; then restorecon -R -n -v " + guest.Quote(d.WebRoot) + " | head -n 3; fi"})
	}
	facts, err := webGather(ctx, env, n, probes)
	if err != nil {
		return Status{}, err
	}
	var why []string
	if facts["enforce"] != "Enforcing" {
		why = append(why, fmt.Sprintf("SELinux is %s, want Enforcing", webOr(facts["enforce"], "unknown")))
	}
	if facts["config"] != "enforcing" {
		why = append(why, fmt.Sprintf("/etc/selinux/config says SELINUX=%s, want enforcing", facts["config"]))
	}
	for _, p := range d.Ports {
		if !sePortTyped(facts["ports"], p) {
			why = append(why, fmt.Sprintf("port %d/%s is not %s", p.Port, p.Proto, p.Type))
		}
	}
	for _, b := range d.Booleans {
		if facts["bool "+b.Name] != b.Name+" --> on" {
			why = append(why, b.Name+" is off")
		}
	}
	for _, fc := range d.FContexts {
		if !seFContextSet(facts["fcontexts"], fc) {
			why = append(why, fmt.Sprintf("no file context %s for %s", fc.Type, fc.Spec))
		}
	}
	if facts["relabel"] != "" {
		why = append(why, d.WebRoot+" needs restorecon")
	}
	return webStatus(why), nil
}

func (selinuxStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	if env.Profile == nil || !env.Profile.SELinux {
		return nil
	}
	script, err := webRenderScript("selinux-apply.sh.tmpl", sePlan(env, n))
	if err != nil {
		return err
	}
	return webRun(ctx, env.SSH(n), n, "configure SELinux", guest.Cmd{Script: script})
}

// sePortTyped reads `semanage port -l` ("mysqld_port_t  tcp  33061, 1186, 3306").
func sePortTyped(list string, p sePort) bool {
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(strings.ReplaceAll(line, ",", " "))
		if len(f) < 3 || f[0] != p.Type || f[1] != p.Proto {
			continue
		}
		for _, port := range f[2:] {
			if port == fmt.Sprint(p.Port) {
				return true
			}
		}
	}
	return false
}

// seFContextSet reads `semanage fcontext -l -C`
// ("/srv/wp(/.*)?   all files   system_u:object_r:httpd_sys_content_t:s0").
func seFContextSet(list string, fc seFContext) bool {
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == fc.Spec && strings.Contains(f[len(f)-1], ":"+fc.Type+":") {
			return true
		}
	}
	return false
}
