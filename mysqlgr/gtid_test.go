package mysqlgr

import (
	"strings"
	"testing"
)

const (
	uA = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	uB = "5ba1c4e2-0b1f-11ef-8f2a-080027aa0001"
	uG = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" // the group's UUID (group_name)
)

func TestParseGTIDSetForms(t *testing.T) {
	cases := []struct {
		in, want string
		count    uint64
	}{
		{"", "", 0},
		{uA + ":1-5", uA + ":1-5", 5},
		{uA + ":1-5:7", uA + ":1-5:7", 6},
		{uA + ":7:1-5:6", uA + ":1-7", 7}, // unsorted, adjacent merge
		{uA + ":1-5,\n" + uB + ":1-3", uA + ":1-5," + uB + ":1-3", 8}, // MySQL's line-broken output
		{strings.ToUpper(uA) + ":1", uA + ":1", 1},                    // case-insensitive UUID
		{uA + ":1-3," + uA + ":2-9", uA + ":1-9", 9},                  // same source twice
		{uA + ":1-3:mytag:1-2", uA + ":1-3," + uA + ":mytag:1-2", 5},
	}
	for _, c := range cases {
		s, err := ParseGTIDSet(c.in)
		if err != nil {
			t.Errorf("ParseGTIDSet(%q): %v", c.in, err)
			continue
		}
		if got := s.String(); got != c.want {
			t.Errorf("ParseGTIDSet(%q) = %q, want %q", c.in, got, c.want)
		}
		if s.Count() != c.count {
			t.Errorf("ParseGTIDSet(%q).Count() = %d, want %d", c.in, s.Count(), c.count)
		}
	}
}

func TestParseGTIDSetErrors(t *testing.T) {
	for _, in := range []string{
		"nonsense:1-3",
		uA,              // no interval
		uA + ":0",       // transactions start at 1
		uA + ":5-3",     // reversed
		uA + ":1-3,",    // trailing comma
		uA + ":1-x",     // bad number
		uA + ":-tag-:1", // bad tag
		uA + ":1-3,,",   // empty element
	} {
		if _, err := ParseGTIDSet(in); err == nil {
			t.Errorf("ParseGTIDSet(%q) succeeded, want an error", in)
		}
	}
}

func TestGTIDSetContainsSubtract(t *testing.T) {
	big, _ := ParseGTIDSet(uA + ":1-10," + uB + ":1-3")
	small, _ := ParseGTIDSet(uA + ":2-4:8")
	other, _ := ParseGTIDSet(uA + ":11")
	if !big.Contains(small) {
		t.Error("1-10 should contain 2-4:8")
	}
	if small.Contains(big) {
		t.Error("2-4:8 should not contain 1-10")
	}
	if big.Contains(other) {
		t.Error("1-10 should not contain 11")
	}
	if got := big.Subtract(small).String(); got != uA+":1:5-7:9-10,"+uB+":1-3" {
		t.Errorf("subtract = %q", got)
	}
	if !big.Contains(GTIDSet{}) || !(GTIDSet{}).Contains(GTIDSet{}) {
		t.Error("every set contains the empty set")
	}
}

func TestChooseBootstrapFreshLabPicksFirst(t *testing.T) {
	got, err := ChooseBootstrap([]MemberGTID{{Name: "SQL-ONE"}, {Name: "SQL-TWO"}, {Name: "SQL-THREE"}})
	if err != nil || got != "SQL-ONE" {
		t.Fatalf("got %q, %v; want SQL-ONE", got, err)
	}
}

func TestChooseBootstrapMostAdvancedNotLastPrimary(t *testing.T) {
	// SQL-ONE was the primary but SQL-THREE holds one more certified
	// transaction in its relay log (received, not yet applied): the group
	// must restart from SQL-THREE, not from the last primary.
	members := []MemberGTID{
		{Name: "SQL-ONE", Executed: uG + ":1-40", LastPrimary: true},
		{Name: "SQL-TWO", Executed: uG + ":1-38"},
		{Name: "SQL-THREE", Executed: uG + ":1-39", Received: uG + ":1-41"},
	}
	got, err := ChooseBootstrap(members)
	if err != nil || got != "SQL-THREE" {
		t.Fatalf("got %q, %v; want SQL-THREE", got, err)
	}
}

func TestChooseBootstrapTiePrefersLastPrimary(t *testing.T) {
	members := []MemberGTID{
		{Name: "SQL-ONE", Executed: uG + ":1-40"},
		{Name: "SQL-TWO", Executed: uG + ":1-40", LastPrimary: true},
		{Name: "SQL-THREE", Executed: uG + ":1-12"},
	}
	got, err := ChooseBootstrap(members)
	if err != nil || got != "SQL-TWO" {
		t.Fatalf("got %q, %v; want SQL-TWO", got, err)
	}
}

func TestChooseBootstrapDivergence(t *testing.T) {
	// SQL-TWO wrote a local transaction while outside the group (errant GTID).
	members := []MemberGTID{
		{Name: "SQL-ONE", Executed: uG + ":1-40"},
		{Name: "SQL-TWO", Executed: uG + ":1-30," + uB + ":1"},
		{Name: "SQL-THREE", Executed: uG + ":1-39"},
	}
	_, err := ChooseBootstrap(members)
	if err == nil {
		t.Fatal("diverged sets must be refused")
	}
	msg := err.Error()
	for _, want := range []string{"diverged", "SQL-TWO has " + uB + ":1", "SQL-ONE lacks", "re-provision", "GTID_NEXT"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

func TestChooseBootstrapBadInput(t *testing.T) {
	if _, err := ChooseBootstrap(nil); err == nil {
		t.Error("no members must be an error")
	}
	_, err := ChooseBootstrap([]MemberGTID{{Name: "SQL-ONE", Executed: "garbage"}})
	if err == nil || !strings.Contains(err.Error(), "SQL-ONE") {
		t.Errorf("bad GTID set must name the member, got %v", err)
	}
}
