package steps

import (
	"context"
	"strings"
	"testing"
)

func TestSELinuxCheckApplyCheck(t *testing.T) {
	l := wtFakeLab(t, "el8")
	for _, n := range SELinux().Targets(l.env.Plan) {
		st := wtCycle(t, SELinux(), l.env, n)
		if !strings.Contains(st.Why, "want Enforcing") {
			t.Errorf("%s: first check %q", n.VM, st.Why)
		}
		script := l.guests[n.VM].scripts()[0].Script
		want := map[string][]string{
			"db":  {"semanage port -a -t mysqld_port_t -p tcp 33061", "semanage port -m -t mysqld_port_t -p tcp 33061"},
			"web": {"setsebool -P httpd_can_network_connect_db on", "httpd_sys_content_t '/usr/share/nginx/wordpress(/.*)?'", "httpd_sys_rw_content_t '/usr/share/nginx/wordpress/wp-content/uploads(/.*)?'", "restorecon -R '/usr/share/nginx/wordpress'"},
			"lb":  {"setsebool -P httpd_can_network_connect on"},
		}[string(n.Role)]
		for _, w := range want {
			if !strings.Contains(script, w) {
				t.Errorf("%s: script lacks %q", n.VM, w)
			}
		}
		for _, never := range []string{"setenforce 0", "SELINUX=permissive", "SELINUX=disabled"} {
			if strings.Contains(script, never) {
				t.Errorf("%s: script weakens SELinux: %q", n.VM, never)
			}
		}
	}
	// Permissive at runtime is not done.
	g := l.guests["SERVER-ONE"]
	g.facts["enforce"] = "Permissive"
	st, _ := SELinux().Check(context.Background(), l.env, l.node("SERVER-ONE"))
	if st.Done || !strings.Contains(st.Why, "SELinux is Permissive") {
		t.Errorf("permissive: %+v", st)
	}
}

func TestSELinuxSkippedWithout(t *testing.T) {
	l := wtFakeLab(t, "debian")
	n := l.node("SQL-ONE")
	if st, err := SELinux().Check(context.Background(), l.env, n); err != nil || !st.Done {
		t.Errorf("%+v %v", st, err)
	}
	if err := SELinux().Apply(context.Background(), l.env, n); err != nil || len(l.guests["SQL-ONE"].cmds) != 0 {
		t.Errorf("apply on a guest without SELinux: %v, %d commands", err, len(l.guests["SQL-ONE"].cmds))
	}
}

// The parsers read the real output formats of semanage.
func TestSELinuxListParsers(t *testing.T) {
	ports := "mysqld_port_t                  tcp      33061, 1186, 3306, 63132-63164\nmysqlmanagerd_port_t           tcp      2273\n"
	p := sePort{Type: "mysqld_port_t", Proto: "tcp", Port: 33061}
	if !sePortTyped(ports, p) {
		t.Error("33061 not found")
	}
	if sePortTyped("mysqld_port_t                  tcp      1186, 3306, 63132-63164\n", p) {
		t.Error("33061 found in the stock list")
	}
	if sePortTyped("mysqld_port_t  udp  33061\n", p) {
		t.Error("udp counted as tcp")
	}
	fcs := "/usr/share/nginx/wordpress(/.*)?                    all files          system_u:object_r:httpd_sys_content_t:s0 \n" +
		"/usr/share/nginx/wordpress/wp-content/uploads(/.*)? all files          system_u:object_r:httpd_sys_rw_content_t:s0 \n"
	if !seFContextSet(fcs, seFContext{Spec: "/usr/share/nginx/wordpress(/.*)?", Type: "httpd_sys_content_t"}) {
		t.Error("content context not found")
	}
	if seFContextSet(fcs, seFContext{Spec: "/usr/share/nginx/wordpress(/.*)?", Type: "httpd_sys_rw_content_t"}) {
		t.Error("rw context matched the content rule")
	}
}
