package steps

// Step "keepalived" (DB nodes): the MySQL VIP follows the group's primary.
//
//  1. Find the NIC that carries the node's own address (read from the live
//     guest; never assume enp0s3).
//  2. The verifier's 0600 option file and the check script (the check passes
//     only if this member is ONLINE, PRIMARY, in a majority and writable).
//  3. A systemd drop-in restarting keepalived if it dies (a killed
//     keepalived leaves its VIP behind; a restarted one removes it).
//  4. keepalived.conf: unicast peers, the lab's own virtual_router_id, no
//     authentication, track_script with weight 0. It is written to a
//     staging file, tested with `keepalived -t -f` on the node, and only
//     then moved into place and reloaded.
//
// Reads: plan (DB nodes, VIP, network, router id), secrets (verifier
// password), profile (keepalived service and config path), the node's NICs.
// Writes: the files above; keepalived enabled, reloaded on change.

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"labctl/guest"
	"labctl/lab"
)

// KeepalivedCheckScript is the VIP check on each DB node; it exits 0 only on
// the writable primary of a majority (labctl verify may run it).
const KeepalivedCheckScript = "/usr/libexec/keepalived/check_primary.sh"

const (
	// kaCheckScript lives where the SELinux policy labels scripts
	// keepalived_unconfined_script_exec_t, so the check may run the mysql
	// client; root-owned 0700 in a root-owned folder satisfies
	// enable_script_security.
	kaCheckScript = KeepalivedCheckScript
	// kaCheckCnf holds the verifier's credentials (0600, root only).
	kaCheckCnf = "/etc/keepalived/check_primary.cnf"
	// Check timing: TCP connect, the whole mysql call, and keepalived's own
	// limit on the script (above the inner one so the script ends itself).
	// A mysqld that is shutting down accepts connections but never greets
	// them: a 1 s connect limit lets the old primary drop the VIP about a
	// second into a clean stop instead of two or three (measured).
	kaConnectTimeout = 1
	kaOverallTimeout = 2
	kaScriptTimeout  = 3
	// kaWaitPolls bounds the check's re-asking during a failover (0.1 s
	// apart): one check then lasts about keepalived's 1 s interval, so the
	// next one follows at once and the elected member is seen within ~0.2 s.
	kaWaitPolls = 5
	// kaHandover runs before mysqld stops (a drop-in's ExecStop): a primary
	// hands its role over first (mysql-handover.sh.tmpl). A plain stop of
	// the primary lost a request in about ten during the move (measured
	// with `labctl drill --kind stop`); a switchover loses none.
	kaHandover = "/usr/local/sbin/labctl-mysql-handover"
	// kaHandoverSQLTimeout bounds each of its SQL calls (set_as_primary
	// waits for the new primary to apply the backlog); kaHandoverVIPPolls
	// bounds its wait for the VIP to leave (0.1 s apart).
	kaHandoverSQLTimeout = 10
	kaHandoverVIPPolls   = 30
	// kaStamp names the loaded-configuration stamp the activation writes.
	kaStamp = "keepalived.loaded"
)

// Keepalived returns the "keepalived" step.
func Keepalived() Step { return keepalivedStep{} }

type keepalivedStep struct{}

func (keepalivedStep) Name() string                  { return "keepalived" }
func (keepalivedStep) Title() string                 { return "Configuring the MySQL VIP (keepalived)" }
func (keepalivedStep) Needs() []string               { return []string{"group-replication"} }
func (keepalivedStep) Targets(p *lab.Plan) lab.Nodes { return p.DB() }

// kaFiles are the rendered files of one node, config last.
type kaFiles struct {
	OptionFile, Script, DropIn guest.File
	Handover, HandoverDropIn   guest.File // mysqld's stop hands the primary role over first
	Config                     guest.File
}

func (f kaFiles) all() []guest.File {
	return []guest.File{f.OptionFile, f.Script, f.DropIn, f.Handover, f.HandoverDropIn, f.Config}
}

