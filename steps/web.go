package steps

// Step "web": nginx + php-fpm + WordPress on every web node.
//
// Reads: plan (web nodes, LB address, VIP, WordPress archive), secrets
// (WordPress DB password, salts), profile (paths, users, services).
// Writes on each web node: the WordPress files under profile.WebRoot (root's,
// only wp-content/uploads writable by php-fpm), nginx.conf, the WordPress
// server block, the php-fpm pool and wp-config.php (0640 root:<php user>: it
// holds the DB password, so the file is uploaded, never put in a command).
//
// The runbook, in order:
//  1. fetch the WordPress archive once on the host (cached in the state
//     folder, sha256 verified when lab.toml gives one) and unpack it where it
//     is missing;
//  2. upload the rendered configuration;
//  3. php -l wp-config.php, php-fpm -t, nginx -t, then enable and (re)load.

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"labctl/guest"
	"labctl/lab"
)

// webDefaultArchive is fetched when lab.toml names no WordPress archive.
const webDefaultArchive = "https://wordpress.org/latest.tar.gz"

// Web returns the step that makes the web nodes serve WordPress.
func Web() Step { return webStep{} }

type webStep struct{}

func (webStep) Name() string                  { return "web" }
func (webStep) Title() string                 { return "Setting up nginx, php-fpm and WordPress on the web nodes" }
func (webStep) Targets(p *lab.Plan) lab.Nodes { return p.Web() }
func (webStep) Needs() []string               { return []string{"packages"} }

func (webStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	l, err := webNodeLayout(ctx, env, n)
	if err != nil {
		return Status{}, err
	}
	files, err := webFiles(env, l, n)
	if err != nil {
		return Status{}, err
	}
	probes := webFileProbes(files)
	probes = append(probes,
		webProbe{"wordpress", webVersionProbe(l.WebRoot)},
		webProbe{"uploads", "stat -c %U:%G " + guest.Quote(l.WebRoot+"/wp-content/uploads")},
	)
	services := []string{l.PHPFPMService, l.NginxService}
	probes = append(probes, webServiceProbes(services...)...)
	if env.Profile.SELinux {
		// restorecon -n reports what it would relabel, and changes nothing.
		probes = append(probes, webProbe{"relabel", "restorecon -R -n -v " + guest.Quote(l.WebRoot) + " | head -n 3"})
	}
	probes = append(probes, stampProbe(webStamp))
	facts, err := webGather(ctx, env, n, probes)
	if err != nil {
		return Status{}, err
	}
	var why []string
	if facts["wordpress"] == "" {
		why = append(why, "WordPress is not unpacked in "+l.WebRoot)
	}
	why = append(why, webFileDiffs(facts, files)...)
	if want := l.PHPUser + ":" + l.PHPUser; facts["uploads"] != want {
		why = append(why, fmt.Sprintf("wp-content/uploads is owned by %q, want %s", facts["uploads"], want))
	}
	why = append(why, webServiceDiffs(facts, services...)...)
	if env.Profile.SELinux && facts["relabel"] != "" {
		why = append(why, "SELinux labels under "+l.WebRoot+" need restorecon")
	}
	if len(why) == 0 {
		why = stampDiffs(env, facts, webStamp, "nginx or php-fpm", files)
	}
	return webStatus(why), nil
}

