package mysqlver

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]Version{
		"8.0.21": V(8, 0, 21), "9.7.0-1": V(9, 7, 0), "8.0.41-0ubuntu0.22.04.1": V(8, 0, 41), " 8.4.3\n": V(8, 4, 3),
	} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "8.0", "x8.0.1", "eight"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	for in, want := range map[string]Version{
		"/usr/libexec/mysqld  Ver 8.0.21 for Linux on x86_64 (Source distribution)":            V(8, 0, 21),
		"/usr/sbin/mysqld  Ver 9.7.0 for Linux on x86_64 (MySQL Community Server - GPL)\nmore": V(9, 7, 0),
		"/usr/sbin/mysqld  Ver 8.0.41-0ubuntu0.22.04.1 for Linux on x86_64 ((Ubuntu))":         V(8, 0, 41),
	} {
		if got, err := ParseMysqld(in); err != nil || got != want {
			t.Errorf("ParseMysqld(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseMysqld("bash: mysqld: command not found"); err == nil {
		t.Error("no version accepted")
	}
}

func TestCompareAndSupport(t *testing.T) {
	if !V(8, 0, 21).Less(V(8, 0, 26)) || !V(8, 0, 41).Less(V(8, 4, 0)) || !V(8, 4, 9).Less(V(9, 0, 0)) || V(9, 0, 0).Less(V(8, 99, 99)) {
		t.Error("Less is wrong")
	}
	if CheckSupported(V(8, 0, 20)) == nil || CheckSupported(Oldest) != nil || CheckSupported(V(9, 7, 0)) != nil {
		t.Error("supported range wrong")
	}
	if Assumed.Less(Oldest) {
		t.Error("the assumed version is unsupported")
	}
}

// TestTableFacts pins the facts the table exists for, as the MySQL manuals
// and release notes state them, so an edit to a row cannot quietly undo one.
func TestTableFacts(t *testing.T) {
	facts := []struct {
		v    Version
		name string
		has  bool
	}{
		// AlmaLinux 8.4's media server: the old replication names only.
		{V(8, 0, 21), "log_replica_updates", false},
		{V(8, 0, 21), "skip_replica_start", false},
		{V(8, 0, 21), "log_slave_updates", true},
		{V(8, 0, 21), "skip_slave_start", true},
		{V(8, 0, 21), "group_replication_ip_allowlist", false},
		{V(8, 0, 21), "group_replication_ip_whitelist", true},
		{V(8, 0, 21), "GROUP_REPLICATION_STREAM", false},
		{V(8, 0, 21), "group_replication_message_cache_size=134217728", true},
		{V(8, 0, 20), "group_replication_message_cache_size=134217728", false},
		// 8.0.26: the renames; 8.0.27: the MySQL communication stack.
		{V(8, 0, 26), "log_replica_updates", true},
		{V(8, 0, 26), "skip_replica_start", true},
		{V(8, 0, 26), "GROUP_REPLICATION_STREAM", false},
		{V(8, 0, 27), "GROUP_REPLICATION_STREAM", true},
		{V(8, 0, 22), "group_replication_ip_allowlist", true},
		// 8.4 removed the whitelist name.
		{V(8, 3, 0), "group_replication_ip_whitelist", true},
		{V(8, 4, 0), "group_replication_ip_whitelist", false},
		{V(9, 7, 0), "group_replication_ip_allowlist", true},
		{V(9, 7, 0), "GROUP_REPLICATION_STREAM", true},
	}
	for _, f := range facts {
		if got := f.v.Has(f.name); got != f.has {
			t.Errorf("MySQL %s has %s = %v, want %v", f.v, f.name, got, f.has)
		}
	}
}

func TestTableRows(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Table {
		key := strings.ToLower(r.Name)
		if seen[key] {
			t.Errorf("%s: two rows", r.Name)
		}
		seen[key] = true
		if r.Since.IsZero() {
			t.Errorf("%s: no Since", r.Name)
		}
		if !r.Removed.IsZero() && !r.Since.Less(r.Removed) {
			t.Errorf("%s: removed (%s) before it appeared (%s)", r.Name, r.Removed, r.Since)
		}
		if r.Old != "" {
			old, ok := Lookup(r.Old)
			if !ok {
				t.Errorf("%s: old name %s has no row", r.Name, r.Old)
			} else if !old.In(V(r.Since.Major, r.Since.Minor, r.Since.Patch-1)) {
				t.Errorf("%s: old name %s is missing just before the rename", r.Name, r.Old)
			}
		}
		if name, _, ok := strings.Cut(r.Name, "="); ok && r.Kind == Value {
			if o, found := Lookup(name); !found || r.Since.Less(o.Since) {
				t.Errorf("%s: value row for an option without a row, or older than it", r.Name)
			}
		}
	}
}

func TestOptAndPrivileges(t *testing.T) {
	if n, err := V(8, 0, 21).Opt("log_replica_updates"); err != nil || n != "log_slave_updates" {
		t.Errorf("8.0.21 log_replica_updates = %q, %v", n, err)
	}
	if n, err := V(9, 7, 0).Opt("log_replica_updates"); err != nil || n != "log_replica_updates" {
		t.Errorf("9.7.0 log_replica_updates = %q, %v", n, err)
	}
	if _, err := V(8, 0, 10).Opt("group_replication_consistency"); err == nil || !strings.Contains(err.Error(), "8.0.14") {
		t.Errorf("8.0.10 group_replication_consistency: %v", err)
	}
	if _, err := V(9, 7, 0).Opt("no_such_option"); err == nil || !strings.Contains(err.Error(), "no row") {
		t.Errorf("unknown option: %v", err)
	}
	got, err := V(8, 0, 26).Privileges("CONNECTION_ADMIN", "BACKUP_ADMIN", "GROUP_REPLICATION_STREAM")
	if err != nil || strings.Join(got, ", ") != "CONNECTION_ADMIN, BACKUP_ADMIN" {
		t.Errorf("8.0.26 privileges %v, %v", got, err)
	}
	if _, err := V(9, 7, 0).Privileges("SUPER_POWERS"); err == nil {
		t.Error("a privilege without a row passed")
	}
	if err := V(8, 0, 17).Need("group_replication_exit_state_action=OFFLINE_MODE"); err == nil {
		t.Error("OFFLINE_MODE before 8.0.18 passed")
	}
}
