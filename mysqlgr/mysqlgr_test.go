package mysqlgr

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"labctl/guest"
	"labctl/lab"
)

func testPlan() *lab.Plan {
	p := &lab.Plan{Name: "grtest", VIP: netip.MustParseAddr("192.0.2.167")}
	for i, vm := range []string{"SQL-ONE", "SQL-TWO", "SQL-THREE"} {
		p.Nodes = append(p.Nodes, &lab.Node{VM: vm, Hostname: strings.ToLower(vm), Role: lab.RoleDB, Index: i + 1,
			IP: netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + i)})})
	}
	p.Nodes = append(p.Nodes, &lab.Node{VM: "SERVER-ONE", Hostname: "server-one", Role: lab.RoleWeb, Index: 1, IP: netip.MustParseAddr("192.0.2.110")})
	return p
}

// A view as MySQL 8 prints it with -N -B: the answering member first
// column 6 = 1, an empty role on a member that is not ONLINE.
const threeOnline = "u1\t192.0.2.100\t3306\tONLINE\tSECONDARY\t1\n" +
	"u2\t192.0.2.101\t3306\tONLINE\tPRIMARY\t0\n" +
	"u3\tsql-three.lab\t3306\tONLINE\tSECONDARY\t0\n"

func TestParseView(t *testing.T) {
	v, err := ParseView(threeOnline)
	if err != nil || len(v.Members) != 3 {
		t.Fatalf("%+v %v", v, err)
	}
	if self, ok := v.Self(); !ok || self.ID != "u1" || self.Port != 3306 || self.Role != Secondary {
		t.Errorf("self = %+v", self)
	}
	if pr, ok := v.Primary(); !ok || pr.Host != "192.0.2.101" {
		t.Errorf("primary = %+v", pr)
	}
	v, err = ParseView("u1\t192.0.2.100\tNULL\tOFFLINE\t\t1\n")
	if err != nil || len(v.Members) != 1 || v.Members[0].Port != 0 || v.Members[0].Role != "" {
		t.Errorf("offline member: %+v %v", v, err)
	}
	if _, ok := v.Primary(); ok {
		t.Error("an OFFLINE view has no primary")
	}
	_, err = ParseView("ERROR 2002 (HY000): Can't connect to local MySQL server through socket\n")
	if err == nil || !strings.HasPrefix(err.Error(), "ERROR 2002") {
		t.Errorf("client error: %v", err)
	}
}

func TestParseSelf(t *testing.T) {
	for _, tc := range []struct{ out, role, state, err string }{
		{"PRIMARY\tONLINE\n", Primary, Online, ""},
		{"\tOFFLINE\n", "", Offline, ""},
		{"\tERROR\n", "", Error, ""},
		{"ERROR 1045 (28000): Access denied\n", "", "", "ERROR 1045 (28000): Access denied"},
		{"", "", "", ErrNoAnswer.Error()},
	} {
		m, err := ParseSelf(tc.out)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: err %v, want %q", tc.out, err, tc.err)
			}
			continue
		}
		if err != nil || m.Role != tc.role || m.State != tc.state || !m.Self {
			t.Errorf("%q: %+v %v", tc.out, m, err)
		}
	}
	if _, err := ParseSelf(""); !errors.Is(err, ErrNoAnswer) {
		t.Errorf("empty answer: %v", err)
	}
}

func TestParseStatus(t *testing.T) {
	st, err := ParseStatus("uuid-1\tNULL\tONLINE\tPRIMARY\tg:1-5\tg:6\tlabctl_repl\t0\t8.0.41\n")
	if err != nil {
		t.Fatal(err)
	}
	want := Status{UUID: "uuid-1", State: Online, Role: Primary, Executed: "g:1-5", Received: "g:6", RecoveryUser: "labctl_repl", Version: "8.0.41"}
	if *st != want {
		t.Errorf("got %+v, want %+v", *st, want)
	}
	if _, err := ParseStatus(""); !errors.Is(err, ErrNoAnswer) {
		t.Errorf("empty: %v", err)
	}
	if _, err := ParseStatus("a\tb\n"); err == nil || !strings.Contains(err.Error(), "unexpected answer") {
		t.Errorf("short row: %v", err)
	}
}