func (webStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	l, err := webNodeLayout(ctx, env, n)
	if err != nil {
		return err
	}
	ex := env.SSH(n)

	// 1. WordPress itself, unpacked once.
	facts, err := webGather(ctx, env, n, []webProbe{{"wordpress", webVersionProbe(l.WebRoot)}})
	if err != nil {
		return err
	}
	if facts["wordpress"] == "" {
		archive, err := webArchive(ctx, env)
		if err != nil {
			return fmt.Errorf("%s: %w", n.Name(), err)
		}
		if _, err := ex.Upload(ctx, guest.File{Path: l.Archive, Content: archive, Mode: 0o600, Transient: true}); err != nil {
			return fmt.Errorf("%s: upload WordPress archive: %w", n.Name(), err)
		}
		script, err := webRenderScript("web-extract.sh.tmpl", l)
		if err != nil {
			return err
		}
		if err := webRun(ctx, ex, n, "unpack WordPress", guest.Cmd{Script: script}); err != nil {
			return err
		}
	}

	// 2. The configuration, identical on both web nodes but for the pool's comment.
	files, err := webFiles(env, l, n)
	if err != nil {
		return err
	}
	if err := webUpload(ctx, ex, n, files); err != nil {
		return err
	}

	// 3. Validate, enable, (re)load.
	script, err := webRenderScript("web-apply.sh.tmpl", struct {
		webLayout
		Node string
	}{l, n.Name()})
	if err != nil {
		return err
	}
	return webRun(ctx, ex, n, "start php-fpm and nginx", guest.Cmd{Script: script + stampScript(env, webStamp, files)})
}

// webStamp names a web node's loaded-configuration stamp.
const webStamp = "web.loaded"

// webNodeLayout is webLayoutFor completed with node n's php-fpm: where the
// profile names it by pattern (Debian: the PHP version differs per
// release), the installed one is looked up on the node.
func webNodeLayout(ctx context.Context, env *Env, n *lab.Node) (webLayout, error) {
	l, err := webLayoutFor(env)
	if err != nil || !strings.Contains(env.Profile.PHPFPMPoolDir, "*") {
		return l, err
	}
	script := "#!/bin/sh\n# Read-only: which php-fpm is installed.\nset -eu\n" + env.Profile.PHPFPMDiscover() +
		"echo '@@ service'\necho \"$PHP_FPM_SERVICE\"\necho '@@ pooldir'\necho \"$PHP_FPM_POOL_DIR\"\n"
	res, err := env.SSH(n).Run(ctx, guest.Cmd{Script: script, Fresh: guest.Prints(webFreshFPM(env.Profile))})
	if err != nil {
		return l, fmt.Errorf("%s: find php-fpm: %w", n.Name(), err)
	}
	facts := webParseFacts(res.Stdout)
	svc, dir := facts["service"], facts["pooldir"]
	m := webVersionedFPM.FindStringSubmatch(svc)
	if m == nil || !strings.HasPrefix(dir, "/") {
		return l, fmt.Errorf("%s: php-fpm lookup printed service %q, pool folder %q", n.Name(), svc, dir)
	}
	l.PHPFPMService = svc
	l.PHPFPMBin = webPHPFPMBinary(svc)
	l.PoolConf = dir + "/www.conf"
	// The pool keeps the package's versioned socket (its socket helper would
	// replace the version-free name by a link to itself), and nginx connects
	// to that same socket: the version-free link is made by a helper that a
	// replaced www.conf or a container boot may not run, and then nginx
	// would answer 502 for every page.
	l.PoolSocket = path.Dir(env.Profile.PHPFPMSocket) + "/php" + m[1] + "-fpm.sock"
	l.PHPSocket = l.PoolSocket
	return l, nil
}

// webFreshFPM is what the php-fpm lookup prints on a fresh node of
// profile p: its FreshPHP service and that version's pool folder.
func webFreshFPM(p *guest.Profile) string {
	m := webVersionedFPM.FindStringSubmatch(p.FreshPHP)
	if m == nil {
		return ""
	}
	return "@@ service\n" + p.FreshPHP + "\n@@ pooldir\n" + strings.Replace(p.PHPFPMPoolDir, "*", m[1], 1) + "\n"
}

