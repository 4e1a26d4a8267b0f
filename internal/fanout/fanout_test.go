package fanout

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestEachReturnsUntypedNilAndPrefixes(t *testing.T) {
	items := []string{"SQL-ONE", "SQL-TWO", "SERVER-ONE", "SERVER-TWO"}
	name := func(s string) string { return s }
	if err := Each(context.Background(), items, 2, name, func(context.Context, string) error { return nil }); err != nil {
		t.Fatalf("Each with no failure returned %#v", err)
	}
	sentinel := errors.New("nope")
	err := Each(context.Background(), items, 0, name, func(_ context.Context, s string) error {
		if strings.HasPrefix(s, "SERVER") {
			return sentinel
		}
		return nil
	})
	if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), "SERVER-ONE: nope") || !strings.Contains(err.Error(), "SERVER-TWO: nope") {
		t.Errorf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Int32
	err = Each(ctx, items, 1, name, func(context.Context, string) error { ran.Add(1); return nil })
	if !errors.Is(err, context.Canceled) || ran.Load() != 0 {
		t.Errorf("cancelled Each: err=%v ran=%d", err, ran.Load())
	}
}

func TestEachHoldsTheLimit(t *testing.T) {
	items := make([]int, 12)
	for _, limit := range []int{1, 3, 12} {
		var inflight, peak atomic.Int32
		err := Each(context.Background(), items, limit, nil, func(context.Context, int) error {
			now := inflight.Add(1)
			defer inflight.Add(-1)
			for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
			}
			time.Sleep(5 * time.Millisecond)
			return nil
		})
		if err != nil || peak.Load() > int32(limit) || peak.Load() == 0 {
			t.Errorf("limit %d: peak %d, err %v", limit, peak.Load(), err)
		}
	}
}

func TestMapKeepsOrderAndAllRunsEverything(t *testing.T) {
	got := Map([]int{3, 1, 2}, func(i int) int { time.Sleep(time.Duration(i) * time.Millisecond); return i * 10 })
	if len(got) != 3 || got[0] != 30 || got[1] != 10 || got[2] != 20 {
		t.Errorf("Map = %v", got)
	}
	var a, b bool
	All(func() { a = true }, func() { b = true })
	if !a || !b {
		t.Error("All skipped a function")
	}
}