var kaIfaceRe = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,15}$`)

// kaRender renders n's files for the NIC iface.
func kaRender(env *Env, n *lab.Node, iface string) (kaFiles, error) {
	p := env.Plan
	if p.VRRPRouterID < 1 || p.VRRPRouterID > 255 {
		return kaFiles{}, fmt.Errorf("virtual_router_id %d is outside 1..255; set a lab-unique value in lab.toml", p.VRRPRouterID)
	}
	if !p.VIP.IsValid() || !p.Network.Contains(p.VIP) {
		return kaFiles{}, fmt.Errorf("VIP %s is not inside the lab network %s", p.VIP, p.Network)
	}
	if !kaIfaceRe.MatchString(iface) {
		return kaFiles{}, fmt.Errorf("network interface name %q is not valid", iface)
	}
	var peers []string
	for _, d := range p.DB() {
		if d != n {
			peers = append(peers, d.IP.String())
		}
	}
	if len(peers) == 0 {
		return kaFiles{}, fmt.Errorf("no other DB node to peer with")
	}
	var f kaFiles
	var err error
	render := func(dst *guest.File, tmpl, path string, mode fs.FileMode, data map[string]any) {
		if err != nil {
			return
		}
		var body []byte
		if body, err = dbRender(tmpl, data); err == nil {
			*dst = guest.File{Path: path, Content: body, Mode: mode}
		}
	}
	render(&f.OptionFile, "check_primary.cnf.tmpl", kaCheckCnf, 0o600, map[string]any{
		"User": MySQLVerifierUser, "Password": env.Secrets.Verifier,
	})
	render(&f.Script, "check_primary.sh.tmpl", kaCheckScript, 0o700, map[string]any{
		"OptionFile": kaCheckCnf, "ConnectTimeout": kaConnectTimeout, "OverallTimeout": kaOverallTimeout,
		"WaitPolls": kaWaitPolls, "Service": guest.Quote(env.Profile.MySQLService),
	})
	render(&f.DropIn, "keepalived-restart.conf.tmpl",
		"/etc/systemd/system/"+env.Profile.KeepalivedService+".service.d/labctl-restart.conf", 0o644, nil)
	render(&f.Handover, "mysql-handover.sh.tmpl", kaHandover, 0o700, map[string]any{
		"Service": env.Profile.MySQLService, "RootCnf": dbRootCnf, "SQLTimeout": kaHandoverSQLTimeout,
		"VIP": p.VIP.String(), "VIPPolls": kaHandoverVIPPolls,
	})
	render(&f.HandoverDropIn, "mysql-handover-dropin.conf.tmpl",
		"/etc/systemd/system/"+env.Profile.MySQLService+".service.d/labctl-handover.conf", 0o644, map[string]any{
			"Script": kaHandover,
		})
	render(&f.Config, "keepalived.conf.tmpl", env.Profile.KeepalivedConf, 0o644, map[string]any{
		"Lab":           p.Name,
		"Node":          n.VM,
		"RouterName":    n.Hostname,
		"CheckScript":   kaCheckScript,
		"ScriptTimeout": kaScriptTimeout,
		"Instance":      "MYSQL_VIP",
		"Interface":     iface,
		"RouterID":      p.VRRPRouterID,
		"SrcIP":         n.IP.String(),
		"Peers":         peers,
		"VIP":           p.VIP.String(),
		"PrefixLen":     p.Network.Bits(),
	})
	return f, err
}

// kaInterface finds the NIC carrying n's address on the live guest.
func kaInterface(ctx context.Context, env *Env, n *lab.Node) (string, error) {
	script := fmt.Sprintf(`ip -o -4 addr show | awk -v ip=%s '{ split($4, a, "/"); if (a[1] == ip) { print $2; exit } }'`,
		guest.Quote(n.IP.String()))
	r, err := dbRead(ctx, env, env.SSH(n), script, env.Profile.FreshNIC+"\n")
	if err != nil {
		return "", fmt.Errorf("find the interface of %s: %w", n.IP, err)
	}
	iface := strings.TrimSpace(r.Stdout)
	if iface == "" {
		return "", fmt.Errorf("no interface carries %s on %s; run the network step first", n.IP, n.VM)
	}
	return iface, nil
}

func (keepalivedStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	iface, err := kaInterface(ctx, env, n)
	if err != nil {
		return Status{}, err
	}
	files, err := kaRender(env, n, iface)
	if err != nil {
		return Status{}, err
	}
	ex := env.SSH(n)
	if ok, why, err := dbFilesCurrent(ctx, ex, files.all()...); err != nil || !ok {
		return Status{Why: why}, err
	}
	// Running, and with this configuration loaded: a run killed after the
	// new file was moved in place but before the reload leaves the old one
	// running (the stamp is written after the reload; stampDir).
	out, ok, err := dbProbe(ctx, env, ex, "systemctl is-active --quiet "+guest.Quote(env.Profile.KeepalivedService)+" || exit 3\n"+
		"cat "+guest.Quote(stampDir+"/"+kaStamp)+" 2>/dev/null || true\n", nil)
	if err != nil || !ok {
		return Status{Why: env.Profile.KeepalivedService + " is not running"}, err
	}
	if strings.TrimSpace(out) != loadedStamp(env, files.all()) {
		return Status{Why: env.Profile.KeepalivedService + " has not loaded the current configuration (an earlier run stopped before reloading it)"}, nil
	}
	return Status{Done: true}, nil
}

func (keepalivedStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	iface, err := kaInterface(ctx, env, n)
	if err != nil {
		return err
	}
	files, err := kaRender(env, n, iface)
	if err != nil {
		return err
	}
	ex := env.SSH(n)
	for _, f := range []guest.File{files.OptionFile, files.Script} {
		if _, err := ex.Upload(ctx, f); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	dropInChanged, err := ex.Upload(ctx, files.DropIn)
	if err != nil {
		return fmt.Errorf("write %s: %w", files.DropIn.Path, err)
	}
	if _, err := ex.Upload(ctx, files.Handover); err != nil {
		return fmt.Errorf("write %s: %w", files.Handover.Path, err)
	}
	handoverChanged, err := ex.Upload(ctx, files.HandoverDropIn)
	if err != nil {
		return fmt.Errorf("write %s: %w", files.HandoverDropIn.Path, err)
	}
	dropInChanged = dropInChanged || handoverChanged
	staged := files.Config
	staged.Path += ".labctl-new"
	staged.Final = files.Config.Path
	if _, err := ex.Upload(ctx, staged); err != nil {
		return fmt.Errorf("write %s: %w", staged.Path, err)
	}
	if _, err := dbRun(ctx, env, ex, kaActivateScript(env, staged.Path, files.Config.Path, dropInChanged, files.all()), nil); err != nil {
		return fmt.Errorf("activate keepalived: %w", err)
	}
	return nil
}

// kaActivateScript tests the staged config, moves it into place when it
// differs, and (re)loads keepalived. A config keepalived rejects never
// replaces the running one. The stamp of the loaded files is written last;
// when the one on the node is not that of these files (an earlier run
// stopped between writing them and reloading), the units are re-read and
// keepalived reloaded even though nothing on disk changes now.
func kaActivateScript(env *Env, staged, conf string, daemonReload bool, files []guest.File) string {
	reload := ""
	if daemonReload {
		reload = "systemctl daemon-reload\n"
	}
	return fmt.Sprintf(`set -eu
new=%[1]s
conf=%[2]s
svc=%[3]s
if ! out=$(keepalived -t -f "$new" 2>&1); then
	rm -f "$new"
	printf 'keepalived rejects the new configuration:\n%%s\n' "$out" >&2
	exit 1
fi
changed=0
if cmp -s "$new" "$conf"; then
	rm -f "$new"
else
	mv -f "$new" "$conf"
	changed=1
fi
if [ "$(cat %[5]s 2>/dev/null || true)" != %[6]s ]; then
	systemctl daemon-reload
	changed=1
fi
%[4]ssystemctl enable "$svc"
if ! systemctl is-active --quiet "$svc"; then
	systemctl start "$svc"
elif [ "$changed" = 1 ]; then
	systemctl reload "$svc"
fi
`, guest.Quote(staged), guest.Quote(conf), guest.Quote(env.Profile.KeepalivedService), reload,
		guest.Quote(stampDir+"/"+kaStamp), loadedStamp(env, files)) + stampScript(env, kaStamp, files)
}
