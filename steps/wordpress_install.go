package steps

// Step "wordpress-install" (the first web node): WordPress installed once,
// unattended, with the site title, admin user and email from lab.toml and
// the lab's generated admin password.
//
// The runbook: a small PHP program, uploaded to the node, loads WordPress
// and calls wp_install() – no HTTP round trip, no form nonce, no dependence
// on the load balancer – running as the php-fpm user; the password reaches it
// on stdin. Because wp-config.php defines WP_SITEURL, the stored site URL is
// the load balancer's. If WordPress was already installed with another URL
// stored (by hand, through a proxy that hid the Host), the program corrects
// the stored siteurl and home.
//
// Check pipes a read-only PHP program into php: WordPress installed, and the
// stored siteurl (SELECT option_value FROM wp_options WHERE
// option_name='siteurl') is the load balancer's URL.
//
// Reads: plan (title, admin user/email, LB), secrets (admin password).
// Writes: the WordPress tables (through wp_install) and the install program.

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"labctl/guest"
	"labctl/lab"
)

// WordPressInstall returns the step that installs WordPress unattended.
func WordPressInstall() Step { return wpInstallStep{} }

type wpInstallStep struct{}

func (wpInstallStep) Name() string  { return "wordpress-install" }
func (wpInstallStep) Title() string { return "Installing WordPress" }

// Needs the load balancer too: wp_install() probes pretty permalinks over
// HTTP at the site URL, and keeps them off when nothing answers there.
func (wpInstallStep) Needs() []string { return []string{"wordpress-db", "web", "load-balancer"} }

// CrossNode: the install goes through the web nodes to the database.
func (wpInstallStep) CrossNode() bool { return true }
func (wpInstallStep) Targets(p *lab.Plan) lab.Nodes {
	if w := p.Web().First(); w != nil {
		return lab.Nodes{w}
	}
	return nil
}

// wpData is what the PHP programs are rendered from.
func wpData(env *Env) (map[string]any, error) {
	p := env.Plan
	var missing []string
	for name, v := range map[string]string{"title": p.SiteTitle, "admin_user": p.AdminUser, "admin_email": p.AdminEmail} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("lab.toml: the WordPress %s must be set to install WordPress", strings.Join(missing, ", "))
	}
	if p.LB() == nil {
		return nil, fmt.Errorf("the lab has no load balancer node: add a node with role \"lb\" to lab.toml")
	}
	l, err := webLayoutFor(env)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"Lab":        p.Name,
		"Host":       strings.TrimPrefix(WordPressURL(p), "http://"),
		"URL":        WordPressURL(p),
		"WebRoot":    l.WebRoot,
		"Title":      p.SiteTitle,
		"AdminUser":  p.AdminUser,
		"AdminEmail": p.AdminEmail,
		"PHPUser":    l.PHPUser,
		"Script":     l.InstallScript,
	}, nil
}

var wpCheckLine = regexp.MustCompile(`(?m)^labctl-wp installed=([01]) admin=([01]) siteurl=(.*)$`)

func (wpInstallStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	d, err := wpData(env)
	if err != nil {
		return Status{}, err
	}
	script, err := webRenderScript("wp-check.sh.tmpl", d)
	if err != nil {
		return Status{}, err
	}
	program, err := webRender("wp-check.php.tmpl", d)
	if err != nil {
		return Status{}, err
	}
	res, err := env.SSH(n).Run(ctx, guest.Cmd{Script: script, Stdin: program})
	if err != nil {
		return Status{}, fmt.Errorf("%s: read WordPress's install state: %w", n.Name(), err)
	}
	m := wpCheckLine.FindStringSubmatch(res.Stdout)
	if m == nil {
		// WordPress prints an HTML error page when it cannot reach its database.
		return Status{}, fmt.Errorf("%s: WordPress did not load (are its files in place, and the database reachable through the VIP?): %s",
			n.Name(), webFirstLines(res.Stdout+res.Stderr, 3))
	}
	switch url := strings.TrimSpace(m[3]); {
	case m[1] != "1":
		return Status{Why: "WordPress is not installed"}, nil
	case url != d["URL"]:
		return Status{Why: fmt.Sprintf("WordPress's stored site URL is %q, want %s", url, d["URL"])}, nil
	}
	return Status{Done: true}, nil
}

func (wpInstallStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	d, err := wpData(env)
	if err != nil {
		return err
	}
	if env.Secrets == nil || env.Secrets.WordPressAdmin == "" {
		return fmt.Errorf("the WordPress admin password is missing from the lab's state folder")
	}
	program, err := webRender("wp-install.php.tmpl", d)
	if err != nil {
		return err
	}
	script, err := webRenderScript("wp-install.sh.tmpl", d)
	if err != nil {
		return err
	}
	ex := env.SSH(n)
	// The program holds no secret: readable by the php-fpm user it runs as.
	if err := webUpload(ctx, ex, n, []guest.File{{Path: d["Script"].(string), Content: program, Mode: 0o644}}); err != nil {
		return err
	}
	return webRun(ctx, ex, n, "install WordPress", guest.Cmd{Script: script, Stdin: []byte(env.Secrets.WordPressAdmin + "\n")})
}
