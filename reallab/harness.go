// Package reallab is the real-lab suite: labctl driven end to end against
// real systemd-nspawn machines through the nspawnvbox backend (a VBoxManage
// stand-in in testdata/nspawnvbox). Its tests run only with LABCTL_REALLAB=1,
// as root, with systemd-nspawn installed; hack/reallab/run.sh is the entry point.
//
// This file holds the harness: base image, private bridge, package repository
// server, backend build and a VBoxManage runner.
package reallab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Lab network: a private range that exists only on this machine (no NAT, no
// route out). Never the default lab's LAN.
const (
	BridgeName = "lcbr0"
	BridgeIP   = "10.231.0.1"
	BridgeCIDR = "10.231.0.1/24"
	Network    = "10.231.0.0/24"
)

// Env is one prepared real-lab environment.
type Env struct {
	RepoRoot string // labctl module root
	Cache    string // base.sh output (rootfs, repo, wordpress.tar.gz, root-password)
	Work     string // per-run scratch dir
	Home     string // NSPAWNVBOX_HOME
	Backend  string // the built nspawnvbox binary, named VBoxManage
	RepoURL  string // package repository served on the bridge
	PassFile string // 0600 file with the base's root password
	BaseName string // base VM name registered in the backend
	// BackendExtra is added to the backend's environment (e.g.
	// NSPAWNVBOX_ROOTFS_FOR for machines of another release).
	BackendExtra []string
	// NoBase: the backend registers no base from the cached rootfs (a
	// "student host" that gets its base by `labctl base import`).
	NoBase    bool
	repoSrv   *http.Server
	bridgeOwn bool
}

// Timing is one measured figure, printed in the summary.
type Timing struct {
	Name string
	D    time.Duration
}

// Preflight says why the real lab cannot run here, or "" when it can.
func Preflight() string {
	if os.Getenv("LABCTL_REALLAB") != "1" {
		return "real-lab suite disabled: set LABCTL_REALLAB=1 (root, systemd-nspawn, debootstrap; see hack/reallab/run.sh)"
	}
	if os.Geteuid() != 0 {
		return "real-lab suite needs root (overlay mounts, network namespaces, systemd-nspawn)"
	}
	for _, t := range []string{"systemd-nspawn", "debootstrap", "nsenter", "ip", "apt-ftparchive", "gpg", "dpkg-deb"} {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Sprintf("real-lab suite needs %s: apt-get install -y systemd-container debootstrap util-linux iproute2 apt-utils gnupg dpkg-dev", t)
		}
	}
	return ""
}

// RepoRoot finds the labctl module root from the test's working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module labctl")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no labctl go.mod above %s", dir)
}

// EnsureBase runs hack/reallab/base.sh (a no-op when its cache is current).
func EnsureBase(ctx context.Context, repoRoot, cache string) error {
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot, "hack", "reallab", "base.sh"))
	cmd.Env = append(os.Environ(), "REALLAB_CACHE="+cache)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("base image (hack/reallab/base.sh): %w", err)
	}
	return nil
}

// EnsureBullseyeWeb runs hack/reallab/bullseye.sh (after EnsureBase): a
// Debian bullseye rootfs and package repository for web machines on EL8's
// PHP 7.4 and nginx 1.18, in <cache>/bullseye.
func EnsureBullseyeWeb(ctx context.Context, repoRoot, cache string) error {
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot, "hack", "reallab", "bullseye.sh"))
	cmd.Env = append(os.Environ(), "REALLAB_CACHE="+cache)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bullseye web base (hack/reallab/bullseye.sh): %w", err)
	}
	return nil
}

// DefaultCache is where base.sh keeps its artefacts across runs.
func DefaultCache() string {
	if c := os.Getenv("REALLAB_CACHE"); c != "" {
		return c
	}
	return "/var/cache/labctl-reallab"
}

