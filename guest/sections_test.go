package guest

import "testing"

func TestSections(t *testing.T) {
	got := Sections("noise\n@@ members\na\tb\n\n@@ addresses\n10.0.0.1\n10.0.0.2\n\n@@ empty\n")
	want := map[string]string{"members": "a\tb", "addresses": "10.0.0.1\n10.0.0.2", "empty": ""}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
