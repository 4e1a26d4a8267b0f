package steps

// Shared by the web-side steps (firewall, selinux, web, load-balancer,
// wordpress-install, verify): where things go on a node, the embedded
// templates, and the probe/diff/upload helpers their Checks and Applies use.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"labctl/guest"
	"labctl/lab"
)

// webLayout is where the web-side steps put things on a node, derived from the profile.
type webLayout struct {
	WebRoot       string
	NginxDir      string // /etc/nginx: mime.types, fastcgi_params
	NginxConf     string // the whole nginx.conf
	SiteConf      string // the WordPress server block (web nodes)
	LBConf        string // the load balancer's server block
	PoolConf      string // php-fpm's pool, replacing the stock one on the same socket
	WPConfig      string
	Archive       string // the uploaded WordPress tarball, removed after unpacking
	InstallScript string // wordpress-install's PHP program
	PHPUser       string
	PHPFPMBin     string
	PHPSocket     string // what nginx connects to
	PoolSocket    string // where the pool listens (the same, or what PHPSocket links to)
	NginxUser     string
	PHPFPMService string
	NginxService  string
	SELinux       bool
}

func webLayoutFor(env *Env) (webLayout, error) {
	p := env.Profile
	if p == nil {
		return webLayout{}, fmt.Errorf("no guest profile: set profile in lab.toml (el8, el9 or debian)")
	}
	for name, v := range map[string]string{
		"WebRoot": p.WebRoot, "NginxConfDir": p.NginxConfDir, "PHPFPMPoolDir": p.PHPFPMPoolDir,
		"PHPFPMSocket": p.PHPFPMSocket, "NginxUser": p.NginxUser, "PHPFPMService": p.PHPFPMService,
		"NginxService": p.NginxService,
	} {
		if v == "" {
			return webLayout{}, fmt.Errorf("guest profile %s: %s is %q; the web steps need it", p.Name, name, v)
		}
	}
	nginxDir := path.Dir(p.NginxConfDir)
	return webLayout{
		WebRoot:       p.WebRoot,
		NginxDir:      nginxDir,
		NginxConf:     nginxDir + "/nginx.conf",
		SiteConf:      p.NginxConfDir + "/labctl-wordpress.conf",
		LBConf:        p.NginxConfDir + "/labctl-lb.conf",
		PoolConf:      p.PHPFPMPoolDir + "/www.conf",
		WPConfig:      p.WebRoot + "/wp-config.php",
		Archive:       path.Dir(p.WebRoot) + "/.labctl-wordpress.tar.gz",
		InstallScript: "/var/lib/labctl/wp-install.php",
		PHPUser:       webPHPUser(p),
		PHPFPMBin:     webPHPFPMBinary(p.PHPFPMService),
		PHPSocket:     p.PHPFPMSocket,
		PoolSocket:    p.PHPFPMSocket,
		NginxUser:     p.NginxUser,
		PHPFPMService: p.PHPFPMService,
		NginxService:  p.NginxService,
		SELinux:       p.SELinux,
	}, nil
}

// webPHPUser is the account php-fpm runs WordPress as. The profile has no
// field for it: EL packages run pools as apache (nginx joins through the
// socket's owner), Debian's as www-data, which is also nginx's user there.
func webPHPUser(p *guest.Profile) string {
	if strings.HasPrefix(p.Name, "el") {
		return "apache"
	}
	return p.NginxUser
}

var webVersionedFPM = regexp.MustCompile(`^php([0-9]+\.[0-9]+)-fpm$`)

// webPHPFPMBinary is php-fpm's program for its service name: "php8.4-fpm"
// runs php-fpm8.4 (Debian), "php-fpm" runs php-fpm (EL).
func webPHPFPMBinary(service string) string {
	if m := webVersionedFPM.FindStringSubmatch(service); m != nil {
		return "php-fpm" + m[1]
	}
	return "php-fpm"
}

var webTmpl = template.Must(template.New("web").Funcs(template.FuncMap{
	"q":    guest.Quote,
	"phpq": webPHPQuote,
}).ParseFS(webTemplates, "templates/web/*"))

// webRender executes one embedded template.
func webRender(name string, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := webTmpl.ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// webRenderScript is webRender for shell scripts.
func webRenderScript(name string, data any) (string, error) {
	b, err := webRender(name, data)
	return string(b), err
}

// webPHPQuote makes s a PHP single-quoted string literal.
func webPHPQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// webProbe is one read-only fact a Check gathers: a shell command whose
// standard output is the fact.
type webProbe struct{ Key, Cmd string }

// webProbeScript runs the probes in one round trip. Each fact follows an
// "@@ key" line; a failing probe gives an empty fact, never a failed script.
func webProbeScript(probes []webProbe) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# Read-only: facts for labctl's check; changes nothing.\n")
	for _, p := range probes {
		fmt.Fprintf(&b, "echo %s\n{ %s\n} 2>/dev/null || true\n", guest.Quote("@@ "+p.Key), p.Cmd)
	}
	return b.String()
}

