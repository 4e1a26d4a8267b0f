package steps

// ssh-access: install the lab's public key for the SSH user and pin each
// clone's own host key, both through guest control — the host key is read
// from the guest over a channel that needs no trust on first use.
//
// Reads: env.SSHPublicKey, the plan's SSH user, the guest's
// /etc/ssh/ssh_host_ed25519_key.pub, the lab's known_hosts.
// Writes: ~user/.ssh/authorized_keys (0600, .ssh 0700) and, through
// env.PinHostKey, the lab's known_hosts.

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"

	"labctl/guest"
	"labctl/hostkeys"
	"labctl/lab"
)

// gaHostKeyPath is the key labctl pins (ed25519: what the lab's client asks for).
const gaHostKeyPath = "/etc/ssh/ssh_host_ed25519_key.pub"

// SSHAccess is the "ssh-access" step.
func SSHAccess() Step { return sshAccess{} }

type sshAccess struct{}

func (sshAccess) Name() string                  { return "ssh-access" }
func (sshAccess) Title() string                 { return "Installing the lab's SSH key and pinning host keys" }
func (sshAccess) Needs() []string               { return []string{"fresh-identity", "guest-network"} }
func (sshAccess) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }

func gaSSHUser(env *Env) string {
	if env.Plan.SSHUser == "" {
		return "root"
	}
	return env.Plan.SSHUser
}

// sshAccessCheckScript prints whether the key is installed with safe
// modes, and the host key, without changing anything.
func sshAccessCheckScript(user, pubkey string) string {
	return fmt.Sprintf(`user=%s
key=%s
home=$(getent passwd "$user" | cut -d: -f6)
ak="$home/.ssh/authorized_keys"
installed=no
if [ -n "$home" ] && [ -f "$ak" ] && grep -qxF "$key" "$ak" &&
	[ "$(stat -c %%a "$home/.ssh")" = 700 ] && [ "$(stat -c %%a "$ak")" = 600 ] &&
	[ "$(stat -c %%U "$ak")" = "$user" ]; then
	installed=yes
fi
echo "installed=$installed"
echo "hostkey=$(cat %s 2>/dev/null || true)"
`, guest.Quote(user), guest.Quote(pubkey), gaHostKeyPath)
}

// sshAccessScript installs the key and prints the host public key last.
func sshAccessScript(p *guest.Profile, user, pubkey string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `set -eu
user=%s
key=%s
home=$(getent passwd "$user" | cut -d: -f6)
if [ -z "$home" ]; then
	echo "user $user does not exist in the guest: set ssh_user in lab.toml to an existing account" >&2
	exit 1
fi
group=$(id -gn "$user")
install -d -m 0700 -o "$user" -g "$group" "$home/.ssh"
ak="$home/.ssh/authorized_keys"
touch "$ak"
if ! grep -qxF "$key" "$ak"; then
	printf '%%s\n' "$key" >>"$ak"
fi
chown "$user:$group" "$ak"
chmod 0600 "$ak"
`, guest.Quote(user), guest.Quote(pubkey))
	if p.SELinux {
		b.WriteString("restorecon -R \"$home/.ssh\"\n")
	}
	b.WriteString(`if [ "$user" != root ] && ! sudo -n -l -U "$user" 2>/dev/null | grep -q NOPASSWD; then
	echo "user $user needs passwordless sudo (NOPASSWD) for labctl" >&2
	exit 1
fi
cat ` + gaHostKeyPath + "\n")
	return b.String()
}

// gaPinned reports whether key is the one pinned for n.
func gaPinned(env *Env, n *lab.Node, key ssh.PublicKey) (bool, error) {
	pins, err := env.HostKeys.Load()
	if errors.Is(err, hostkeys.ErrNoFile) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return pins.Matches(n.SSHAddr(), key)
}

// gaFreshHostKey stands for the host key fresh-identity generated on n: a
// well-formed ed25519 key derived from the node's name (a plan's answer).
func gaFreshHostKey(n *lab.Node) string {
	seed := sha256.Sum256([]byte("labctl-fresh-hostkey:" + n.VM))
	pub, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(seed[:]).Public())
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}

// gaParseHostKey reads the host key line the guest printed.
func gaParseHostKey(node, out string) (string, ssh.PublicKey, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	line = strings.TrimPrefix(line, "hostkey=")
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return "", nil, fmt.Errorf("%s: %s did not hold an SSH public key (%q): %w", node, gaHostKeyPath, line, err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))), key, nil
}

func (sshAccess) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	if env.SSHPublicKey == "" {
		return Status{}, errors.New("no lab SSH public key: the lab state folder is missing its key")
	}
	res, err := gaRead(ctx, env, n, sshAccessCheckScript(gaSSHUser(env), env.SSHPublicKey))
	if err != nil {
		return Status{}, fmt.Errorf("read SSH access: %w", err)
	}
	kv := gaKV(res.Stdout)
	if kv["installed"] != "yes" {
		return Status{Why: fmt.Sprintf("lab key not installed for %s", gaSSHUser(env))}, nil
	}
	if kv["hostkey"] == "" {
		return Status{Why: "no ed25519 host key in the guest yet"}, nil
	}
	_, key, err := gaParseHostKey(n.VM, "hostkey="+kv["hostkey"])
	if err != nil {
		return Status{}, err
	}
	ok, err := gaPinned(env, n, key)
	if err != nil {
		return Status{}, err
	}
	if !ok {
		return Status{Why: fmt.Sprintf("host key %s not pinned in %s", ssh.FingerprintSHA256(key), env.HostKeys)}, nil
	}
	return Status{Done: true}, nil
}

func (sshAccess) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	if env.SSHPublicKey == "" {
		return errors.New("no lab SSH public key: the lab state folder is missing its key")
	}
	res, err := env.Control(n).Run(ctx, guest.Cmd{
		Script: sshAccessScript(env.Profile, gaSSHUser(env), env.SSHPublicKey),
		Fresh:  guest.Prints("hostkey=" + gaFreshHostKey(n) + "\n"),
	})
	if err != nil {
		return fmt.Errorf("install SSH key: %w", err)
	}
	line, _, err := gaParseHostKey(n.VM, res.Stdout)
	if err != nil {
		return err
	}
	if env.HostKeys == nil {
		return errors.New("no known_hosts store configured")
	}
	if err := env.HostKeys.Pin(n.SSHAddr(), line); err != nil {
		return fmt.Errorf("pin host key: %w", err)
	}
	return nil
}
