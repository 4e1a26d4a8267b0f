package labstatus

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestReportNamesTheSeat(t *testing.T) {
	for _, tc := range []struct {
		seat     int
		head     string
		jsonSeat bool
	}{{3, `Lab "class-seat3" (seat 3): VIP`, true}, {0, `Lab "class-seat3": VIP`, false}} {
		r := &Report{Lab: "class-seat3", Seat: tc.seat, VIP: "192.0.2.191", VIPHolder: []string{}}
		var b bytes.Buffer
		r.Print(&b)
		if !strings.HasPrefix(b.String(), tc.head) {
			t.Errorf("seat %d: header %q, want %q", tc.seat, strings.SplitN(b.String(), "\n", 2)[0], tc.head)
		}
		js, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(js), `"seat":3`); got != tc.jsonSeat {
			t.Errorf("seat %d: JSON %s", tc.seat, js)
		}
	}
}