// Setup builds the backend, creates the bridge, serves the package
// repository and writes the backend's credentials. Call Close always.
func Setup(ctx context.Context, repoRoot, cache, work string) (*Env, error) {
	e := &Env{RepoRoot: repoRoot, Cache: cache, Work: work, Home: filepath.Join(work, "nspawnvbox"), BaseName: "reallab-base"}
	if err := os.MkdirAll(filepath.Join(work, "bin"), 0o755); err != nil {
		return e, err
	}
	e.Backend = filepath.Join(work, "bin", "VBoxManage")
	build := exec.CommandContext(ctx, "go", "build", "-o", e.Backend, "labctl/testdata/nspawnvbox")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		return e, fmt.Errorf("build backend: %v: %s", err, out)
	}
	if err := os.MkdirAll(e.Home, 0o755); err != nil {
		return e, err
	}
	pw, err := os.ReadFile(filepath.Join(cache, "root-password"))
	if err != nil {
		return e, fmt.Errorf("base password: %w", err)
	}
	pw = bytes.TrimSpace(pw)
	e.PassFile = filepath.Join(work, "root-password")
	if err := os.WriteFile(e.PassFile, append(pw, '\n'), 0o600); err != nil {
		return e, err
	}
	if err := os.WriteFile(filepath.Join(e.Home, "credentials"), append([]byte("root:"), append(pw, '\n')...), 0o600); err != nil {
		return e, err
	}
	if err := e.setupBridge(); err != nil {
		return e, err
	}
	if err := e.serveRepo(); err != nil {
		return e, err
	}
	return e, nil
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func (e *Env) setupBridge() error {
	if _, err := net.InterfaceByName(BridgeName); err == nil {
		// Left over by a killed run: the name is this suite's own.
		if err := ipCmd("link", "del", BridgeName); err != nil {
			return err
		}
	}
	if err := ipCmd("link", "add", BridgeName, "type", "bridge"); err != nil {
		return err
	}
	e.bridgeOwn = true
	if err := ipCmd("addr", "add", BridgeCIDR, "dev", BridgeName); err != nil {
		return err
	}
	return ipCmd("link", "set", BridgeName, "up")
}

// serveRepo serves the package repository and the WordPress tarball on the
// bridge address only; bullseye's suite and pool, when bullseye.sh built
// them, from beside it.
func (e *Env) serveRepo() error {
	ln, err := net.Listen("tcp", BridgeIP+":0")
	if err != nil {
		return fmt.Errorf("listen on the bridge: %w", err)
	}
	e.RepoURL = fmt.Sprintf("http://%s/", ln.Addr().String())
	sid := http.FileServer(http.Dir(filepath.Join(e.Cache, "repo")))
	bullseye := http.FileServer(http.Dir(filepath.Join(e.Cache, "bullseye", "repo")))
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/dists/bullseye/") || strings.HasPrefix(r.URL.Path, "/pool-bullseye/") {
			bullseye.ServeHTTP(w, r)
			return
		}
		sid.ServeHTTP(w, r)
	})
	e.repoSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.repoSrv.Serve(ln) }()
	return nil
}

// BackendEnv returns the environment the backend needs.
func (e *Env) BackendEnv() []string {
	if e.NoBase {
		return append(append(os.Environ(), "NSPAWNVBOX_HOME="+e.Home, "LC_ALL=C.UTF-8"), e.BackendExtra...)
	}
	env := append(os.Environ(),
		"NSPAWNVBOX_HOME="+e.Home,
		"NSPAWNVBOX_BASE_ROOTFS="+filepath.Join(e.Cache, "rootfs"),
		"NSPAWNVBOX_BASE_NAME="+e.BaseName,
		"LC_ALL=C.UTF-8")
	return append(env, e.BackendExtra...)
}

// Result is one VBoxManage invocation's outcome.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// VBox runs the backend with args (and stdin, if any).
func (e *Env) VBox(ctx context.Context, stdin string, args ...string) Result {
	cmd := exec.CommandContext(ctx, e.Backend, args...)
	cmd.Env = e.BackendEnv()
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	r := Result{Stdout: so.String(), Stderr: se.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		r.Code = -1
		r.Stderr += err.Error()
	}
	return r
}

// StudentHost is a second backend state on the same bridge and package
// repository, with no base VM: what a student's computer looks like before
// `labctl base import`. Its base will be called baseName. Close it (before
// e) to remove its VMs.
func (e *Env) StudentHost(baseName string) (*Env, error) {
	work := filepath.Join(e.Work, "student-host")
	s := &Env{RepoRoot: e.RepoRoot, Cache: e.Cache, Work: work, Home: filepath.Join(work, "nspawnvbox"), Backend: e.Backend,
		RepoURL: e.RepoURL, PassFile: e.PassFile, BaseName: baseName, NoBase: true}
	if err := os.MkdirAll(s.Home, 0o755); err != nil {
		return nil, err
	}
	// The guest accounts guest control accepts are the image's: the same.
	cred, err := os.ReadFile(filepath.Join(e.Home, "credentials"))
	if err != nil {
		return nil, err
	}
	return s, os.WriteFile(filepath.Join(s.Home, "credentials"), cred, 0o600)
}

