package steps

// hosts-file: every node resolves every other node (and the MySQL VIP) by
// name without DNS. labctl owns one block of /etc/hosts between marker
// lines and rewrites it whole; the rest of the file is left as it was.
//
// Reads: /etc/hosts over SSH. Writes: /etc/hosts (atomically, same mode).

import (
	"context"
	"fmt"
	"strings"

	"labctl/guest"
	"labctl/lab"
)

// HostsFile is the "hosts-file" step.
func HostsFile() Step { return hostsFile{} }

type hostsFile struct{}

func (hostsFile) Name() string                  { return "hosts-file" }
func (hostsFile) Title() string                 { return "Writing the lab's names to /etc/hosts" }
func (hostsFile) Needs() []string               { return []string{"wait-ssh"} }
func (hostsFile) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }

func gaHostsMarkers(p *lab.Plan) (begin, end string) {
	return "# BEGIN labctl " + p.Name, "# END labctl " + p.Name
}

// hostsBlock is the managed block, marker lines included.
func hostsBlock(p *lab.Plan) string {
	begin, end := gaHostsMarkers(p)
	var b strings.Builder
	b.WriteString(begin + "\n")
	for _, n := range p.Nodes {
		fmt.Fprintf(&b, "%s\t%s\n", n.IP, n.Hostname)
	}
	if p.VIP.IsValid() && p.VIPHostname != "" {
		fmt.Fprintf(&b, "%s\t%s\n", p.VIP, p.VIPHostname)
	}
	b.WriteString(end + "\n")
	return b.String()
}

// hostsScript replaces the block in path (or appends it), keeping every
// other line; a BEGIN without END is refused rather than guessed at.
func hostsScript(p *lab.Plan, path string) string {
	begin, end := gaHostsMarkers(p)
	return fmt.Sprintf(`set -eu
f=%s
begin=%s
end=%s
# A base image without /etc/hosts gets one with the usual loopback lines.
if [ ! -e "$f" ]; then
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$f"
	chmod 0644 "$f"
fi
LABCTL_BLOCK=$(cat <<'LABCTL_EOF'
%sLABCTL_EOF
)
export LABCTL_BLOCK
nb=$(grep -cxF "$begin" "$f" || true)
ne=$(grep -cxF "$end" "$f" || true)
if [ "$nb" != "$ne" ] || [ "$nb" -gt 1 ]; then
	echo "$f has a damaged labctl block ($nb begin and $ne end lines): fix the lines between '$begin' and '$end' by hand" >&2
	exit 1
fi
tmp=$(mktemp "$f.labctl.XXXXXX")
trap 'rm -f "$tmp"' EXIT
awk -v b="$begin" -v e="$end" '
	BEGIN { blk = ENVIRON["LABCTL_BLOCK"] }
	$0 == b { print blk; done = 1; skip = 1; next }
	skip && $0 == e { skip = 0; next }
	!skip { print }
	END { if (!done) print blk }
' "$f" >"$tmp"
if cmp -s "$tmp" "$f"; then
	exit 0
fi
chmod --reference="$f" "$tmp"
chown --reference="$f" "$tmp"
mv -f "$tmp" "$f"
trap - EXIT
if command -v restorecon >/dev/null 2>&1; then
	restorecon "$f" 2>/dev/null || true
fi
`, guest.Quote(path), guest.Quote(begin), guest.Quote(end), hostsBlock(p))
}

// gaCurrentBlock extracts the managed block from a hosts file's text.
func gaCurrentBlock(p *lab.Plan, text string) (string, bool) {
	begin, end := gaHostsMarkers(p)
	var b strings.Builder
	in, found := false, false
	for _, l := range strings.Split(text, "\n") {
		switch {
		case !in && l == begin:
			in, found = true, true
			b.WriteString(l + "\n")
		case in:
			b.WriteString(l + "\n")
			if l == end {
				in = false
			}
		}
	}
	return b.String(), found && !in
}

func (hostsFile) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	res, err := env.SSH(n).Run(ctx, guest.Cmd{Script: "cat /etc/hosts 2>/dev/null || true"})
	if err != nil {
		return Status{}, fmt.Errorf("read /etc/hosts: %w", err)
	}
	block, ok := gaCurrentBlock(env.Plan, res.Stdout)
	if !ok {
		return Status{Why: "no labctl block in /etc/hosts"}, nil
	}
	if block != hostsBlock(env.Plan) {
		return Status{Why: "the labctl block in /etc/hosts differs from the plan"}, nil
	}
	return Status{Done: true}, nil
}

func (hostsFile) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	if _, err := env.SSH(n).Run(ctx, guest.Cmd{Script: hostsScript(env.Plan, "/etc/hosts")}); err != nil {
		return fmt.Errorf("write /etc/hosts: %w", err)
	}
	return nil
}
