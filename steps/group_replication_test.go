package steps

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"labctl/guest"
	"labctl/lab"
	"labctl/mysqlgr"
)

// dbConverge drives one step like the Runner: per target Check → Apply →
// Check (serially, in Targets order). It returns how many nodes needed Apply.
func dbConverge(t *testing.T, env *Env, s Step) int {
	t.Helper()
	ctx := context.Background()
	applied := 0
	for _, n := range s.Targets(env.Plan) {
		st, err := s.Check(ctx, env, n)
		if err != nil {
			t.Fatalf("%s %s: check: %v", s.Name(), n.VM, err)
		}
		if st.Done {
			continue
		}
		if st.Why == "" {
			t.Errorf("%s %s: not done but no reason given", s.Name(), n.VM)
		}
		applied++
		if err := s.Apply(ctx, env, n); err != nil {
			t.Fatalf("%s %s: apply (was: %s): %v", s.Name(), n.VM, st.Why, err)
		}
		st, err = s.Check(ctx, env, n)
		if err != nil || !st.Done {
			t.Fatalf("%s %s: re-check after apply: %+v %v", s.Name(), n.VM, st, err)
		}
	}
	return applied
}

func dbSteps() []Step {
	return []Step{Packages(), MySQLConfig(), &grStep{joinWait: 2 * time.Second, poll: time.Millisecond}, Keepalived(), WordPressDB()}
}

// dbFormedLab runs every DB-side step once against a fresh fake lab.
func dbFormedLab(t *testing.T, profile string) (*dbFakeLab, *Env) {
	p := dbTestPlan()
	fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile(profile))
	env := fl.env(p)
	for _, s := range dbSteps() {
		if n := dbConverge(t, env, s); n == 0 {
			t.Errorf("%s: a fresh lab needed no change", s.Name())
		}
	}
	return fl, env
}

func TestDBStepsConvergeAndSecondRunChangesNothing(t *testing.T) {
	for _, profile := range []string{"el8", "debian"} {
		t.Run(profile, func(t *testing.T) {
			fl, env := dbFormedLab(t, profile)
			primaries := 0
			for _, n := range env.Plan.DB() {
				f := fl.nodes[n.VM]
				if f.state != "ONLINE" {
					t.Errorf("%s is %s, want ONLINE", n.VM, f.state)
				}
				if f.role == "PRIMARY" {
					primaries++
				}
				if profile == "el8" && f.rootPw != env.Secrets.MySQLRoot {
					t.Errorf("%s: root password not set", n.VM)
				}
				if profile == "debian" && f.rootPw != "" {
					t.Errorf("%s: socket-authenticated root was given a password", n.VM)
				}
				for _, h := range []string{"192.168.1.110", "192.168.1.111"} {
					acct := MySQLWordPressUser + "@" + h
					if f.users[acct] != env.Secrets.WordPressDB {
						t.Errorf("%s: account %s missing or wrong password", n.VM, acct)
					}
					if g := f.grants[acct]; len(g) != 1 || g[0] != "ALL PRIVILEGES ON `wordpress`.*" {
						t.Errorf("%s: grants of %s = %q", n.VM, acct, g)
					}
				}
				if !f.active["keepalived"] || !f.active[env.Profile.MySQLService] {
					t.Errorf("%s: services not running: %v", n.VM, f.active)
				}
				// EL starts mysqld for the first time with labctl's file in place;
				// Debian's package already started it, so it restarts once.
				if want := map[string]int{"el8": 0, "debian": 1}[profile]; f.restarts != want {
					t.Errorf("%s: mysqld restarted %d times on a fresh lab, want %d", n.VM, f.restarts, want)
				}
			}
			if primaries != 1 {
				t.Errorf("%d primaries, want 1", primaries)
			}
			if fl.nodes["SQL-ONE"].role != "PRIMARY" {
				t.Errorf("a fresh lab must bootstrap the first DB node")
			}

			// Second run: every check passes, nothing is applied.
			before := map[string]int{}
			for name, f := range fl.nodes {
				before[name] = len(f.log)
			}
			for _, s := range dbSteps() {
				if n := dbConverge(t, env, s); n != 0 {
					t.Errorf("%s: second run applied on %d nodes", s.Name(), n)
				}
			}
			for name, f := range fl.nodes {
				for _, e := range f.log[before[name]:] {
					if strings.HasPrefix(e, "upload ") || strings.Contains(e, "systemctl restart") || strings.Contains(e, "START GROUP") {
						t.Errorf("%s: second run mutated: %s", name, e)
					}
				}
			}
		})
	}
}