func TestHealthyPrimaryAndNewPrimary(t *testing.T) {
	p := testPlan()
	db := p.DB()
	all, _ := ParseView(threeOnline)
	if n := MemberNode(p, "sql-three.lab"); n != db[2] {
		t.Errorf("hostname member maps to %v", n)
	}
	if n := MemberNode(p, "192.0.2.110"); n != nil {
		t.Errorf("a web node's address is no member: %v", n)
	}
	pr, err := HealthyPrimary(p, []NodeView{{Node: db[0], Err: errors.New("SQL-ONE: no route")}, {Node: db[1], View: all}})
	if err != nil || pr != db[1] {
		t.Fatalf("primary %v, %v", pr, err)
	}
	two, _ := ParseView("u1\t192.0.2.100\t3306\tONLINE\tPRIMARY\t1\nu2\t192.0.2.101\t3306\tRECOVERING\tSECONDARY\t0\n")
	_, err = HealthyPrimary(p, []NodeView{{Node: db[0], View: two}, {Node: db[1], Err: errors.New("SQL-TWO: down")}})
	var ue *UnhealthyError
	if !errors.As(err, &ue) || err.Error() != "SQL-ONE sees 1 of 3 members ONLINE and 1 primaries; SQL-TWO: down" {
		t.Errorf("unhealthy: %v", err)
	}
	if _, err := HealthyPrimary(p, nil); err == nil {
		t.Error("no views is not healthy")
	}

	// After SQL-TWO (the old primary) failed, SQL-ONE reports SQL-ONE primary.
	after, _ := ParseView("u1\t192.0.2.100\t3306\tONLINE\tPRIMARY\t1\nu3\t192.0.2.102\t3306\tONLINE\tSECONDARY\t0\n")
	stale := all // the old primary's own stale view still names itself
	if n := NewPrimary(p, []NodeView{{Node: db[1], View: stale}}, db[1]); n != nil {
		t.Errorf("the old primary's own view elected %v", n)
	}
	if n := NewPrimary(p, []NodeView{{Node: db[1], View: stale}, {Node: db[0], View: after}}, db[1]); n != db[0] {
		t.Errorf("new primary %v, want SQL-ONE", n)
	}
}

// fakeServer answers the statements Rejoin, Bootstrap and friends send,
// from a member state script: states[i] is the state read the i-th time.
type fakeServer struct {
	mu      sync.Mutex
	state   string
	onStart string // state after START GROUP_REPLICATION
	failSQL string // a statement that fails
	stmts   []string
}

func (f *fakeServer) SQL(_ context.Context, stmts string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stmts = append(f.stmts, stmts)
	if f.failSQL != "" && strings.Contains(stmts, f.failSQL) {
		return "", errors.New("ERROR 3092 (HY000): The server is not configured properly")
	}
	switch {
	case stmts == selfSQL:
		return "\t" + f.state + "\n", nil
	case strings.Contains(stmts, "START GROUP_REPLICATION"):
		f.state = f.onStart
	case stmts == "STOP GROUP_REPLICATION":
		f.state = Offline
	case strings.Contains(stmts, "performance_schema.error_log"):
		return "2026-01-01 MY-011526 This member has more executed transactions\n", nil
	}
	return "", nil
}

