package cliargs

import (
	"reflect"
	"testing"
)

func TestReorderSnapshotArgs(t *testing.T) {
	cases := []struct{ in, want []string }{
		{[]string{"labctl", "snapshot", "take", "clean", "--description", "before lab 3", "--offline"},
			[]string{"labctl", "snapshot", "take", "--description", "before lab 3", "--offline", "--", "clean"}},
		{[]string{"labctl", "--lab", "x.toml", "snapshot", "restore", "clean", "--dry-run"},
			[]string{"labctl", "--lab", "x.toml", "snapshot", "restore", "--dry-run", "--", "clean"}},
		{[]string{"labctl", "snapshot", "take", "-d", "d", "clean"},
			[]string{"labctl", "snapshot", "take", "-d", "d", "--", "clean"}},
		{[]string{"labctl", "snapshot", "list", "--json"}, []string{"labctl", "snapshot", "list", "--json"}},
		{[]string{"labctl", "ssh", "sql-one", "--", "snapshot", "take", "x", "-d"}, []string{"labctl", "ssh", "sql-one", "--", "snapshot", "take", "x", "-d"}},
		{[]string{"labctl", "up"}, []string{"labctl", "up"}},
	}
	for _, c := range cases {
		if got := reorderSnapshotArgs(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("reorderSnapshotArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestHoistGlobalFlags(t *testing.T) {
	cases := []struct{ in, want []string }{
		{[]string{"labctl", "up", "--lab", "x.toml"}, []string{"labctl", "--lab", "x.toml", "up"}},
		{[]string{"labctl", "up", "--dry-run", "--lab=x.toml", "-v"}, []string{"labctl", "--lab=x.toml", "-v", "up", "--dry-run"}},
		{[]string{"labctl", "--lab", "a.toml", "status", "--json", "--progress", "plain"},
			[]string{"labctl", "--lab", "a.toml", "--progress", "plain", "status", "--json"}},
		{[]string{"labctl", "snapshot", "take", "clean", "--lab", "x.toml"}, []string{"labctl", "--lab", "x.toml", "snapshot", "take", "clean"}},
		// The remote command's own flags stay where they are.
		{[]string{"labctl", "ssh", "sql-one", "ls", "-v"}, []string{"labctl", "ssh", "sql-one", "ls", "-v"}},
		{[]string{"labctl", "ssh", "-v", "sql-one", "--", "grep", "--lab", "x"}, []string{"labctl", "-v", "ssh", "sql-one", "--", "grep", "--lab", "x"}},
		{[]string{"labctl", "--", "up", "--lab", "x"}, []string{"labctl", "--", "up", "--lab", "x"}},
		{[]string{"labctl"}, []string{"labctl"}},
		{[]string{"labctl", "--lab", "x.toml"}, []string{"labctl", "--lab", "x.toml"}},
	}
	for _, c := range cases {
		if got := hoistGlobalFlags(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("hoistGlobalFlags(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
