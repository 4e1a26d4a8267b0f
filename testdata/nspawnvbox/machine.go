package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupRoot is where each machine gets its own cgroup (cgroup v2). The
// host may run a hybrid layout with cgroup2 at /sys/fs/cgroup/unified.
func cgroupRoot() string {
	if fileExists("/sys/fs/cgroup/unified/cgroup.procs") {
		return "/sys/fs/cgroup/unified/nspawnvbox"
	}
	return "/sys/fs/cgroup/nspawnvbox"
}

func short(uuid string) string { return strings.ReplaceAll(uuid, "-", "")[:8] }

// machineName is the nspawn machine name: a valid host name.
func machineName(vm *VM) string {
	var b strings.Builder
	for _, c := range strings.ToLower(vm.Name) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	n := strings.Trim(b.String(), "-")
	if n == "" {
		n = "vm"
	}
	if len(n) > 50 {
		n = n[:50]
	}
	return n + "-" + short(vm.UUID)
}

func macColons(mac string) string {
	m := strings.ToLower(mac)
	var parts []string
	for i := 0; i+2 <= len(m); i += 2 {
		parts = append(parts, m[i:i+2])
	}
	return strings.Join(parts, ":")
}

func sh(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// cmdStartVM: startvm VM... [--type headless] [--putenv N=V]
func cmdStartVM(s *store, args []string) error {
	p, err := getopt{withValue: set("--type", "-type", "--putenv", "-E", "--password", "--password-id")}.parse(args)
	if err != nil {
		return syntaxError("%v", err)
	}
	if len(p.operands) == 0 {
		return syntaxError("VM name or UUID required")
	}
	for _, ref := range p.operands {
		if err := startOne(s, ref); err != nil {
			return err
		}
	}
	return nil
}

func startOne(s *store, ref string) error {
	s.lock()
	vm, err := s.mustFind(ref, `"FindMachine(Bstr(VMName).raw(), machine.asOutParam())" at line 845 of file VBoxManageMisc.cpp`)
	if err != nil {
		s.unlock()
		return err
	}
	if rt, alive := s.runtime(vm); rt != nil {
		if alive {
			s.unlock()
			return apiError(fmt.Sprintf("The machine '%s' is already locked by a session (or being locked or unlocked)", vm.Name),
				codeInvalidObj, "MachineWrap", "IMachine",
				`"LaunchVMProcess(a->session, sessionType.raw(), ComSafeArrayAsInParam(aBstrEnv), progress.asOutParam())" at line 880 of file VBoxManageMisc.cpp`)
		}
		cleanupRuntime(s, vm, rt)
	}
	os.Remove(filepath.Join(s.vmDir(vm.UUID), "stop"))
	os.Remove(filepath.Join(s.vmDir(vm.UUID), "start-error"))
	vm.StateChange = time.Now().UTC()
	if err := s.save(vm); err != nil {
		s.unlock()
		return err
	}
	s.unlock()

	fmt.Printf("Waiting for VM \"%s\" to power on...\n", ref)
	if vm.NIC.Type == "bridged" {
		if _, err := net.InterfaceByName(vm.NIC.Bridge); err != nil {
			errorf("Nonexistent host networking interface, name '%s' (VERR_INTERNAL_ERROR)", vm.NIC.Bridge)
			errorf("Details: code %s, component ConsoleWrap, interface IConsole", codeFailure)
			return exitErr{1}
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(s.vmDir(vm.UUID), "monitor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	mon := exec.Command(self, "__monitor", vm.UUID)
	mon.Stdout, mon.Stderr = logf, logf
	mon.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := mon.Start(); err != nil {
		return err
	}
	logf.Close()
	done := make(chan struct{})
	go func() { _ = mon.Wait(); close(done) }()

	deadline := time.After(90 * time.Second)
	for {
		if rt, _ := s.runtime(vm); rt != nil && rt.InitPID > 0 {
			break
		}
		select {
		case <-done:
			msg, _ := os.ReadFile(filepath.Join(s.vmDir(vm.UUID), "start-error"))
			errorf("The virtual machine '%s' has terminated unexpectedly during startup with exit code 1 (0x1)", vm.Name)
			if len(msg) > 0 {
				errorf("%s", strings.TrimSpace(string(msg)))
			}
			errorf("Details: code %s, component MachineWrap, interface IMachine", codeFailure)
			return exitErr{1}
		case <-deadline:
			errorf("The virtual machine '%s' did not power on within 90 s (see %s)", vm.Name, filepath.Join(s.vmDir(vm.UUID), "console.log"))
			errorf("Details: code %s, component MachineWrap, interface IMachine", codeFailure)
			return exitErr{1}
		case <-time.After(50 * time.Millisecond):
		}
	}
	fmt.Printf("VM \"%s\" has been successfully started.\n", ref)
	return nil
}

// cmdMonitor is the detached per-machine supervisor: it builds the
// machine's root, network and cgroup, runs systemd-nspawn, and tears it all
// down when the machine stops for any reason.
func cmdMonitor(s *store, args []string) error {
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	if len(args) != 1 {
		return syntaxError("usage: __monitor UUID")
	}
	vm, err := s.load(args[0])
	if err != nil {
		return err
	}
	dir := s.vmDir(vm.UUID)
	fail := func(err error) error {
		_ = os.WriteFile(filepath.Join(dir, "start-error"), []byte(err.Error()), 0o644)
		return err
	}
	rt := &Runtime{
		MonitorPID: os.Getpid(), Root: filepath.Join(dir, "root"), Machine: machineName(vm),
		Netns: "nvb-" + short(vm.UUID), HostVeth: "nvb" + short(vm.UUID),
		Cgroup: filepath.Join(cgroupRoot(), short(vm.UUID)+"-"+strconv.FormatInt(time.Now().UnixNano(), 36)), Started: time.Now().UTC(),
	}
	if err := s.writeRuntime(vm, rt); err != nil {
		return fail(err)
	}
	exitCode, err := monitorRun(s, vm, rt)
	cleanupRuntime(s, vm, rt)
	s.lock()
	defer s.unlock()
	cur, lerr := s.load(vm.UUID)
	if lerr != nil {
		return lerr // unregistered meanwhile
	}
	stopped := fileExists(filepath.Join(dir, "stop"))
	os.Remove(filepath.Join(dir, "stop"))
	cur.State = "aborted"
	if stopped || (err == nil && exitCode == 0) {
		cur.State = "poweroff"
	}
	cur.StateChange = time.Now().UTC()
	if serr := s.save(cur); serr != nil {
		return serr
	}
	if err != nil {
		return fail(err)
	}
	return nil
}

func monitorRun(s *store, vm *VM, rt *Runtime) (int, error) {
	dir := s.vmDir(vm.UUID)
	// Root: overlay of the VM's upper dir over its read-only layers.
	var lowers []string
	for _, l := range vm.Lowers {
		if ents, err := os.ReadDir(l); err == nil && len(ents) > 0 {
			lowers = append(lowers, l)
		}
	}
	if len(lowers) == 0 {
		return 0, fmt.Errorf("VM %s has no root filesystem layers", vm.Name)
	}
	if err := os.RemoveAll(filepath.Join(dir, "work")); err != nil {
		return 0, err
	}
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return 0, err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,redirect_dir=off,metacopy=off,index=off",
		strings.Join(lowers, ":"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if err := syscall.Mount("overlay", rt.Root, "overlay", 0, opts); err != nil {
		return 0, fmt.Errorf("mount overlay on %s: %w", rt.Root, err)
	}
	// Network: a namespace prepared before boot, so host0 has the VM's MAC
	// from the first instant (guest-side MAC matching works like on a NIC).
	if err := sh("ip", "netns", "add", rt.Netns); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(rt.Cgroup, 0o755); err != nil {
		return 0, fmt.Errorf("cgroup %s: %w", rt.Cgroup, err)
	}
	cg, err := os.Open(rt.Cgroup)
	if err != nil {
		return 0, err
	}
	defer cg.Close()
	if err := writeFirmware(vm, filepath.Join(dir, "firmware")); err != nil {
		return 0, err
	}
	console, err := os.OpenFile(filepath.Join(dir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer console.Close()

	for {
		// host0 goes away with the machine's namespace: made anew per boot.
		if err := setupNIC(s, vm, rt); err != nil {
			return 0, err
		}
		// nspawn runs in the prepared namespace and moves host0 (MAC already
		// set) into the machine's own one: a private network as nspawn sees it,
		// so /proc/sys/net is writable in the guest, as on a VM. nspawn finds
		// host0 through /sys, which must therefore be a sysfs mounted in that
		// namespace (read-only: nspawn then does not wait for udev, which
		// this host does not run); the cgroup mounts are carried over.
		netArgs := []string{"--private-network"}
		if vm.NIC.Type == "bridged" || vm.NIC.Type == "natnetwork" {
			netArgs = []string{"--network-interface=host0"}
		}
		args := append([]string{"--net=/run/netns/" + rt.Netns, "--", "unshare", "-m", "--propagation", "private", "--",
			"/bin/sh", "-c", nspawnWrapper, "nspawn", "--register=no", "--keep-unit", "--quiet",
			"-D", rt.Root, "-M", rt.Machine}, netArgs...)
		cmd := exec.Command("nsenter", append(args,
			"--resolv-conf=off", "--timezone=off", "--link-journal=no", "--console=read-only",
			"--capability=CAP_NET_ADMIN,CAP_NET_RAW,CAP_SYS_NICE,CAP_IPC_LOCK",
			"--uuid="+vm.UUID, "--kill-signal=SIGRTMIN+3",
			"--bind-ro="+filepath.Join(dir, "firmware")+":/run/nspawnvbox", "/run/nspawnvbox/init")...)
		cmd.Env = append(os.Environ(), "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1")
		cmd.Stdout, cmd.Stderr = console, console
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
		fmt.Fprintf(console, "\n=== %s nspawnvbox: booting %s\n", time.Now().UTC().Format(time.RFC3339), vm.Name)
		if err := cmd.Start(); err != nil {
			return 0, fmt.Errorf("systemd-nspawn: %w", err)
		}
		rt.NspawnPID, rt.InitPID = cmd.Process.Pid, 0
		_ = s.writeRuntime(vm, rt)
		exited := make(chan struct{})
		found := make(chan struct{})
		go func(pid int) {
			defer close(found)
			for i := 0; i < 600; i++ {
				if init := findInit(rt.Cgroup, pid); init > 0 {
					rt.InitPID = init
					_ = s.writeRuntime(vm, rt)
					return
				}
				select {
				case <-exited:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}(cmd.Process.Pid)
		err := cmd.Wait()
		close(exited)
		<-found
		code := cmd.ProcessState.ExitCode()
		fmt.Fprintf(console, "=== %s nspawnvbox: systemd-nspawn exited: %v\n", time.Now().UTC().Format(time.RFC3339), err)
		// 133: the guest rebooted; a VM stays powered on across a reboot.
		if code == 133 && !fileExists(filepath.Join(dir, "stop")) {
			continue
		}
		return code, nil
	}
}

// nspawnWrapper remounts /sys for the current network namespace, keeping
// the cgroup hierarchies, then execs systemd-nspawn with "$@".
const nspawnWrapper = `set -e
t=$(mktemp -d)
mount --rbind /sys/fs/cgroup "$t"
mount -t sysfs -o ro sysfs /sys
mount --move "$t" /sys/fs/cgroup
rmdir "$t"
exec systemd-nspawn "$@"`

// guestInit runs as the machine's PID 1 before its systemd: it gives the
// guest the DMI identity a VirtualBox VM has (/sys/class/dmi/id, with
// product_uuid = the VM's UUID), which a container's sysfs lacks. /sys
// becomes a read-only tmpfs of bind mounts of the real sysfs (so
// /sys/class/net and its links work as before) plus that directory.
const guestInit = `#!/bin/sh
fw=/run/nspawnvbox
if [ ! -e /sys/class/dmi/id/product_uuid ] && mkdir -p /run/nspawnvbox-sysfs &&
	mount --make-rprivate /sys && mount --rbind /sys /run/nspawnvbox-sysfs && mount -t tmpfs -o mode=755 sysfs-vm /sys; then
	real=/run/nspawnvbox-sysfs
	for e in "$real"/*; do
		n=${e##*/}
		[ "$n" = class ] && continue
		mkdir -p "/sys/$n" && mount --rbind "$e" "/sys/$n" && mount -o remount,bind,ro "/sys/$n"
	done
	mkdir -p /sys/class
	for e in "$real"/class/*; do
		n=${e##*/}
		mkdir -p "/sys/class/$n" && mount --bind "$e" "/sys/class/$n" && mount -o remount,bind,ro "/sys/class/$n"
	done
	mkdir -p /sys/class/dmi/id
	for f in "$fw"/dmi/*; do cp "$f" /sys/class/dmi/id/; done
	chmod 0400 /sys/class/dmi/id/product_uuid /sys/class/dmi/id/product_serial
	umount -l "$real" && rmdir "$real" 2>/dev/null
	mount -o remount,ro /sys
fi
exec /sbin/init "$@"
`

// writeFirmware prepares what guestInit reads: the script and the DMI values.
func writeFirmware(vm *VM, dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "dmi"), 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"dmi/product_uuid": vm.UUID, "dmi/product_serial": "0", "dmi/product_name": "VirtualBox",
		"dmi/sys_vendor": "innotek GmbH", "dmi/product_version": "1.2", "dmi/board_vendor": "Oracle Corporation",
		"dmi/bios_vendor": "innotek GmbH", "dmi/chassis_vendor": "Oracle Corporation",
	}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o444); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "init"), []byte(guestInit), 0o755)
}

// setupNIC creates the veth pair: host end on the bridge, host0 (with the
// VM's MAC) in the machine's prepared namespace.
func setupNIC(s *store, vm *VM, rt *Runtime) error {
	bridge := vm.NIC.Bridge
	switch vm.NIC.Type {
	case "bridged":
	case "natnetwork":
		br, err := prepareNATNIC(s, vm)
		if err != nil {
			return err
		}
		bridge = br
	default:
		return nil
	}
	if _, err := net.InterfaceByName(rt.HostVeth); err == nil {
		_ = sh("ip", "link", "del", rt.HostVeth)
	}
	if err := sh("ip", "link", "add", rt.HostVeth, "type", "veth", "peer", "name", "host0", "netns", rt.Netns); err != nil {
		return err
	}
	if err := sh("ip", "-n", rt.Netns, "link", "set", "host0", "address", macColons(vm.NIC.MAC)); err != nil {
		return err
	}
	if err := sh("ip", "link", "set", rt.HostVeth, "master", bridge); err != nil {
		return err
	}
	state := "up"
	if !vm.NIC.Cable {
		state = "down"
	}
	if err := sh("ip", "link", "set", rt.HostVeth, state); err != nil {
		return err
	}
	return nil
}

// findInit returns the host pid of the machine's PID 1 (a process in the
// machine's cgroup whose innermost pid is 1).
func findInit(cgroup string, nspawnPID int) int {
	for _, pid := range cgroupPids(cgroup) {
		if pid == nspawnPID {
			continue
		}
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 3 && f[0] == "NSpid:" && f[len(f)-1] == "1" {
				return pid
			}
		}
	}
	return 0
}

func cgroupPids(cgroup string) []int {
	var pids []int
	_ = filepath.WalkDir(cgroup, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return nil
	})
	return pids
}

// cleanupRuntime kills whatever is left of the machine and releases its
// mount, network namespace and cgroup. Safe to call more than once.
func cleanupRuntime(s *store, vm *VM, rt *Runtime) {
	if rt.Cgroup != "" && fileExists(rt.Cgroup) {
		_ = os.WriteFile(filepath.Join(rt.Cgroup, "cgroup.freeze"), []byte("0"), 0o644)
		_ = os.WriteFile(filepath.Join(rt.Cgroup, "cgroup.kill"), []byte("1"), 0o644)
		// A killed mysqld can take seconds to release its memory: wait until
		// the kernel says the tree is empty, then remove it bottom-up.
		for i := 0; i < 600; i++ {
			b, _ := os.ReadFile(filepath.Join(rt.Cgroup, "cgroup.events"))
			if !bytes.Contains(b, []byte("populated 1")) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		for i := 0; i < 20 && fileExists(rt.Cgroup); i++ {
			removeCgroup(rt.Cgroup)
			if fileExists(rt.Cgroup) {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	if rt.Root != "" {
		for i := 0; i < 50; i++ {
			if err := syscall.Unmount(rt.Root, 0); err == nil || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) {
				break
			}
			if i == 49 {
				_ = syscall.Unmount(rt.Root, syscall.MNT_DETACH)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if rt.Netns != "" && fileExists("/run/netns/"+rt.Netns) {
		_ = sh("ip", "netns", "del", rt.Netns)
	}
	if rt.HostVeth != "" {
		if _, err := net.InterfaceByName(rt.HostVeth); err == nil {
			_ = sh("ip", "link", "del", rt.HostVeth)
		}
	}
	dir := s.vmDir(vm.UUID)
	os.Remove(filepath.Join(dir, "run.json"))
	os.Remove(filepath.Join(dir, "paused"))
}

// removeCgroup removes a cgroup tree bottom-up (the guest's systemd leaves sub-cgroups).
func removeCgroup(root string) {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		_ = os.Remove(d)
	}
}

// freeze pauses every process of the machine (cgroup v2 freezer) — what
// VirtualBox's default `snapshot take` does to a running VM.
func freeze(rt *Runtime, on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	if err := os.WriteFile(filepath.Join(rt.Cgroup, "cgroup.freeze"), []byte(v), 0o644); err != nil {
		return err
	}
	if !on {
		return nil
	}
	for i := 0; i < 200; i++ {
		b, _ := os.ReadFile(filepath.Join(rt.Cgroup, "cgroup.events"))
		if bytes.Contains(b, []byte("frozen 1")) {
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return errors.New("machine did not freeze within 5 s")
}

// cmdControlVM: controlvm VM poweroff|acpipowerbutton|pause|resume
func cmdControlVM(s *store, args []string) error {
	if len(args) < 2 {
		return syntaxError("Not enough parameters")
	}
	ref, verb := args[0], args[1]
	s.lock()
	vm, err := s.mustFind(ref, `"FindMachine(Bstr(a->argv[0]).raw(), sessionMachine.asOutParam())" at line 365 of file VBoxManageControlVM.cpp`)
	if err != nil {
		s.unlock()
		return err
	}
	st := s.vmState(vm)
	rt, alive := s.runtime(vm)
	if !alive || st == "aborted" {
		if rt != nil {
			cleanupRuntime(s, vm, rt)
		}
		s.unlock()
		errorf("Machine '%s' is not currently running.", ref)
		return exitErr{1}
	}
	dir := s.vmDir(vm.UUID)
	switch verb {
	case "poweroff":
		if st == "stopping" {
			s.unlock()
			return apiError("The virtual machine is being powered down", codeInvalidVM, "ConsoleWrap", "IConsole",
				`"PowerDown(progress.asOutParam())" at line 604 of file VBoxManageControlVM.cpp`)
		}
		_ = os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644)
		s.unlock()
		fmt.Fprint(os.Stderr, "0%...")
		// Hard power-off: every process of the machine dies at once.
		_ = os.WriteFile(filepath.Join(rt.Cgroup, "cgroup.freeze"), []byte("0"), 0o644)
		_ = os.WriteFile(filepath.Join(rt.Cgroup, "cgroup.kill"), []byte("1"), 0o644)
		for i := 0; i < 600; i++ {
			if r, alive := s.runtime(vm); r == nil || !alive {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if r, alive := s.runtime(vm); r != nil && !alive {
			// The monitor is gone without cleaning up: do it here.
			s.lock()
			cleanupRuntime(s, vm, r)
			if cur, err := s.load(vm.UUID); err == nil {
				cur.State, cur.StateChange = "poweroff", time.Now().UTC()
				_ = s.save(cur)
			}
			os.Remove(filepath.Join(dir, "stop"))
			s.unlock()
		} else if r != nil {
			fmt.Fprintln(os.Stderr, "VBOX_E_VM_ERROR")
			errorf("Machine '%s' did not power off within 30 s", vm.Name)
			return exitErr{1}
		}
		fmt.Fprintln(os.Stderr, strings.TrimPrefix(progressFullLine, "0%..."))
		return nil
	case "acpipowerbutton":
		s.unlock()
		if st != "running" {
			return apiError("Invalid machine state: "+stateAPIName(st), codeInvalidVM, "ConsoleWrap", "IConsole",
				`"PowerButton()" at line 660 of file VBoxManageControlVM.cpp`)
		}
		// systemd-nspawn turns SIGTERM into an orderly guest shutdown.
		return syscall.Kill(rt.NspawnPID, syscall.SIGTERM)
	case "pause":
		defer s.unlock()
		if err := freeze(rt, true); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "paused"), nil, 0o644)
	case "resume":
		defer s.unlock()
		if err := freeze(rt, false); err != nil {
			return err
		}
		os.Remove(filepath.Join(dir, "paused"))
		return nil
	}
	s.unlock()
	errorf("Invalid parameter '%s'.", verb)
	return exitErr{1}
}

func stateAPIName(st string) string {
	switch st {
	case "poweroff":
		return "PoweredOff"
	case "aborted":
		return "Aborted"
	case "running":
		return "Running"
	case "paused":
		return "Paused"
	case "starting":
		return "Starting"
	case "stopping":
		return "Stopping"
	}
	return st
}

// nsenterCmd builds a command run inside the machine with all its namespaces.
func nsenterCmd(ctx context.Context, rt *Runtime, argv ...string) *exec.Cmd {
	a := append([]string{"-t", strconv.Itoa(rt.InitPID), "-a", "--"}, argv...)
	return exec.CommandContext(ctx, "nsenter", a...)
}

func guestOutput(rt *Runtime, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := nsenterCmd(ctx, rt, argv...).Output()
	return strings.TrimSpace(string(out)), err
}

// runLevel emulates GuestAdditionsRunLevel: 2 (userland) once the guest's
// systemd has reached basic.target, where guest services start.
func runLevel(rt *Runtime) int {
	if rt == nil || rt.InitPID == 0 {
		return 0
	}
	st, _ := guestOutput(rt, "systemctl", "is-system-running")
	switch st {
	case "running", "degraded", "maintenance":
		return 2
	}
	if a, _ := guestOutput(rt, "systemctl", "is-active", "basic.target"); a == "active" {
		return 2
	}
	return 1
}

// guestNet reads host0's state from the machine's network namespace.
type guestNetInfo struct {
	IP, Mask, Broadcast, MAC, Status string
}

func guestNet(rt *Runtime) (guestNetInfo, bool) {
	var gi guestNetInfo
	if rt == nil || rt.InitPID == 0 {
		return gi, false
	}
	nsPath := "--net=/proc/" + strconv.Itoa(rt.InitPID) + "/ns/net"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nsenter", nsPath, "ip", "-o", "addr", "show", "dev", "host0").Output()
	if err != nil {
		return gi, false
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" && (gi.IP == "" || strings.HasPrefix(gi.IP, "169.254.")) {
				ip, ipn, err := net.ParseCIDR(f[i+1])
				if err != nil || gi.IP != "" && ip.IsLinkLocalUnicast() {
					continue
				}
				gi.IP = ip.String()
				gi.Mask = net.IP(ipn.Mask).String()
				bc := make(net.IP, 4)
				for j := range bc {
					bc[j] = ipn.IP.To4()[j] | ^ipn.Mask[j]
				}
				gi.Broadcast = bc.String()
			}
		}
	}
	lout, err := exec.CommandContext(ctx, "nsenter", nsPath, "ip", "-o", "link", "show", "dev", "host0").Output()
	if err == nil {
		f := strings.Fields(string(lout))
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "link/ether" {
				gi.MAC = strings.ToUpper(strings.ReplaceAll(f[i+1], ":", ""))
			}
		}
		gi.Status = "Down"
		if strings.Contains(string(lout), ",UP") || strings.Contains(string(lout), "<UP") {
			gi.Status = "Up"
		}
	}
	return gi, gi.IP != ""
}
