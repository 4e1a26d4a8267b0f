package steps

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPollWaitsBoundedAndSaysWhy(t *testing.T) {
	ctx := context.Background()
	n := 0
	if err := (Poll{}).Wait(ctx, "x", time.Second, time.Millisecond, func(context.Context) (bool, error) {
		n++
		return n == 3, nil
	}); err != nil || n != 3 {
		t.Fatalf("err %v after %d probes, want nil after 3", err, n)
	}
	start := time.Now()
	err := (Poll{}).Wait(ctx, "the thing to be ready", 30*time.Millisecond, 5*time.Millisecond, func(context.Context) (bool, error) { return false, nil })
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "the thing to be ready") || time.Since(start) > time.Second {
		t.Fatalf("timeout: %v after %s", err, time.Since(start))
	}
	boom := errors.New("boom")
	if err := (Poll{}).Wait(ctx, "x", time.Second, time.Millisecond, func(context.Context) (bool, error) { return false, boom }); err != boom {
		t.Fatalf("a failing condition: %v, want it as is", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := (Poll{}).Wait(cctx, "x", time.Second, time.Millisecond, func(context.Context) (bool, error) { return false, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestPlanWaitProbesOnceAndNotes: a plan shows the probe and the bound,
// and does not wait.
func TestPlanWaitProbesOnceAndNotes(t *testing.T) {
	env := &Env{Plan: vmtPlan()}
	planSeams(env)
	n := 0
	start := time.Now()
	err := env.Wait(context.Background(), "SQL-ONE to be ONLINE", 5*time.Minute, time.Second, func(context.Context) (bool, error) {
		n++
		return false, nil
	})
	if err != nil || n != 1 || time.Since(start) > time.Second {
		t.Fatalf("err %v, %d probes, %s", err, n, time.Since(start))
	}
	if got := env.Transcript.take(); len(got) != 1 || got[0] != "# wait up to 5m for SQL-ONE to be ONLINE" {
		t.Fatalf("notes %q", got)
	}
}