func TestMySQLConfigRestartsOnlyWhenFileChanges(t *testing.T) {
	fl, env := dbFormedLab(t, "el8")
	// A hand edit of labctl's static option file on one member: restored,
	// and only that member's mysqld restarts.
	two := fl.nodes["SQL-TWO"]
	conf := two.files["/etc/my.cnf.d/zz-labctl.cnf"]
	conf.Content = []byte(strings.Replace(string(conf.Content), "skip_name_resolve = ON", "skip_name_resolve = OFF", 1))
	two.files[conf.Path] = conf
	s := MySQLConfig()
	st, err := s.Check(context.Background(), env, env.Plan.DB()[1])
	if err != nil || st.Done || !strings.Contains(st.Why, "differs") {
		t.Fatalf("edited file: check = %+v, %v; want not done (file differs)", st, err)
	}
	if n := dbConverge(t, env, s); n != 1 {
		t.Errorf("mysql-config applied on %d nodes, want 1", n)
	}
	for _, n := range env.Plan.DB() {
		want := map[bool]int{true: 1, false: 0}[n.VM == "SQL-TWO"]
		if fl.nodes[n.VM].restarts != want {
			t.Errorf("%s: %d restarts, want %d", n.VM, fl.nodes[n.VM].restarts, want)
		}
	}
	if strings.Contains(string(two.files[conf.Path].Content), "skip_name_resolve = OFF") {
		t.Errorf("the hand edit was not undone")
	}
	// The restarted member left the group: group-replication rejoins it alone.
	if n := dbConverge(t, env, &grStep{joinWait: time.Second, poll: time.Millisecond}); n != 1 {
		t.Errorf("group-replication applied on %d nodes after one restart, want 1", n)
	}
}

// Failover tuning is applied to the running servers: no restart, no member
// leaves the group, and the option file keeps the value for the next start.
func TestMySQLConfigSetsFailoverSettingsLive(t *testing.T) {
	fl, env := dbFormedLab(t, "el8")
	for _, n := range env.Plan.DB() {
		if got := fl.nodes[n.VM].globals["group_replication_member_expel_timeout"]; got != "0" {
			t.Fatalf("%s: expel timeout %q live after up, want 0 (the plan's)", n.VM, got)
		}
	}
	env.Plan.GRMemberExpelTimeout = 10
	s := MySQLConfig()
	st, err := s.Check(context.Background(), env, env.Plan.DB()[0])
	if err != nil || st.Done {
		t.Fatalf("changed expel timeout: check = %+v, %v; want not done", st, err)
	}
	if n := dbConverge(t, env, s); n != 3 {
		t.Errorf("mysql-config applied on %d nodes, want 3", n)
	}
	for _, n := range env.Plan.DB() {
		f := fl.nodes[n.VM]
		if f.restarts != 0 {
			t.Errorf("%s: restarted for a dynamic setting", n.VM)
		}
		if got := f.globals["group_replication_member_expel_timeout"]; got != "10" {
			t.Errorf("%s: expel timeout %q live, want 10", n.VM, got)
		}
		if !strings.Contains(string(f.files["/etc/my.cnf.d/zz-labctl-failover.cnf"].Content), "member_expel_timeout = 10\n") {
			t.Errorf("%s: new expel timeout not written for the next start", n.VM)
		}
	}
	if n := dbConverge(t, env, &grStep{joinWait: time.Second, poll: time.Millisecond}); n != 0 {
		t.Errorf("group-replication applied on %d nodes: a live setting must not drop members", n)
	}

	// Someone SET GLOBAL by hand: the files are right, the server is not.
	three := fl.nodes["SQL-THREE"]
	three.globals["group_replication_member_expel_timeout"] = "5"
	st, err = s.Check(context.Background(), env, env.Plan.DB()[2])
	if err != nil || st.Done || st.Why != "group_replication_member_expel_timeout is 5 live, want 10" {
		t.Fatalf("live drift: check = %+v, %v", st, err)
	}
	sets := three.liveSets
	if n := dbConverge(t, env, s); n != 1 {
		t.Errorf("mysql-config applied on %d nodes for one drifted server, want 1", n)
	}
	if three.globals["group_replication_member_expel_timeout"] != "10" || three.liveSets == sets || three.restarts != 0 {
		t.Errorf("live drift not repaired by SET GLOBAL without restart: %v, %d restarts", three.globals, three.restarts)
	}
}