func (f *fakeServer) saw(sub string) int {
	n := 0
	for _, s := range f.stmts {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func TestRejoinFromErrorStopsThenStarts(t *testing.T) {
	f := &fakeServer{state: Error, onStart: Online}
	started := 0
	err := Server{Name: "SQL-TWO", SQL: f}.Rejoin(context.Background(), RejoinOptions{Within: time.Second, Poll: time.Millisecond, Started: func() { started++ }})
	if err != nil || started != 1 || f.saw("STOP GROUP_REPLICATION") != 1 || f.saw("START GROUP_REPLICATION") != 1 {
		t.Fatalf("err %v, started %d, %d statements", err, started, len(f.stmts))
	}
	if f.saw("bootstrap_group") != 0 {
		t.Error("a rejoin bootstrapped")
	}
}

func TestRejoinOnlineDoesNothing(t *testing.T) {
	f := &fakeServer{state: Online}
	if err := (Server{Name: "n", SQL: f}).Rejoin(context.Background(), RejoinOptions{Within: time.Second, Poll: time.Millisecond}); err != nil || len(f.stmts) != 1 {
		t.Fatalf("%v %q", err, f.stmts)
	}
}

func TestRejoinFailsFastAndBounded(t *testing.T) {
	f := &fakeServer{state: Offline, onStart: Error}
	err := Server{Name: "SQL-TWO", SQL: f}.Rejoin(context.Background(), RejoinOptions{Within: time.Second, Poll: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "went ERROR") || !strings.Contains(err.Error(), "MY-011526") {
		t.Fatalf("want a fast ERROR with the log lines, got %v", err)
	}
	f = &fakeServer{state: Offline, onStart: Recovering}
	start := time.Now()
	err = Server{Name: "SQL-TWO", SQL: f}.Rejoin(context.Background(), RejoinOptions{Within: 50 * time.Millisecond, Poll: 5 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "still RECOVERING") || time.Since(start) > time.Second {
		t.Fatalf("want a bounded wait, got %v after %s", err, time.Since(start))
	}
}

func TestBootstrapAlwaysSwitchesTheFlagOff(t *testing.T) {
	f := &fakeServer{state: Offline, failSQL: "START GROUP_REPLICATION"}
	err := Server{Name: "SQL-ONE", SQL: f}.Bootstrap(context.Background())
	if err == nil || !strings.Contains(err.Error(), "bootstrap the group on SQL-ONE") || !strings.Contains(err.Error(), "MY-011526") {
		t.Fatalf("err %v", err)
	}
	last := ""
	for _, s := range f.stmts {
		if strings.Contains(s, "bootstrap_group") {
			last = s
		}
	}
	if last != "SET GLOBAL group_replication_bootstrap_group = OFF;" {
		t.Errorf("the flag was left on: %q", f.stmts)
	}
}

func TestSetRecoveryCredentialsAndSwitchover(t *testing.T) {
	for version, want := range map[string]string{"8.0.21": "CHANGE MASTER TO MASTER_USER = 'repl', MASTER_PASSWORD = 'p''w'",
		"8.0.41": "CHANGE REPLICATION SOURCE TO SOURCE_USER = 'repl', SOURCE_PASSWORD = 'p''w'"} {
		f := &fakeServer{}
		if err := (Server{SQL: f}).SetRecoveryCredentials(context.Background(), version, "repl", "p'w"); err != nil || len(f.stmts) != 1 ||
			!strings.HasPrefix(f.stmts[0], want) || !strings.HasSuffix(f.stmts[0], "FOR CHANNEL 'group_replication_recovery';") {
			t.Errorf("%s: %q %v", version, f.stmts, err)
		}
	}
	f := &fakeServer{}
	if err := (Server{SQL: f}).SetAsPrimary(context.Background(), "uuid-3"); err != nil || f.stmts[0] != "SELECT group_replication_set_as_primary('uuid-3')" {
		t.Errorf("switchover: %q %v", f.stmts, err)
	}
	if !VersionBefore("8.0.22", 8, 0, 23) || VersionBefore("8.0.23", 8, 0, 23) || VersionBefore("9.7.4-2", 8, 0, 23) || VersionBefore("x", 8, 0, 0) {
		t.Error("version comparison wrong")
	}
}

func TestCheckJoinRefusesErrantTransactions(t *testing.T) {
	group := &Status{Executed: uG + ":1-10", Received: uG + ":11"}
	if err := CheckJoin("SQL-THREE", "SQL-ONE", &Status{Executed: uG + ":1-11"}, group); err != nil {
		t.Errorf("a member behind the group may join: %v", err)
	}
	err := CheckJoin("SQL-THREE", "SQL-ONE", &Status{Executed: uG + ":1-5," + uA + ":1-2"}, group)
	if err == nil || !strings.Contains(err.Error(), uA+":1-2") || !strings.Contains(err.Error(), "primary SQL-ONE") {
		t.Errorf("errant joiner: %v", err)
	}
}

// TestRootSendsSQLOnStdin: statements (and so passwords) never reach argv.
func TestRootSendsSQLOnStdin(t *testing.T) {
	rec := guest.NewRecorder("SQL-ONE", "s3cret")
	srv := Root("SQL-ONE", rec, []string{"s3cret"})
	if err := srv.SetRecoveryCredentials(context.Background(), "8.0.41", "repl", "s3cret"); err != nil {
		t.Fatal(err)
	}
	calls := rec.Calls()
	if len(calls) != 1 || calls[0].Script != RootClient || strings.Contains(calls[0].Script, "s3cret") ||
		!strings.Contains(string(calls[0].Stdin), "CHANGE REPLICATION SOURCE") || !strings.HasSuffix(string(calls[0].Stdin), ";\n") {
		t.Errorf("calls %+v", calls)
	}
}

// TestFreshAnswersFollowWhatWasSent: against a plan's recorder, a member
// reads OFFLINE until it is started, the bootstrapped one is the PRIMARY,
// and a joiner sees the first member as its primary.
func TestFreshAnswersFollowWhatWasSent(t *testing.T) {
	ctx := context.Background()
	hosts := []string{"192.0.2.11", "192.0.2.12", "192.0.2.13"}
	member := func(i int) (Server, *guest.Recorder) {
		rec := guest.NewRecorder(hosts[i])
		return Root(hosts[i], rec, nil).WithFresh(Fresh{Group: "g-1", Hosts: hosts, Self: hosts[i]}), rec
	}
	one, _ := member(0)
	st, err := one.ReadStatus(ctx)
	if err != nil || st.State != Offline || st.GroupName != "g-1" || st.Executed != "" {
		t.Fatalf("fresh status %+v, %v", st, err)
	}
	if err := one.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if m, err := one.ReadSelf(ctx); err != nil || m.State != Online || m.Role != Primary {
		t.Fatalf("after bootstrap %+v, %v", m, err)
	}
	two, _ := member(1)
	if h, err := two.PrimaryHost(ctx); err != nil || h != "" {
		t.Fatalf("before START: primary %q, %v", h, err)
	}
	if err := two.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := two.WaitOnline(ctx, time.Second, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if h, err := two.PrimaryHost(ctx); err != nil || h != hosts[0] {
		t.Fatalf("joiner's primary %q, %v; want %s", h, err, hosts[0])
	}
	s1, _ := one.ReadStatus(ctx)
	s2, _ := two.ReadStatus(ctx)
	if s1.UUID == s2.UUID || len(s1.UUID) != 36 {
		t.Fatalf("server_uuids %q %q: want distinct UUIDs", s1.UUID, s2.UUID)
	}
	if out, err := two.Query(ctx, "SELECT 1", "1\n"); err != nil || out != "1\n" {
		t.Fatalf("query %q, %v", out, err)
	}
}

// sqlAnswer is a Runner that answers every statement with out and records them.
type sqlAnswer struct {
	out  string
	sent []string
}

func (a *sqlAnswer) SQL(_ context.Context, stmts string) (string, error) {
	a.sent = append(a.sent, stmts)
	return a.out, nil
}

func TestWaitApplied(t *testing.T) {
	set := "aaaaaaaa-bbbb-cccc-dddd-000000000001:1-42"
	for _, c := range []struct {
		out, err string
	}{
		{"0\n", ""},
		{"1\n", "has not applied the group's transactions"},
		{"NULL\n", "unexpected answer"},
	} {
		a := &sqlAnswer{out: c.out}
		err := Server{Name: "SQL-TWO", SQL: a}.WaitApplied(context.Background(), set, 1500*time.Millisecond)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "SQL-TWO")) {
			t.Errorf("answer %q: err %v, want %q", c.out, err, c.err)
		}
		if len(a.sent) != 1 || a.sent[0] != "SELECT WAIT_FOR_EXECUTED_GTID_SET('"+set+"', 2)" {
			t.Errorf("sent %q", a.sent)
		}
	}
}
