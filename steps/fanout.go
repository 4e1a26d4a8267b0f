package steps

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-multierror"

	"labctl/lab"
)

// FanOut runs fn for every node concurrently, at most limit at a time
// (limit <= 0 means all at once), and waits for all of them. Every node
// error is prefixed with the node's name and kept wrapped (%w), and all of
// them are returned together so one run reports every broken VM. A node
// not yet started when ctx ends is skipped; ctx's error is then reported
// once. It returns nil only when every node succeeded.
func FanOut(ctx context.Context, nodes lab.Nodes, limit int, fn func(ctx context.Context, n *lab.Node) error) error {
	if limit <= 0 || limit > len(nodes) {
		limit = len(nodes)
	}
	sem := make(chan struct{}, limit)
	var g multierror.Group
	skipped := false
	for _, n := range nodes {
		// Taking the semaphore here, not in the goroutine, starts nodes in
		// lab order and stops launching as soon as ctx ends.
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
			if err := fn(ctx, n); err != nil {
				return fmt.Errorf("%s: %w", n.Name(), err)
			}
			return nil
		})
	}
	merr := g.Wait()
	if skipped {
		merr = multierror.Append(merr, fmt.Errorf("not every node was started: %w", ctx.Err()))
	}
	// Wait returns a *multierror.Error even when empty: returning it as is
	// would give a non-nil error interface holding nil.
	return merr.ErrorOrNil()
}
