package exercise

import "testing"

func TestBuiltinsLoad(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.All()); n < 8 {
		t.Fatalf("%d built-in exercises, want at least 8", n)
	}
}
