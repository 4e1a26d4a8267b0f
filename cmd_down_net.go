package main

import (
	"context"
	"fmt"

	"labctl/labnet"
)

// downNetwork removes the lab's private network after its VMs are gone:
// only one labctl made (the lab's record says so), and only when no VM
// uses it any more. rec was read before the state folder went away.
func (s *session) downNetwork(ctx context.Context, rec *labnet.Record, dryRun bool) error {
	if rec == nil || rec.Name == "" {
		return nil
	}
	if dryRun {
		if rec.Created {
			fmt.Fprintf(s.out, "Would then remove the %s %s that labctl made for the lab, if no other VM uses it.\n", rec.Mode, rec.Name)
		}
		return nil
	}
	removed, why, err := labnet.Remove(ctx, s.vb, rec)
	switch {
	case err != nil:
		return fmt.Errorf("%w; remove it by hand once no VM uses it (`VBoxManage natnetwork remove --netname %s`)", err, rec.Name)
	case removed:
		fmt.Fprintf(s.out, "✓ removed the lab's %s %s\n", rec.Mode, rec.Name)
	case why != "":
		fmt.Fprintf(s.out, "Kept %s: %s.\n", rec.Name, why)
	}
	return nil
}
