// Package fanout is labctl's one way of doing independent work in
// parallel: nodes of a step, VMs of a fleet, probes of a status read.
package fanout

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/go-multierror"
)

// Each runs fn for every item concurrently, at most limit at a time
// (limit <= 0 means all at once), starting them in order, and waits for all.
// Every error is prefixed with name(item) (when name is not nil) and kept
// wrapped (%w); all of them come back together (go-multierror), so one run
// reports every broken node. Items not yet started when ctx ends are
// skipped and ctx's error is reported once. nil only when every item succeeded.
func Each[T any](ctx context.Context, items []T, limit int, name func(T) string, fn func(context.Context, T) error) error {
	if limit <= 0 || limit > len(items) {
		limit = len(items)
	}
	sem := make(chan struct{}, max(limit, 1))
	var g multierror.Group
	skipped := false
	for _, it := range items {
		// Taking the semaphore here, not in the goroutine, starts items in
		// order and stops launching as soon as ctx ends.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			skipped = true
		}
		if skipped || ctx.Err() != nil {
			if !skipped {
				<-sem
				skipped = true
			}
			break
		}
		g.Go(func() error {
			defer func() { <-sem }()
			err := fn(ctx, it)
			if err != nil && name != nil {
				err = fmt.Errorf("%s: %w", name(it), err)
			}
			return err
		})
	}
	merr := g.Wait()
	if skipped {
		merr = multierror.Append(merr, fmt.Errorf("not every item was started: %w", ctx.Err()))
	}
	// Wait returns a *multierror.Error even when empty: returning it as is
	// would give a non-nil error interface holding nil.
	return merr.ErrorOrNil()
}

// All runs independent functions at once and waits for them; each keeps
// its own result (reads that cannot fail together).
func All(fns ...func()) {
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	wg.Wait()
}

// Map runs fn for every item at once and returns the results in item order.
func Map[T, R any](items []T, fn func(T) R) []R {
	out := make([]R, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = fn(it) }()
	}
	wg.Wait()
	return out
}
