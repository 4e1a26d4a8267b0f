package steps

// Shared by the guest-access steps (fresh-identity, guest-network,
// ssh-access, hosts-file): how their read-only checks reach a node, and the
// key=value lines their check scripts print.

import (
	"context"
	"strings"
	"time"

	"labctl/guest"
	"labctl/lab"
)

// gaHasPin reports whether any key is pinned for n's address.
func gaHasPin(env *Env, n *lab.Node) bool {
	if env.HostKeys == nil {
		return false
	}
	pins, err := env.HostKeys.Load()
	if err != nil {
		return false
	}
	want, err := pins.Want(n.SSHAddr())
	return err == nil && len(want) > 0
}

// gaReadWait bounds the SSH attempt of a guest-access check.
const gaReadWait = 2 * time.Second

// gaRead runs a read-only guest-access check script. On a built lab the
// node's SSH already answers with its pinned key and takes milliseconds;
// guest control takes a second or more per call on VirtualBox, so it is
// used only when SSH is not usable yet (a new node, a node still booting,
// a key that no longer matches). Both run the same script as root.
func gaRead(ctx context.Context, env *Env, n *lab.Node, script string) (guest.Result, error) {
	if env.SSH != nil && gaHasPin(env, n) {
		sctx, cancel := context.WithTimeout(ctx, gaReadWait)
		res, err := env.SSH(n).Run(sctx, guest.Cmd{Script: script})
		cancel()
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	return env.Control(n).Run(ctx, guest.Cmd{Script: script})
}

// gaKV parses the key=value lines the guest-access check scripts print.
func gaKV(out string) map[string]string {
	kv := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			kv[k] = strings.TrimSpace(v)
		}
	}
	return kv
}
