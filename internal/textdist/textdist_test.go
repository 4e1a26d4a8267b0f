package textdist

import "testing"

func TestDistanceAndClosest(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"vm", "vms", 1}, {"kitten", "sitting", 3}, {"pakages", "packages", 1}} {
		if got := Distance(tc.a, tc.b); got != tc.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
	names := []string{"preflight", "clone-vms", "packages", "group-replication", "keepalived", "verify"}
	for in, want := range map[string]string{"pakages": "packages", "group": "group-replication", "keepalive": "keepalived", "verfy": "verify", "xyz": ""} {
		if got := Closest(in, names); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}