func TestGroupReplicationRejoinNeverBootstraps(t *testing.T) {
	fl, env := dbFormedLab(t, "el8")
	// SQL-ONE (the primary) restarts: the group elects SQL-TWO and goes on.
	fl.nodes["SQL-ONE"].state, fl.nodes["SQL-ONE"].role = "OFFLINE", ""
	fl.nodes["SQL-TWO"].role = "PRIMARY"
	if n := dbConverge(t, env, &grStep{joinWait: time.Second, poll: time.Millisecond}); n != 1 {
		t.Fatalf("applied on %d nodes, want 1", n)
	}
	if fl.nodes["SQL-ONE"].role != "SECONDARY" || fl.nodes["SQL-TWO"].role != "PRIMARY" {
		t.Errorf("SQL-ONE should rejoin as SECONDARY under SQL-TWO, roles %s/%s", fl.nodes["SQL-ONE"].role, fl.nodes["SQL-TWO"].role)
	}
	for _, sc := range fl.nodes["SQL-ONE"].log {
		if strings.Contains(sc, "bootstrap_group = ON") && strings.Count(strings.Join(fl.nodes["SQL-ONE"].log, "\n"), "bootstrap_group = ON") > 1 {
			t.Error("SQL-ONE bootstrapped again while the group was ONLINE")
		}
	}
}

// outage leaves every member OFFLINE with the given executed sets.
func dbOutage(fl *dbFakeLab, sets map[string]string) {
	for name, set := range sets {
		f := fl.nodes[name]
		f.state, f.role, f.superRO = "OFFLINE", "", true
		f.executed, _ = mysqlgr.ParseGTIDSet(set)
	}
}

func TestGroupReplicationFullOutageRestartsFromMostAdvanced(t *testing.T) {
	fl, env := dbFormedLab(t, "el8")
	g := env.Secrets.GroupName
	// SQL-ONE was the primary, but SQL-TWO holds more transactions.
	dbOutage(fl, map[string]string{"SQL-ONE": g + ":1-40", "SQL-TWO": g + ":1-42", "SQL-THREE": g + ":1-41"})
	// Apply on SQL-ONE restarts the group on SQL-TWO, then joins SQL-ONE;
	// SQL-TWO then checks done and SQL-THREE joins.
	if n := dbConverge(t, env, &grStep{joinWait: time.Second, poll: time.Millisecond}); n != 2 {
		t.Fatalf("applied on %d nodes, want 2", n)
	}
	if fl.nodes["SQL-TWO"].role != "PRIMARY" {
		t.Errorf("group restarted from the wrong member: roles %s/%s/%s",
			fl.nodes["SQL-ONE"].role, fl.nodes["SQL-TWO"].role, fl.nodes["SQL-THREE"].role)
	}
	for _, name := range []string{"SQL-ONE", "SQL-THREE"} {
		if !fl.nodes[name].executed.Contains(fl.nodes["SQL-TWO"].executed) {
			t.Errorf("%s did not catch up with SQL-TWO", name)
		}
	}
}

func TestGroupReplicationRefusesDivergedOutage(t *testing.T) {
	fl, env := dbFormedLab(t, "el8")
	g := env.Secrets.GroupName
	dbOutage(fl, map[string]string{"SQL-ONE": g + ":1-40", "SQL-TWO": g + ":1-39," + fl.nodes["SQL-TWO"].uuid + ":1", "SQL-THREE": g + ":1-38"})
	err := (&grStep{joinWait: time.Second, poll: time.Millisecond}).Apply(context.Background(), env, env.Plan.DB()[0])
	if err == nil || !strings.Contains(err.Error(), "diverged") || !strings.Contains(err.Error(), "SQL-TWO has") {
		t.Fatalf("want a divergence error naming SQL-TWO, got %v", err)
	}
	for _, n := range env.Plan.DB() {
		if fl.nodes[n.VM].state != "OFFLINE" {
			t.Errorf("%s was started despite the divergence", n.VM)
		}
	}
}