// webFiles are the files web node n receives.
func webFiles(env *Env, l webLayout, n *lab.Node) ([]guest.File, error) {
	lb := env.Plan.LB()
	if lb == nil {
		return nil, fmt.Errorf("the lab has no load balancer node: add a node with role \"lb\" to lab.toml")
	}
	main, err := webNginxMain(env.Profile)
	if err != nil {
		return nil, err
	}
	site, err := webRender("nginx-wordpress.conf.tmpl", struct {
		webLayout
		Node, LBIP string
	}{l, n.Name(), lb.IP.String()})
	if err != nil {
		return nil, err
	}
	pool, err := webRender("php-fpm-pool.conf.tmpl", struct {
		webLayout
		Node string
	}{l, n.Name()})
	if err != nil {
		return nil, err
	}
	cfg, err := webWPConfig(env)
	if err != nil {
		return nil, err
	}
	return []guest.File{
		{Path: l.NginxConf, Content: main, Mode: 0o644},
		{Path: l.SiteConf, Content: site, Mode: 0o644},
		{Path: l.PoolConf, Content: pool, Mode: 0o644},
		// php-fpm reads it through its group; nobody else may: it holds the DB password.
		{Path: l.WPConfig, Content: cfg, Mode: 0o640, Owner: "root:" + l.PHPUser},
	}, nil
}

// webWPConfig renders the one wp-config.php both web nodes share.
func webWPConfig(env *Env) ([]byte, error) {
	s := env.Secrets
	if s == nil || s.WordPressDB == "" {
		return nil, fmt.Errorf("wp-config.php: the lab's WordPress database password is missing from the state folder")
	}
	type salt struct{ Name, Value string }
	var salts []salt
	var missing []string
	for _, name := range lab.WPSaltNames {
		v := s.WPSalts[name]
		if v == "" {
			missing = append(missing, name)
		}
		salts = append(salts, salt{name, v})
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("wp-config.php: WordPress salts %s are missing from the lab's secrets", strings.Join(missing, ", "))
	}
	if !env.Plan.VIP.IsValid() {
		return nil, fmt.Errorf("wp-config.php: the lab has no MySQL VIP: set vip in lab.toml")
	}
	return webRender("wp-config.php.tmpl", map[string]any{
		"Lab":        env.Plan.Name,
		"DBName":     WordPressDatabase,
		"DBUser":     MySQLWordPressUser,
		"DBPassword": s.WordPressDB,
		"DBHost":     env.Plan.VIP.String(),
		"Salts":      salts,
		"URL":        WordPressURL(env.Plan),
		"AltURLs":    webAltURLs(env.Plan),
	})
}

// webVersionProbe prints the unpacked WordPress version, or nothing.
func webVersionProbe(root string) string {
	return "sed -n \"s/^\\$wp_version = '\\(.*\\)';/\\1/p\" " + guest.Quote(root+"/wp-includes/version.php")
}

// webArchive returns the WordPress tarball through env.Fetch (FetchArchive
// when unset), cached in the lab's state folder. Its sha256 is checked
// against lab.toml's wordpress_sha256 when set, and logged otherwise.
func webArchive(ctx context.Context, env *Env) ([]byte, error) {
	src := env.Plan.WordPressArchive
	if src == "" {
		src = webDefaultArchive
	}
	fetch := env.Fetch
	if fetch == nil {
		fetch = FetchArchive
	}
	data, err := fetch(ctx, src, env.Plan.WordPressSHA256, filepath.Join(env.Plan.StateDir, "cache"))
	if err != nil {
		return nil, err
	}
	if env.Log != nil && env.Plan.WordPressSHA256 == "" {
		sum := sha256.Sum256(data)
		fmt.Fprintf(env.Log, "web: WordPress archive from %s has sha256 %x; set wordpress_sha256 in lab.toml to pin it\n", src, sum)
	}
	return data, nil
}

// webAltURLs are the other addresses WordPress answers to: in natnetwork
// mode the load balancer's own address, which the lab's nodes use (verify,
// exercises); none otherwise.
func webAltURLs(p *lab.Plan) []string {
	if p.VisitorURL() == p.LabURL() || p.LabURL() == "" {
		return nil
	}
	return []string{p.LabURL()}
}
