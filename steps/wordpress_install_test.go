package steps

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"labctl/guest"
)

func TestWordPressInstallCheckApplyCheck(t *testing.T) {
	for _, profile := range []string{"el8", "debian"} {
		t.Run(profile, func(t *testing.T) {
			l := wtFakeLab(t, profile)
			targets := WordPressInstall().Targets(l.env.Plan)
			if len(targets) != 1 || targets[0].VM != "SERVER-ONE" {
				t.Fatalf("targets %v, want the first web node only", targets.Names())
			}
			n := targets[0]
			st := wtCycle(t, WordPressInstall(), l.env, n)
			if st.Why != "WordPress is not installed" {
				t.Errorf("first check: %q", st.Why)
			}
			g := l.guests[n.VM]
			lay := path0(l)
			prog, ok := g.files[lay.InstallScript]
			if !ok {
				t.Fatal("install program not uploaded")
			}
			for _, want := range []string{"wp_install( 'Lab\\'s WordPress', 'labadmin', 'admin@lab.example', true, '', $password )", "stream_get_contents( STDIN )"} {
				if !bytes.Contains(prog.Content, []byte(want)) {
					t.Errorf("install program lacks %q", want)
				}
			}
			if bytes.Contains(prog.Content, []byte(l.env.Secrets.WordPressAdmin)) {
				t.Error("the admin password is in the uploaded program")
			}
			var install guest.Cmd
			for _, c := range g.scripts() {
				if strings.Contains(c.Script, lay.InstallScript) {
					install = c
				}
			}
			if string(install.Stdin) != l.env.Secrets.WordPressAdmin+"\n" {
				t.Errorf("admin password not on stdin: %q", install.Stdin)
			}
			if !strings.Contains(install.Script, "runuser -u "+lay.PHPUser+" -- php") {
				t.Errorf("install does not run as the php-fpm user:\n%s", install.Script)
			}
			wtNoSecretInScripts(t, l)
		})
	}
}

func TestWordPressInstallCheckReadsStoredURL(t *testing.T) {
	l := wtFakeLab(t, "el8")
	n := l.node("SERVER-ONE")
	g := l.guests[n.VM]
	g.effect = func(*wtGuest, guest.Cmd) (guest.Result, error) {
		return guest.Result{Stdout: "labctl-wp installed=1 admin=1 siteurl=http://backend\n"}, nil
	}
	st, err := WordPressInstall().Check(context.Background(), l.env, n)
	if err != nil || st.Done || !strings.Contains(st.Why, `"http://backend"`) || !strings.Contains(st.Why, "http://192.168.1.120") {
		t.Errorf("wrong stored URL: %+v %v", st, err)
	}
	// WordPress that cannot reach its database prints an HTML page: an error naming the node.
	g.effect = func(*wtGuest, guest.Cmd) (guest.Result, error) {
		return guest.Result{Stdout: "<html><body><h1>Error establishing a database connection</h1></body></html>\n"}, nil
	}
	if _, err := WordPressInstall().Check(context.Background(), l.env, n); err == nil ||
		!strings.Contains(err.Error(), "SERVER-ONE") || !strings.Contains(err.Error(), "Error establishing a database connection") {
		t.Errorf("DB down: %v", err)
	}
}

func TestWordPressInstallRefusesMissingSettings(t *testing.T) {
	l := wtFakeLab(t, "el8")
	l.env.Plan.AdminEmail = ""
	l.env.Plan.SiteTitle = " "
	_, err := WordPressInstall().Check(context.Background(), l.env, l.node("SERVER-ONE"))
	if err == nil || !strings.Contains(err.Error(), "admin_email") || !strings.Contains(err.Error(), "title") {
		t.Errorf("missing settings: %v", err)
	}
	l = wtFakeLab(t, "el8")
	l.env.Secrets.WordPressAdmin = ""
	if err := WordPressInstall().Apply(context.Background(), l.env, l.node("SERVER-ONE")); err == nil || !strings.Contains(err.Error(), "admin password") {
		t.Errorf("missing password: %v", err)
	}
}

func TestWordPressURLs(t *testing.T) {
	p := wtPlan(t)
	if WordPressURL(p) != "http://192.168.1.120" {
		t.Errorf("%s", WordPressURL(p))
	}
}
