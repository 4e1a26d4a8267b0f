package mysqlgr

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// WaitApplied waits, at most within (whole seconds, at least one), until s
// has applied every transaction of set (a gtid_executed read elsewhere, e.g.
// on the primary): a member chosen as the next primary must not start
// behind. MySQL does the waiting (WAIT_FOR_EXECUTED_GTID_SET); the client's
// own time-out is the caller's ctx.
func (s Server) WaitApplied(ctx context.Context, set string, within time.Duration) error {
	secs := max(int((within+time.Second-1)/time.Second), 1)
	out, err := s.SQL.SQL(ctx, fmt.Sprintf("SELECT WAIT_FOR_EXECUTED_GTID_SET(%s, %d)", Quote(set), secs))
	if err != nil {
		return fmt.Errorf("%s: wait until it has applied %s: %w", s.Name, set, err)
	}
	switch strings.TrimSpace(out) {
	case "0":
		return nil
	case "1":
		return fmt.Errorf("%s has not applied the group's transactions %s within %s", s.Name, set, within)
	}
	return fmt.Errorf("%s: wait until it has applied %s: unexpected answer %q", s.Name, set, out)
}
