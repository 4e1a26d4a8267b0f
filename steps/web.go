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
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"text/template"
	"time"

	"labctl/guest"
	"labctl/lab"
)

//go:embed templates/web/*
var webTemplates embed.FS

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
		if _, err := ex.Upload(ctx, guest.File{Path: l.Archive, Content: archive, Mode: 0o600}); err != nil {
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
	return webRun(ctx, ex, n, "start php-fpm and nginx", guest.Cmd{Script: script})
}

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
	res, err := env.SSH(n).Run(ctx, guest.Cmd{Script: script})
	if err != nil {
		return l, fmt.Errorf("%s: find php-fpm: %w", n.Name(), err)
	}
	facts := webParseFacts(res.Stdout)
	svc, dir := facts["service"], facts["pooldir"]
	m := webVersionedFPM.FindStringSubmatch(svc)
	if m == nil || !strings.HasPrefix(dir, "/") {
		if env.Mode == ModePlan {
			return l, nil // recorders answer nothing: the plan shows the patterns
		}
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

// webNginxMain renders the whole nginx.conf, shared by web nodes and the LB.
func webNginxMain(p *guest.Profile) ([]byte, error) {
	return webRender("nginx.conf.tmpl", struct{ User, Dir, ConfDir string }{
		p.NginxUser, path.Dir(p.NginxConfDir), p.NginxConfDir,
	})
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
	})
}

// WordPressURL is where visitors reach the lab's WordPress: the load balancer.
func WordPressURL(p *lab.Plan) string {
	if lb := p.LB(); lb != nil {
		return "http://" + lb.IP.String()
	}
	return ""
}

// webVersionProbe prints the unpacked WordPress version, or nothing.
func webVersionProbe(root string) string {
	return "sed -n \"s/^\\$wp_version = '\\(.*\\)';/\\1/p\" " + guest.Quote(root+"/wp-includes/version.php")
}

// --- The WordPress archive, fetched once on the host ---

// webArchiveMu keeps two web nodes from downloading the archive at once: the
// second finds it in the cache.
var webArchiveMu sync.Mutex

// webArchive returns the WordPress tarball: a host file as is, or a URL
// downloaded once into the lab's state folder. Its sha256 is checked against
// lab.toml's wordpress_sha256 when set, and logged otherwise.
func webArchive(ctx context.Context, env *Env) ([]byte, error) {
	src := env.Plan.WordPressArchive
	if src == "" {
		src = webDefaultArchive
	}
	if env.Mode == ModePlan {
		// No live system and no download: the plan shows where the archive comes from.
		return []byte("(WordPress archive from " + src + ")\n"), nil
	}
	webArchiveMu.Lock()
	defer webArchiveMu.Unlock()

	file := src
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		sum := sha256.Sum256([]byte(src))
		file = filepath.Join(env.Plan.StateDir, "cache", "wordpress-"+hex.EncodeToString(sum[:8])+".tar.gz")
		if _, err := os.Stat(file); err != nil {
			if err := webDownload(ctx, src, file); err != nil {
				return nil, err
			}
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read WordPress archive: %w (check wordpress_archive in lab.toml)", err)
	}
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return nil, fmt.Errorf("WordPress archive %s is not a .tar.gz file: point wordpress_archive in lab.toml at a WordPress release tarball", file)
	}
	sum := sha256.Sum256(data)
	got := hex.EncodeToString(sum[:])
	if want := strings.ToLower(strings.TrimSpace(env.Plan.WordPressSHA256)); want != "" && want != got {
		return nil, fmt.Errorf("WordPress archive %s has sha256 %s but lab.toml's wordpress_sha256 is %s: fix wordpress_sha256, or delete the file if it is a stale download, and re-run", file, got, want)
	}
	if env.Log != nil && env.Plan.WordPressSHA256 == "" {
		fmt.Fprintf(env.Log, "web: WordPress archive %s (from %s) sha256 %s; set wordpress_sha256 in lab.toml to pin it\n", file, src, got)
	}
	return data, nil
}

// webDownload fetches url into file atomically, so a broken download never
// poses as the cached archive.
func webDownload(ctx context.Context, url, file string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("download WordPress: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("download WordPress from %s: %w (set wordpress_archive in lab.toml to a local tarball when offline)", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download WordPress from %s: HTTP %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("download WordPress: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".download-*")
	if err != nil {
		return fmt.Errorf("download WordPress: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return fmt.Errorf("download WordPress from %s: %w", url, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("download WordPress: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("download WordPress: %w", err)
	}
	return nil
}

// --- Helpers shared by the web-side steps (firewall, selinux, web, lb, wordpress, verify) ---

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
