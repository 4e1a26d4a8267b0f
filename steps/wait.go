package steps

// Waiting, the one way: every wait of a step (a VM's Guest Additions, SSH,
// a member ONLINE, the lab settling for verify) is Env.Wait, bounded. The
// live Waiter polls; a plan's probes once and notes the wait (plan.go).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A Waiter waits until cond holds, for at most limit, asking every every.
// cond returning an error ends the wait with that error.
type Waiter interface {
	Wait(ctx context.Context, what string, limit, every time.Duration, cond func(context.Context) (bool, error)) error
}

// ErrTimeout is wrapped by the error of a wait that ran out of time.
var ErrTimeout = errors.New("timed out")

// Wait waits, bounded, until cond holds (what says what for, in messages
// and plans: "Guest Additions in sql-one"). A wait that runs out of time
// returns an error wrapping ErrTimeout and cond's last error, if any.
func (e *Env) Wait(ctx context.Context, what string, limit, every time.Duration, cond func(context.Context) (bool, error)) error {
	if e.Waiter != nil {
		return e.Waiter.Wait(ctx, what, limit, every, cond)
	}
	return Poll{}.Wait(ctx, what, limit, every, cond)
}

// Poll is the live Waiter: cond at once, then every `every` (1s when 0),
// until it holds, fails, or limit has passed.
type Poll struct{}

// Wait implements Waiter.
func (Poll) Wait(ctx context.Context, what string, limit, every time.Duration, cond func(context.Context) (bool, error)) error {
	if every <= 0 {
		every = time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		ok, err := cond(wctx)
		switch {
		case ok && err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && wctx.Err() == nil:
			return err
		case err != nil:
			return timeoutError(what, limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wctx.Done():
			return timeoutError(what, limit, nil)
		case <-tick.C:
		}
	}
}

func timeoutError(what string, limit time.Duration, last error) error {
	if last != nil {
		return fmt.Errorf("%s: %w after %s: %w", what, ErrTimeout, shortDuration(limit), last)
	}
	return fmt.Errorf("%s: %w after %s", what, ErrTimeout, shortDuration(limit))
}

// shortDuration prints 5m rather than 5m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
