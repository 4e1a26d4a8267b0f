package exercisetest

import (
	"regexp"

	"labctl/guest"
	"labctl/mysqlgr"
)

// Action is what one script of an exercise does to, or reads from, the
// model; it runs with the lab locked.
type Action func(e *exec, cmd guest.Cmd) (guest.Result, error)

// Actions models the built-in exercises' scripts, by "exercise phase[i]".
// Tests may add entries for their own exercise files.
var Actions = map[string]Action{
	"primary-crash break[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.stopGR(true) // kill -9; systemd starts mysqld again, without group replication
		return guest.Result{}, nil
	},
	"primary-crash solution[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		d := e.db()
		d.Mysqld = true
		if d.State == mysqlgr.Online || d.State == mysqlgr.Recovering {
			return guest.Result{}, nil
		}
		return e.start()
	},

	"full-outage break[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.stopMysqld()
		return guest.Result{}, nil
	},
	"full-outage break[1]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.l.write("while-one-was-down")
		e.stopMysqld()
		return guest.Result{}, nil
	},
	"full-outage break[2]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		if !e.db().Primary {
			return e.fail(1, "this member did not become a writable primary")
		}
		e.l.write("last-write")
		e.stopMysqld()
		return guest.Result{}, nil
	},

	"vip-check break[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		if e.l.vip == "" {
			e.l.vip = e.l.vipHolder()
		}
		e.db().CheckGood = false
		return guest.Result{}, nil
	},
	"vip-check break[1]": func(e *exec, cmd guest.Cmd) (guest.Result, error) {
		target := varValue(cmd.Script, "SECONDARY1_IP")
		for _, n := range e.l.Plan.DB() {
			e.l.DBs[n.VM].Primary = n.IP.String() == target
		}
		return guest.Result{}, nil
	},
	"vip-check check[1]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		d := e.db()
		if d.Primary || d.CheckGood {
			return guest.Result{}, nil
		}
		return e.fail(1, "the check passes on this SECONDARY member")
	},
	"vip-check solution[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.db().CheckGood = true
		return guest.Result{}, nil
	},

	"wordpress-grant break[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.l.Grants = false
		return guest.Result{}, nil
	},
	"wordpress-grant solution[0]": func(e *exec, cmd guest.Cmd) (guest.Result, error) {
		if len(cmd.Stdin) < 2 {
			return e.fail(1, "no password on stdin")
		}
		e.l.Grants = true
		return guest.Result{}, nil
	},

	"php-fpm-down break[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.l.PHPUp[e.n.VM], e.l.PHPOn[e.n.VM] = false, false
		return guest.Result{}, nil
	},
	"php-fpm-down check[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		if e.l.PHPUp[e.n.VM] {
			return guest.Result{}, nil
		}
		return e.fail(3, "")
	},
	"php-fpm-down check[1]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		if e.l.PHPOn[e.n.VM] {
			return guest.Result{}, nil
		}
		return e.fail(1, "")
	},
	"php-fpm-down solution[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.l.PHPUp[e.n.VM], e.l.PHPOn[e.n.VM] = true, true
		return guest.Result{}, nil
	},

	"lb-wrong-port break[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.l.LBPort = 8080
		return guest.Result{}, nil
	},
	"lb-wrong-port check[1]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		return guest.Result{Stderr: "nginx: configuration file /etc/nginx/nginx.conf test is successful"}, nil
	},
	"lb-wrong-port solution[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.l.LBPort = 80
		return guest.Result{}, nil
	},

	"recovery-password break[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.stopGR(false)
		return guest.Result{}, nil
	},
	"recovery-password break[1]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.l.write("during-maintenance")
		return guest.Result{}, nil
	},
	"recovery-password break[2]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.db().RecoveryOK = false
		return e.start()
	},
	"recovery-password solution[0]": func(e *exec, cmd guest.Cmd) (guest.Result, error) {
		if len(cmd.Stdin) < 2 {
			return e.fail(1, "no password on stdin")
		}
		e.stopGR(false)
		e.db().RecoveryOK = true
		return e.start()
	},

	"firewall-group-port break[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.stopGR(false)
		e.db().XComOpen = false
		return guest.Result{}, nil
	},
	"firewall-group-port check[1]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		if e.db().XComOpen {
			return guest.Result{}, nil
		}
		return e.fail(1, "")
	},
	"firewall-group-port solution[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.db().XComOpen = true
		return e.start()
	},

	"selinux-httpd-db break[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.l.SEBool[e.n.VM] = false
		return guest.Result{}, nil
	},
	"selinux-httpd-db check[1]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		v := "off"
		if e.l.SEBool[e.n.VM] {
			v = "on"
		}
		return guest.Result{Stdout: "httpd_can_network_connect_db --> " + v + "\n"}, nil
	},
	"selinux-httpd-db solution[0]": func(e *exec, _ guest.Cmd) (guest.Result, error) {
		e.l.SEBool[e.n.VM] = true
		return guest.Result{}, nil
	},
}

func (e *exec) action(exercise, phase string, cmd guest.Cmd) (guest.Result, error) {
	a, ok := Actions[exercise+" "+phase]
	if !ok {
		return e.fail(127, "the simulation has no model of "+exercise+" "+phase)
	}
	return a(e, cmd)
}

func (e *exec) db() *DB { return e.l.DBs[e.n.VM] }

// stopGR takes the member out of the group; a primary's role passes to
// the first ONLINE secondary.
func (e *exec) stopGR(_ bool) {
	d := e.db()
	wasPrimary := d.Primary && d.State == mysqlgr.Online
	d.State, d.Primary = mysqlgr.Offline, false
	if wasPrimary {
		e.l.elect()
	}
}

func (e *exec) stopMysqld() {
	e.stopGR(false)
	e.db().Mysqld = false
}

func (e *exec) start() (guest.Result, error) {
	if msg := e.l.join(e.n.VM); msg != "" {
		return e.fail(1, msg)
	}
	return guest.Result{}, nil
}

// elect makes the first ONLINE member the primary.
func (l *Lab) elect() {
	for _, n := range l.Plan.DB() {
		if d := l.DBs[n.VM]; d.Mysqld && d.State == mysqlgr.Online {
			d.Primary = true
			return
		}
	}
}

// varValue reads NAME='value' from a rendered script.
func varValue(script, name string) string {
	m := regexp.MustCompile(`(?m)^` + name + `='([^']*)'$`).FindStringSubmatch(script)
	if m == nil {
		return ""
	}
	return m[1]
}
