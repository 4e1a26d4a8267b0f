package steps

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestVerifyHealthyLab(t *testing.T) {
	l := wtFakeLab(t, "el8")
	wtHealthyLab(l)
	rep, err := RunVerify(context.Background(), l.env)
	if err != nil {
		t.Fatalf("healthy lab: %v", err)
	}
	// 3 group views + VIP + 2 web nodes + page + balancing.
	if len(rep.Rows) != 8 || len(rep.Failed()) != 0 {
		t.Fatalf("rows: %+v", rep.Rows)
	}
	var buf bytes.Buffer
	rep.Print(&buf)
	out := buf.String()
	for _, want := range []string{
		"CHECK", "group replication  SQL-TWO", "3 members ONLINE, primary SQL-ONE",
		"vip on primary", "192.168.1.150 is on the primary",
		"mysql via vip      SERVER-TWO", "answered as sql-one, writable",
		`200, "Lab’s WordPress"`, "reached 192.168.1.110:80 and 192.168.1.111:80",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("FAIL in a healthy table:\n%s", out)
	}
	// Root's password went on stdin as an option file; the WordPress one too.
	for _, g := range l.guests {
		for _, c := range g.cmds {
			if strings.Contains(c.Script, "@@ members") && !strings.Contains(string(c.Stdin), `password="`+l.env.Secrets.MySQLRoot+`"`) {
				t.Errorf("%s: root option file not on stdin", g.node.VM)
			}
		}
	}
	wtNoSecretInScripts(t, l)

	st, err := Verify().Check(context.Background(), l.env, l.node("LOAD-BALANCER"))
	if err != nil || !st.Done {
		t.Errorf("verify step check: %+v %v", st, err)
	}
}

func TestVerifyFindsFailures(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(l *wtLab)
		want   []string
	}{
		{"member recovering", func(l *wtLab) {
			g := l.guests["SQL-THREE"]
			g.facts["verify db"] = strings.Replace(g.facts["verify db"], "192.168.1.102\tONLINE", "192.168.1.102\tRECOVERING", 1)
		}, []string{"group replication on SQL-THREE: 2 of 3 members ONLINE"}},
		{"vip on a secondary too", func(l *wtLab) {
			l.guests["SQL-TWO"].facts["verify db"] += "192.168.1.150\n"
		}, []string{"vip on primary on SQL-ONE: 192.168.1.150 is on SQL-ONE, SQL-TWO, want only the primary SQL-ONE"}},
		{"no vip", func(l *wtLab) {
			g := l.guests["SQL-ONE"]
			g.facts["verify db"] = strings.Replace(g.facts["verify db"], "192.168.1.150\n", "", 1)
		}, []string{"no DB node holds 192.168.1.150"}},
		{"vip answers on a secondary", func(l *wtLab) {
			l.guests["SERVER-TWO"].facts["verify web"] = "labctl-db hostname=sql-two super_read_only=1\n"
		}, []string{"mysql via vip on SERVER-TWO: 192.168.1.150 answered as sql-two, not the primary SQL-ONE"}},
		{"web node cannot connect", func(l *wtLab) {
			l.guests["SERVER-ONE"].facts["verify web"] = "labctl-db error=Connection timed out\n"
		}, []string{"cannot connect through 192.168.1.150: Connection timed out"}},
		{"one backend never answers", func(l *wtLab) {
			g := l.guests["LOAD-BALANCER"]
			g.facts["verify lb"] = strings.ReplaceAll(g.facts["verify lb"], "192.168.1.111:80", "192.168.1.110:80")
		}, []string{"requests never reached SERVER-TWO"}},
		{"wrong page", func(l *wtLab) {
			g := l.guests["LOAD-BALANCER"]
			g.facts["verify lb"] = strings.Replace(g.facts["verify lb"], "Lab&#8217;s WordPress", "Welcome to nginx!", 1)
		}, []string{`has title "Welcome to nginx!", want the site title`}},
		{"502", func(l *wtLab) {
			g := l.guests["LOAD-BALANCER"]
			g.facts["verify lb"] = strings.Replace(g.facts["verify lb"], "@@ status\n200", "@@ status\n502", 1)
		}, []string{"answered HTTP 502, want 200"}},
		{"lb down", func(l *wtLab) {
			l.guests["LOAD-BALANCER"].facts["verify lb"] = "@@ page\ncurl: (7) Failed to connect to 192.168.1.120 port 80: Connection refused\n@@ status\n000\n@@ upstreams\n"
		}, []string{"did not answer: curl: (7) Failed to connect", "requests never reached SERVER-ONE, SERVER-TWO (answers came from no backend)"}},
		{"group not running", func(l *wtLab) {
			for _, vm := range []string{"SQL-ONE", "SQL-TWO", "SQL-THREE"} {
				l.guests[vm].facts["verify db"] = "@@ members\n@@ self\nx\t1\n@@ addresses\n127.0.0.1\n"
			}
		}, []string{"group replication is not running", "no healthy group view"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := wtFakeLab(t, "el8")
			wtHealthyLab(l)
			c.break_(l)
			rep, err := RunVerify(context.Background(), l.env)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			var buf bytes.Buffer
			rep.Print(&buf)
			if !strings.Contains(buf.String(), "FAIL") {
				t.Errorf("no FAIL row:\n%s", buf.String())
			}
			st, cerr := Verify().Check(context.Background(), l.env, l.node("LOAD-BALANCER"))
			if cerr != nil || st.Done || st.Why == "" {
				t.Errorf("step check: %+v %v", st, cerr)
			}
		})
	}
}

func TestVerifyApplyReturnsTheFailure(t *testing.T) {
	l := wtFakeLab(t, "el8")
	wtHealthyLab(l)
	if err := Verify().Apply(context.Background(), l.env, l.node("LOAD-BALANCER")); err != nil {
		t.Errorf("healthy: %v", err)
	}
	l.guests["SERVER-ONE"].facts["verify web"] = "labctl-db error=refused\n"
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Cancelled: returns at once instead of retrying for half a minute.
	if err := Verify().Apply(ctx, l.env, l.node("LOAD-BALANCER")); err == nil {
		t.Error("failing verify applied cleanly")
	}
}

func TestVerifyTitleMatch(t *testing.T) {
	for _, c := range []struct {
		title, want string
		ok          bool
	}{
		{"Lab’s WordPress", "Lab's WordPress", true},
		{"My Lab – Just another site", "My Lab", true},
		{"Tom & Jerry", "Tom & Jerry", true},
		{"Welcome to nginx!", "Lab", false},
		{"anything", "", false},
	} {
		if got := verifyTitleHas(c.title, c.want); got != c.ok {
			t.Errorf("verifyTitleHas(%q, %q) = %v", c.title, c.want, got)
		}
	}
}