func TestGroupReplicationRefusesErrantJoiner(t *testing.T) {
	fl, env := dbFormedLab(t, "el8")
	f := fl.nodes["SQL-THREE"]
	f.state, f.role = "OFFLINE", ""
	errant, _ := mysqlgr.ParseGTIDSet(f.uuid + ":1-2")
	f.executed = f.executed.Union(errant)
	err := (&grStep{joinWait: time.Second, poll: time.Millisecond}).Apply(context.Background(), env, env.Plan.DB()[2])
	if err == nil || !strings.Contains(err.Error(), f.uuid+":1-2") || !strings.Contains(err.Error(), "re-provision") {
		t.Fatalf("want an errant-transaction error, got %v", err)
	}
}

func TestGroupReplicationJoinFailureShowsLog(t *testing.T) {
	fl, env := dbFormedLab(t, "el8")
	fl.nodes["SQL-THREE"].state, fl.nodes["SQL-THREE"].role = "OFFLINE", ""
	fl.failStart = "SQL-THREE"
	err := (&grStep{joinWait: time.Second, poll: time.Millisecond}).Apply(context.Background(), env, env.Plan.DB()[2])
	if err == nil || !strings.Contains(err.Error(), "MY-011526") {
		t.Fatalf("want the member's replication log in the error, got %v", err)
	}
}

// dbDownExec is a node that cannot be reached.
type dbDownExec struct{}

func (dbDownExec) Run(context.Context, guest.Cmd) (guest.Result, error) {
	return guest.Result{}, errors.New("ssh: connect to host: no route to host")
}
func (dbDownExec) Upload(context.Context, guest.File) (bool, error) { return false, errors.New("down") }
func (dbDownExec) String() string                                   { return "down" }

func TestGroupReplicationOutageWithSilentMemberRefusesToGuess(t *testing.T) {
	fl, env := dbFormedLab(t, "el8")
	g := env.Secrets.GroupName
	dbOutage(fl, map[string]string{"SQL-ONE": g + ":1-40", "SQL-TWO": g + ":1-40", "SQL-THREE": g + ":1-40"})
	ssh := env.SSH
	env.SSH = func(n *lab.Node) guest.Executor {
		if n.VM == "SQL-THREE" {
			return dbDownExec{}
		}
		return ssh(n)
	}
	err := (&grStep{joinWait: time.Second, poll: time.Millisecond}).Apply(context.Background(), env, env.Plan.DB()[0])
	if err == nil || !strings.Contains(err.Error(), "SQL-THREE could not be asked") {
		t.Fatalf("want a refusal naming SQL-THREE, got %v", err)
	}
	if fl.nodes["SQL-ONE"].state != "OFFLINE" {
		t.Error("bootstrapped from a partial view")
	}
}