// webParseFacts splits the output of webProbeScript (or any "@@ key" output) by key.
func webParseFacts(out string) map[string]string {
	facts := map[string]string{}
	key := ""
	var cur []string
	flush := func() {
		if key != "" {
			facts[key] = strings.TrimSpace(strings.Join(cur, "\n"))
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "@@ ") {
			flush()
			key, cur = strings.TrimSpace(line[3:]), nil
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return facts
}

// webGather runs the probes on n and returns the facts.
func webGather(ctx context.Context, env *Env, n *lab.Node, probes []webProbe) (map[string]string, error) {
	res, err := env.SSH(n).Run(ctx, guest.Cmd{Script: webProbeScript(probes)})
	if err != nil {
		return nil, fmt.Errorf("%s: read state: %w", n.Name(), err)
	}
	return webParseFacts(res.Stdout), nil
}

// webFileProbes read each file's sha256, mode and owner.
func webFileProbes(files []guest.File) []webProbe {
	var ps []webProbe
	for _, f := range files {
		q := guest.Quote(f.Path)
		ps = append(ps, webProbe{"file " + f.Path,
			fmt.Sprintf(`if [ -f %s ]; then echo "$(sha256sum <%s | cut -d' ' -f1) $(stat -c '%%a %%U:%%G' %s)"; fi`, q, q, q)})
	}
	return ps
}

// webFileFact is what webFileProbes reads for f when it is as wanted.
func webFileFact(f guest.File) string {
	owner := f.Owner
	if owner == "" {
		owner = "root:root"
	}
	sum := sha256.Sum256(f.Content)
	return fmt.Sprintf("%s %o %s", hex.EncodeToString(sum[:]), f.Mode.Perm(), owner)
}

// webFileDiffs names the files whose content, mode or owner differ.
func webFileDiffs(facts map[string]string, files []guest.File) []string {
	var why []string
	for _, f := range files {
		got := facts["file "+f.Path]
		switch {
		case got == "":
			why = append(why, f.Path+" is missing")
		case got != webFileFact(f):
			why = append(why, f.Path+" differs from the lab's version")
		}
	}
	return why
}

// webServiceProbes read whether each service is active and enabled.
func webServiceProbes(services ...string) []webProbe {
	var ps []webProbe
	for _, s := range services {
		ps = append(ps,
			webProbe{"active " + s, "systemctl is-active " + guest.Quote(s)},
			webProbe{"enabled " + s, "systemctl is-enabled " + guest.Quote(s)})
	}
	return ps
}

func webServiceDiffs(facts map[string]string, services ...string) []string {
	var why []string
	for _, s := range services {
		if got := facts["active "+s]; got != "active" {
			why = append(why, fmt.Sprintf("%s is %s, want active", s, webOr(got, "not installed")))
		}
		if got := facts["enabled "+s]; got != "enabled" {
			why = append(why, fmt.Sprintf("%s is %s at boot, want enabled", s, webOr(got, "unknown")))
		}
	}
	return why
}

// webUpload places the files on n.
func webUpload(ctx context.Context, ex guest.Executor, n *lab.Node, files []guest.File) error {
	for _, f := range files {
		if _, err := ex.Upload(ctx, f); err != nil {
			return fmt.Errorf("%s: upload %s: %w", n.Name(), f.Path, err)
		}
	}
	return nil
}

// webRun runs a script on n; what names the action in the error.
func webRun(ctx context.Context, ex guest.Executor, n *lab.Node, what string, cmd guest.Cmd) error {
	if _, err := ex.Run(ctx, cmd); err != nil {
		return fmt.Errorf("%s: %s: %w", n.Name(), what, err)
	}
	return nil
}

// webStatus is Done when nothing is missing.
func webStatus(why []string) Status {
	if len(why) == 0 {
		return Status{Done: true}
	}
	return Status{Why: strings.Join(why, "; ")}
}

func webOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// webSorted returns the keys of a set, sorted.
func webSorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// WordPressURL is where visitors reach the lab's WordPress: the load
// balancer, or in natnetwork mode its forward on this host
// (lab.Plan.VisitorURL). WordPress's own URL is this one.
func WordPressURL(p *lab.Plan) string { return p.VisitorURL() }

// webNginxMain renders the whole nginx.conf, shared by web nodes and the LB.
func webNginxMain(p *guest.Profile) ([]byte, error) {
	return webRender("nginx.conf.tmpl", struct{ User, Dir, ConfDir string }{
		p.NginxUser, path.Dir(p.NginxConfDir), p.NginxConfDir,
	})
}

//go:embed templates/web/*
var webTemplates embed.FS

// webFirstLines shortens command output for an error message.
func webFirstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " | ")
}