// Close powers off and deletes every VM the backend knows (clones first),
// removes the bridge and stops the repository server. It reports what it
// could not clean.
func (e *Env) Close() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if e.Backend != "" && e.Home != "" {
		errs = append(errs, e.destroyAllVMs(ctx)...)
		errs = append(errs, e.removeNATNetworks(ctx)...)
	}
	if e.repoSrv != nil {
		_ = e.repoSrv.Close()
	}
	if e.bridgeOwn {
		if _, err := net.InterfaceByName(BridgeName); err == nil {
			if err := ipCmd("link", "del", BridgeName); err != nil {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, e.Leftovers(!e.NoBase)...) // a student host shares the bridge
	return errors.Join(errs...)
}

func (e *Env) destroyAllVMs(ctx context.Context) []error {
	var errs []error
	for pass := 0; pass < 4; pass++ {
		r := e.VBox(ctx, "", "list", "vms")
		if r.Code != 0 {
			return append(errs, fmt.Errorf("list vms: %s", r.Stderr))
		}
		// The base is only a registration of the cached rootfs (re-made on
		// every call); it holds nothing to clean.
		var vms [][2]string
		for _, vm := range ParseListVMs(r.Stdout) {
			if vm[0] != e.BaseName || e.NoBase {
				vms = append(vms, vm)
			}
		}
		if len(vms) == 0 {
			return nil
		}
		// Newest first: linked clones go before what they stack on.
		for i := len(vms) - 1; i >= 0; i-- {
			uuid := vms[i][1]
			_ = e.VBox(ctx, "", "controlvm", uuid, "poweroff")
			_ = e.VBox(ctx, "", "unregistervm", uuid, "--delete")
		}
	}
	return append(errs, fmt.Errorf("VMs left after cleanup: %s", e.VBox(ctx, "", "list", "vms").Stdout))
}

// removeNATNetworks removes every NAT network of the backend (their bridges
// and forwarders go with them), after the VMs.
func (e *Env) removeNATNetworks(ctx context.Context) []error {
	r := e.VBox(ctx, "", "list", "natnets")
	if r.Code != 0 {
		return []error{fmt.Errorf("list natnets: %s", r.Stderr)}
	}
	var errs []error
	for _, l := range strings.Split(r.Stdout, "\n") {
		if name, ok := strings.CutPrefix(l, "Name:"); ok {
			if rr := e.VBox(ctx, "", "natnetwork", "remove", "--netname", strings.TrimSpace(name)); rr.Code != 0 {
				errs = append(errs, fmt.Errorf("natnetwork remove %s: %s", strings.TrimSpace(name), rr.Stderr))
			}
		}
	}
	return errs
}

// ParseListVMs parses `list vms` into [name, uuid] pairs.
func ParseListVMs(out string) [][2]string {
	var vms [][2]string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		i := strings.LastIndex(l, "\" {")
		if !strings.HasPrefix(l, "\"") || i < 0 || !strings.HasSuffix(l, "}") {
			continue
		}
		vms = append(vms, [2]string{l[1:i], l[i+3 : len(l)-1]})
	}
	return vms
}

// Leftovers lists machines, overlays, namespaces or veths of this backend
// still present on the host (and the bridge, when withBridge).
func (e *Env) Leftovers(withBridge bool) []error {
	var errs []error
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if e.Home != "" && strings.Contains(l, e.Home) {
				errs = append(errs, fmt.Errorf("mount left: %s", l))
			}
		}
	}
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, n := range ents {
			if strings.HasPrefix(n.Name(), "nvb-") {
				errs = append(errs, fmt.Errorf("network namespace left: %s", n.Name()))
			}
		}
	}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			// nvb: machines' veths; nvn: NAT networks' bridges.
			if strings.HasPrefix(i.Name, "nvb") || strings.HasPrefix(i.Name, "nvn") || withBridge && i.Name == BridgeName {
				errs = append(errs, fmt.Errorf("interface left: %s", i.Name))
			}
		}
	}
	if ents, err := os.ReadDir("/sys/fs/cgroup/unified/nspawnvbox"); err == nil {
		for _, d := range ents {
			if d.IsDir() {
				errs = append(errs, fmt.Errorf("machine cgroup left: %s", d.Name()))
			}
		}
	}
	out, _ := exec.Command("pgrep", "-f", "systemd-nspawn .*"+e.Home).Output()
	if len(bytes.TrimSpace(out)) > 0 && e.Home != "" {
		errs = append(errs, fmt.Errorf("systemd-nspawn still running: pids %s", bytes.Fields(out)))
	}
	return errs
}

// MachineLogs returns the end of the backend's console and monitor logs of
// the VM named name, to explain a failed start in a test failure.
func (e *Env) MachineLogs(name string) string {
	dirs, _ := filepath.Glob(filepath.Join(e.Home, "vms", "*"))
	var b strings.Builder
	for _, d := range dirs {
		cfg, err := os.ReadFile(filepath.Join(d, "vm.json"))
		if err != nil || !bytes.Contains(cfg, []byte(`"name": "`+name+`"`)) {
			continue
		}
		for _, f := range []string{"monitor.log", "start-error", "console.log"} {
			data, _ := os.ReadFile(filepath.Join(d, f))
			if len(data) > 3000 {
				data = data[len(data)-3000:]
			}
			fmt.Fprintf(&b, "--- %s/%s:\n%s\n", name, f, data)
		}
	}
	return b.String()
}