func TestGroupReplicationWaitsWithDeadline(t *testing.T) {
	fl, env := dbFormedLab(t, "el8")
	fl.nodes["SQL-TWO"].state = "RECOVERING"
	g := &grStep{joinWait: 30 * time.Millisecond, poll: 5 * time.Millisecond}
	start := time.Now()
	err := g.Apply(context.Background(), env, env.Plan.DB()[1])
	if err == nil || !strings.Contains(err.Error(), "still RECOVERING") {
		t.Fatalf("want a deadline error, got %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("wait overran its deadline: %s", time.Since(start))
	}
}

func TestWordPressDBDropsStrayHosts(t *testing.T) {
	fl, env := dbFormedLab(t, "el8")
	// Someone added 'wordpress'@'%' by hand (the tutorial's way).
	for _, n := range env.Plan.DB() {
		fl.nodes[n.VM].users[MySQLWordPressUser+"@%"] = "x"
	}
	st, err := WordPressDB().Check(context.Background(), env, env.Plan.DB()[0])
	if err != nil || st.Done || !strings.Contains(st.Why, "%") {
		t.Fatalf("check = %+v, %v; want not done naming the stray host", st, err)
	}
	dbConverge(t, env, WordPressDB())
	for _, n := range env.Plan.DB() {
		if _, ok := fl.nodes[n.VM].users[MySQLWordPressUser+"@%"]; ok {
			t.Errorf("%s: stray account kept", n.VM)
		}
	}
}

func TestMySQLConfigRejectsBadInput(t *testing.T) {
	p := dbTestPlan()
	s := dbTestSecrets()
	s.GroupName = "not-a-uuid"
	fl := newDBFakeLab(t, p, s, dbTestProfile("el8"))
	// Check reads the installed server's version before rendering.
	fl.nodes["SQL-ONE"].pkgs["mysql-server"] = true
	_, err := MySQLConfig().Check(context.Background(), fl.env(p), p.DB()[0])
	if err == nil || !strings.Contains(err.Error(), "not a UUID") {
		t.Errorf("bad group name: %v", err)
	}
	s = dbTestSecrets()
	s.MySQLRoot = `pa"ss`
	fl = newDBFakeLab(t, p, s, dbTestProfile("el8"))
	fl.nodes["SQL-ONE"].pkgs["mysql-server"] = true
	_, err = MySQLConfig().Check(context.Background(), fl.env(p), p.DB()[0])
	if err == nil || strings.Contains(err.Error(), `pa"ss`) {
		t.Errorf("unusable root password must be refused without showing it: %v", err)
	}
	p.VRRPRouterID = 300
	if _, err := kaRender(fl.env(p), p.DB()[0], "enp0s3"); err == nil || !strings.Contains(err.Error(), "1..255") {
		t.Errorf("router id 300: %v", err)
	}
}

func TestDBNetmaskAndVersion(t *testing.T) {
	p := dbTestPlan()
	if got := dbNetmaskHost(p); got != "192.168.1.0/255.255.255.0" {
		t.Errorf("netmask host = %q", got)
	}
	if !dbVersionBefore("8.0.22", 8, 0, 23) || dbVersionBefore("8.0.23", 8, 0, 23) || dbVersionBefore("9.7.4-2", 8, 0, 23) {
		t.Error("version comparison wrong")
	}
}

// TestDBStepsPlanMode runs every DB-side Apply against recorders, as
// `labctl plan` does: nothing may fail for want of live answers, and the
// plan shows one bootstrap (on the first node) and two joins.
func TestDBStepsPlanMode(t *testing.T) {
	for _, profile := range []string{"el8", "debian"} {
		p := dbTestPlan()
		p.PackageMirror = "http://10.0.2.2:8080/mirror"
		s := dbTestSecrets()
		recs := map[string]*guest.Recorder{}
		for _, n := range p.Nodes {
			recs[n.VM] = guest.NewRecorder(n.VM, s.Values()...)
		}
		env := planTestEnv(p, dbTestProfile(profile), s, func(n *lab.Node) guest.Executor { return recs[n.VM] })
		for _, st := range dbSteps() {
			for _, n := range st.Targets(p) {
				if err := st.Apply(context.Background(), env, n); err != nil {
					t.Fatalf("%s: plan %s on %s: %v", profile, st.Name(), n.VM, err)
				}
			}
		}
		boots := map[string]int{}
		joins := 0
		for vm, r := range recs {
			for _, c := range r.Calls() {
				for _, v := range s.Values() {
					if strings.Contains(c.Script, v) || strings.Contains(string(c.Stdin), v) {
						t.Errorf("%s: plan of %s shows a secret", profile, vm)
					}
				}
				if strings.Contains(string(c.Stdin), "group_replication_bootstrap_group = ON") {
					boots[vm]++
				} else if strings.Contains(string(c.Stdin), "START GROUP_REPLICATION") {
					joins++
				}
			}
		}
		// Every node's Apply creates the database on the primary (idempotent;
		// on a real first up the others' Checks find it replicated).
		wpdb := map[string]int{}
		for vm, r := range recs {
			for _, c := range r.Calls() {
				if strings.Contains(string(c.Stdin), "CREATE DATABASE IF NOT EXISTS `wordpress`") {
					wpdb[vm]++
				}
			}
		}
		if len(wpdb) != 1 || wpdb["SQL-ONE"] != 3 {
			t.Errorf("%s: plan creates the WordPress database %v, want only on the primary SQL-ONE, once per DB node's Apply", profile, wpdb)
		}
		if len(boots) != 1 || boots["SQL-ONE"] != 1 || joins != 2 {
			t.Errorf("%s: plan bootstraps %v and joins %d times; want SQL-ONE once, 2 joins", profile, boots, joins)
		}
	}
}
