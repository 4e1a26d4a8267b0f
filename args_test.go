package main

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
