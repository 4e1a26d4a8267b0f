package drill

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"labctl/lab"
	"labctl/mysqlgr"
)

// SwitchTarget resolves `switchover --to NAME` (a DB node's VM name or
// hostname, any case) against the plan; "" leaves the choice to the
// switchover. A wrong name is one error listing the DB nodes.
func SwitchTarget(p *lab.Plan, name string) (*lab.Node, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, nil
	}
	dbs := p.DB()
	var names []string
	for _, n := range dbs {
		names = append(names, n.VM)
	}
	for _, n := range p.Nodes {
		if strings.EqualFold(n.VM, name) || strings.EqualFold(n.Hostname, name) {
			if n.Role != lab.RoleDB {
				return nil, fmt.Errorf("--to %s: %s is a %s node, not a MySQL member; use one of %s", name, n.VM, n.Role, strings.Join(names, ", "))
			}
			return n, nil
		}
	}
	return nil, fmt.Errorf("--to %s: no such node in lab %q; use one of %s", name, p.Name, strings.Join(names, ", "))
}

// Switchover moves the group's primary on purpose, for maintenance: it waits
// until the chosen member (to, or else the next DB node after the primary)
// has applied every transaction the primary has, asks the group to make it
// the primary (group_replication_set_as_primary, which lets running
// transactions finish), and waits, bounded, until the VIP is on it, while
// WordPress is requested through the load balancer; it prints the timeline
// and the failed requests. A member that already is the primary is left alone.
func (d *Drill) Switchover(ctx context.Context, to *lab.Node) error {
	p := d.plan
	dbs := p.DB()
	views := d.viewAll(ctx, dbs)
	old, err := mysqlgr.HealthyPrimary(p, groupViews(views))
	if err != nil {
		return fmt.Errorf("a switchover needs a healthy group (every DB node ONLINE, one PRIMARY), and it is not: %w; run `labctl up` (or `labctl status` to see why)", err)
	}
	if to == nil {
		to = nextAfter(dbs, old)
	}
	if to == old {
		fmt.Fprintf(d.out, "%s already is the primary of lab %q: nothing to do.\n", to.VM, p.Name)
		return nil
	}
	id := ""
	for _, v := range views {
		if self, ok := v.View.Self(); ok && v.Node == to {
			id = self.ID
		}
	}
	if id == "" {
		return fmt.Errorf("%s did not report its own member row (server_uuid); see `labctl status`", to.VM)
	}
	fmt.Fprintf(d.out, "Switchover on lab %q: moving the primary from %s to %s.\n", p.Name, old.VM, to.VM)
	fmt.Fprintf(d.out, "WordPress through the load balancer is requested every %s meanwhile.\n", d.poll)

	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	var tally requestTally
	loopDone := make(chan struct{})
	go d.requestLoop(loopCtx, &tally, loopDone)
	finish := func(problems ...error) error {
		stopLoop()
		<-loopDone
		d.event("request loop stopped: %d of %d requests failed", tally.failed, tally.total)
		d.print(&tally)
		if took, ok := d.find("VIP " + p.VIP.String() + " up on"); ok {
			fmt.Fprintf(d.out, "Switchover took:      %.1f s\n", took.Seconds())
		}
		return errors.Join(problems...)
	}
	if err := sleepCtx(ctx, 4*d.poll); err != nil { // a baseline before the move
		return finish(err)
	}
	d.mu.Lock()
	d.t0 = time.Now()
	d.mu.Unlock()

	// The chosen member must hold everything the primary had committed
	// before it is asked to take over: MySQL waits for it, bounded.
	oldSrv := mysqlgr.Root(old.VM, d.ssh(old), d.redact)
	st, err := oldSrv.ReadStatus(ctx)
	if err != nil {
		return finish(fmt.Errorf("%s: %w", old.VM, err))
	}
	wctx, cancel := context.WithTimeout(ctx, d.catchUpWait+10*time.Second)
	err = mysqlgr.Root(to.VM, d.ssh(to), d.redact).WaitApplied(wctx, st.Executed, d.catchUpWait)
	cancel()
	if err != nil {
		return finish(err)
	}
	d.event("%s has applied every transaction of %s", to.VM, old.VM)
	if err := oldSrv.SetAsPrimary(ctx, id); err != nil {
		return finish(fmt.Errorf("%s: %w", old.VM, err))
	}
	d.event("new primary elected: %s (group_replication_set_as_primary returned)", to.VM)

	// keepalived moves the VIP when its checks see the new roles.
	deadline := time.Now().Add(d.failoverWait)
	moved := false
	for !moved && time.Now().Before(deadline) && ctx.Err() == nil {
		vs := d.viewAll(ctx, dbs)
		onOld, onNew := false, false
		for _, v := range vs {
			onOld = onOld || v.Node == old && v.hasAddr(p.VIP.String())
			onNew = onNew || v.Node == to && v.hasAddr(p.VIP.String())
		}
		if onNew && !onOld {
			moved = true
			d.event("VIP %s up on %s", p.VIP, to.VM)
			break
		}
		if err := sleepCtx(ctx, d.poll); err != nil {
			break
		}
	}
	if !moved {
		if err := ctx.Err(); err != nil {
			return finish(err)
		}
		return finish(fmt.Errorf("%s is the primary but the VIP %s did not move to it within %s (is keepalived running there? see `labctl status`)", to.VM, p.VIP, d.failoverWait))
	}
	_ = sleepCtx(ctx, d.settle) // failures right after the move still count
	return finish()
}

// nextAfter is the DB node after old in plan order (wrapping around).
func nextAfter(dbs lab.Nodes, old *lab.Node) *lab.Node {
	for i, n := range dbs {
		if n == old {
			return dbs[(i+1)%len(dbs)]
		}
	}
	return dbs[0]
}
