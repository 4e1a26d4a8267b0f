package steps

// fresh-identity: give each linked clone its own identity before anything
// else talks to it. A clone inherits the base image's /etc/machine-id, SSH
// host keys and (if mysqld ever ran in the base) MySQL's auto.cnf, whose
// server_uuid group replication requires to be unique.
//
// Reads: the VM's UUID from VirtualBox (distinct per clone, stable across
// reboots) and the marker /etc/labctl/identity, through guest control.
// Writes: /etc/machine-id, /etc/ssh/ssh_host_*, removes the datadir's
// auto.cnf, then the marker. The marker names the VM it was written on, so
// a clone of a clone (or of a base that ran labctl) is not fooled by it.

import (
	"context"
	"fmt"
	"strings"

	"labctl/guest"
	"labctl/lab"
)

// gaIdentityMarker records which VM the identity was generated on.
const gaIdentityMarker = "/etc/labctl/identity"

// FreshIdentity is the "fresh-identity" step.
func FreshIdentity() Step { return freshIdentity{} }

type freshIdentity struct{}

func (freshIdentity) Name() string                  { return "fresh-identity" }
func (freshIdentity) Title() string                 { return "Giving each clone a fresh identity" }
func (freshIdentity) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }

// Needs: guest control answers only once the Guest Additions run.
func (freshIdentity) Needs() []string { return []string{"wait-guests"} }

// gaVMUUID is the clone's VirtualBox UUID, the key of its identity marker.
func gaVMUUID(ctx context.Context, env *Env, n *lab.Node) (string, error) {
	info, err := env.vmSettled(ctx, n.VM)
	if err != nil {
		return "", fmt.Errorf("read VM UUID: %w", err)
	}
	if info.UUID == "" || strings.ContainsAny(info.UUID, "'\n") {
		return "", fmt.Errorf("VirtualBox reports no usable UUID for VM %s", n.VM)
	}
	return info.UUID, nil
}

// identityCheckScript prints the marker, read-only.
func identityCheckScript() string {
	return "echo \"marker=$(cat " + gaIdentityMarker + " 2>/dev/null || true)\"\n"
}

// identityScript regenerates the identity unless the marker already
// names this VM; the marker is written last, so a run that dies half-way
// is simply redone.
func identityScript(p *guest.Profile, vmUUID string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `set -eu
vm=%[2]s
if [ "$(cat %[1]s 2>/dev/null || true)" = "$vm" ]; then
	exit 0
fi
# machine-id: systemd-machine-id-setup writes a new one when the file is missing.
rm -f /etc/machine-id
systemd-machine-id-setup
if [ -f /var/lib/dbus/machine-id ] && [ ! -L /var/lib/dbus/machine-id ]; then
	cp /etc/machine-id /var/lib/dbus/machine-id
fi
# SSH host keys: new ones of every default type, then sshd picks them up.
rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub
ssh-keygen -A
`, gaIdentityMarker, guest.Quote(vmUUID))
	if p.SELinux {
		b.WriteString("restorecon /etc/ssh/ssh_host_*\n")
	}
	// reset-failed: connections that arrive while the keys are being replaced
	// can make sshd fail to start a few times in a row; systemd's start limit
	// would then refuse the restart ("start request repeated too quickly").
	fmt.Fprintf(&b, `systemctl reset-failed %[1]s 2>/dev/null || true
systemctl restart %[1]s
# MySQL: an auto.cnf here was cloned from the base (the marker did not name
# this VM, so this mysqld never joined a group): drop it for a new server_uuid.
if [ -f %[2]s/auto.cnf ]; then
	active=no
	if systemctl is-active --quiet %[3]s; then
		active=yes
		systemctl stop %[3]s
	fi
	rm -f %[2]s/auto.cnf
	if [ "$active" = yes ]; then
		systemctl start %[3]s
	fi
fi
mkdir -p %[4]s
printf '%%s\n' "$vm" >%[5]s.tmp
mv -f %[5]s.tmp %[5]s
`, p.SSHService, p.MySQLDataDir, p.MySQLService, "/etc/labctl", gaIdentityMarker)
	return b.String()
}

func (freshIdentity) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	vm, err := gaVMUUID(ctx, env, n)
	if err != nil {
		return Status{}, err
	}
	res, err := gaRead(ctx, env, n, identityCheckScript())
	if err != nil {
		return Status{}, fmt.Errorf("read identity marker: %w", err)
	}
	switch marker := gaKV(res.Stdout)["marker"]; {
	case marker == "":
		return Status{Why: "machine-id and SSH host keys are still the base image's"}, nil
	case marker != vm:
		return Status{Why: fmt.Sprintf("identity was made on VM %s, this is VM %s", marker, vm)}, nil
	}
	return Status{Done: true}, nil
}

func (freshIdentity) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	vm, err := gaVMUUID(ctx, env, n)
	if err != nil {
		return err
	}
	if _, err := env.Control(n).Run(ctx, guest.Cmd{Script: identityScript(env.Profile, vm)}); err != nil {
		return fmt.Errorf("fresh identity: %w", err)
	}
	return nil
}
