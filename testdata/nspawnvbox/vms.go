package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func validGroup(g string) bool {
	if g == "/" {
		return true
	}
	if !strings.HasPrefix(g, "/") || strings.HasSuffix(g, "/") || strings.Contains(g, "//") {
		return false
	}
	return true
}

// cmdCloneVM: clonevm SRC [--snapshot S] [--mode machine] [--options link,...]
// [--name N] [--groups G] [--basefolder D] [--uuid U] [--register]
func cmdCloneVM(s *store, args []string) error {
	p, err := getopt{
		withValue: set("--snapshot", "--mode", "--options", "--name", "--groups", "--basefolder", "--uuid"),
		flags:     set("--register"),
	}.parse(args)
	if err != nil {
		return syntaxError("%v", err)
	}
	if len(p.operands) != 1 {
		return syntaxError("VM name or UUID required")
	}
	link := false
	keepMACs := false
	for _, o := range p.opts {
		if o.k != "--options" {
			continue
		}
		for _, w := range strings.Split(o.v, ",") {
			switch strings.ToLower(strings.TrimSpace(w)) {
			case "link", "linked":
				link = true
			case "keepallmacs", "keepnatmacs":
				keepMACs = true
			case "keepdisknames", "keephwuuids", "":
			default:
				errorf("Invalid clone options '%s'", o.v)
				return exitErr{2}
			}
		}
	}
	if m, ok := p.get("--mode"); ok && m != "machine" && m != "machineandchildren" && m != "all" {
		errorf("Invalid clone mode '%s'", m)
		return exitErr{2}
	}
	s.lock()
	defer s.unlock()
	src, err := s.mustFind(p.operands[0], `"FindMachine(Bstr(pszSrcName).raw(), srcMachine.asOutParam())" at line 668 of file VBoxManageMisc.cpp`)
	if err != nil {
		return err
	}
	name, ok := p.get("--name")
	if !ok {
		name = src.Name + " Clone"
	}
	groups := []string{"/"}
	if g, ok := p.get("--groups"); ok {
		groups = strings.Split(g, ",")
		for _, gr := range groups {
			if !validGroup(gr) {
				return apiError(fmt.Sprintf("Invalid machine group '%s'", gr), codeInvalidArg, "VirtualBoxWrap", "IVirtualBox",
					`"ComposeMachineFilename(Bstr(pszTrgName).raw(), bstrPrimaryGroup.raw(), createFlags.raw(), Bstr(pszTrgBaseFolder).raw(), bstrSettingsFile.asOutParam())" at line 695 of file VBoxManageMisc.cpp`)
			}
		}
	}
	var snap *Snap
	if sn, ok := p.get("--snapshot"); ok {
		snap = findSnap(src, sn)
		if snap == nil {
			return apiError(fmt.Sprintf("Could not find a snapshot named '%s'", sn), codeNotFound, "MachineWrap", "IMachine",
				`"FindSnapshot(Bstr(pszSnapshotName).raw(), srcSnapshot.asOutParam())" at line 677 of file VBoxManageMisc.cpp`)
		}
	}
	if link && snap == nil {
		return apiError("Linked clone can only be created from a snapshot", codeInvalidArg, "MachineWrap", "IMachine",
			`"CloneTo(trgMachine, mode, ComSafeArrayAsInParam(options), progress.asOutParam())" at line 717 of file VBoxManageMisc.cpp`)
	}
	for _, vm := range s.all() {
		if vm.Name == name && vm.Groups[0] == groups[0] {
			return apiError(fmt.Sprintf("Machine settings file '%s' already exists", s.cfgFile(vm)), codeFileError, "MachineWrap", "IMachine",
				`"CreateMachine(bstrSettingsFile.raw(), Bstr(pszTrgName).raw(), ComSafeArrayAsInParam(groups), NULL, createFlags.raw(), NULL, NULL, NULL, trgMachine.asOutParam())" at line 704 of file VBoxManageMisc.cpp`)
		}
	}
	uuid := newUUID()
	if u, ok := p.get("--uuid"); ok {
		uuid = strings.ToLower(strings.Trim(u, "{}"))
	}
	clone := &VM{
		UUID: uuid, Name: name, Groups: groups, OSType: src.OSType, Description: src.Description,
		CPUs: src.CPUs, MemoryMB: src.MemoryMB, NIC: src.NIC,
		ExtraData: map[string]string{}, GuestProps: map[string]Prop{},
		State: "poweroff", StateChange: time.Now().UTC(), Registered: time.Now().UnixNano(),
	}
	// A clone's settings are a copy of the source's: extra data and the
	// persisted guest properties (stale ones included, as in VirtualBox).
	for k, v := range src.ExtraData {
		clone.ExtraData[k] = v
	}
	for k, v := range src.GuestProps {
		clone.GuestProps[k] = v
	}
	if !keepMACs {
		clone.NIC.MAC = newMAC()
	}
	fmt.Fprint(os.Stderr, "0%...")
	if err := s.initLayers(clone); err != nil {
		return err
	}
	// Layers: the snapshot's copy of the source's writable layer on top of the
	// source's own read-only layers. A full clone gets a copy instead.
	var srcUpper string
	if snap != nil {
		srcUpper = filepath.Join(s.vmDir(src.UUID), "snap", snap.UUID)
	} else {
		srcUpper = filepath.Join(s.vmDir(src.UUID), "upper")
	}
	if link {
		clone.Lowers = append([]string{srcUpper}, src.Lowers...)
		clone.Lowers = rootfsFor(name, clone.Lowers)
	} else {
		clone.Lowers = append([]string{}, src.Lowers...)
		if err := copyTree(srcUpper, filepath.Join(s.vmDir(clone.UUID), "upper")); err != nil {
			os.RemoveAll(s.vmDir(clone.UUID))
			fmt.Fprintln(os.Stderr, "VBOX_E_FILE_ERROR")
			errorf("Clone VM failed")
			errorf("%v", err)
			return exitErr{1}
		}
	}
	if err := s.save(clone); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, strings.TrimPrefix(progressFullLine, "0%..."))
	fmt.Printf("Machine has been successfully cloned as \"%s\"\n", name)
	return nil
}

// copyTree copies a directory with ownership, modes, xattrs (overlay
// whiteouts and opaque markers) and hard links.
func copyTree(src, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	out, err := exec.Command("cp", "-a", "--reflink=auto", src, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("copy %s: %v: %s", src, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func findSnap(vm *VM, ref string) *Snap {
	u := strings.ToLower(strings.Trim(ref, "{}"))
	for _, sn := range vm.Snapshots {
		if sn.UUID == u {
			return sn
		}
	}
	for _, sn := range vm.Snapshots {
		if sn.Name == ref {
			return sn
		}
	}
	return nil
}

// lockedError is what write-lock commands print while a machine runs.
func lockedError(vm *VM, context string) error {
	return apiError(fmt.Sprintf("The machine '%s' is already locked for a session (or being unlocked)", vm.Name),
		codeInvalidObj, "MachineWrap", "IMachine", context)
}

func isActive(st string) bool {
	return st == "running" || st == "paused" || st == "starting" || st == "stopping"
}

// cmdModifyVM: modifyvm VM option...
func cmdModifyVM(s *store, args []string) error {
	if len(args) < 2 {
		return syntaxError("Not enough parameters")
	}
	s.lock()
	defer s.unlock()
	vm, err := s.mustFind(args[0], `"FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())" at line 634 of file VBoxManageModifyVM.cpp`)
	if err != nil {
		return err
	}
	if isActive(s.vmState(vm)) {
		return lockedError(vm, `"LockMachine(a->session, LockType_Write)" at line 640 of file VBoxManageModifyVM.cpp`)
	}
	opts := args[1:]
	value := func(i *int, name string) (string, bool) {
		a := opts[*i]
		if v, ok := optValue(a, name); ok && a != name {
			return v, true
		}
		if a == name && *i+1 < len(opts) {
			*i++
			return opts[*i], true
		}
		return "", false
	}
	for i := 0; i < len(opts); i++ {
		a := opts[i]
		key := a
		if j := strings.IndexAny(a, "=:"); j > 0 {
			key = a[:j]
		}
		v, ok := value(&i, key)
		if !ok {
			errorf("Unknown option: %s", a)
			return exitErr{1}
		}
		switch key {
		case "--cpus":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				errorf("Invalid number of CPUs '%s'", v)
				return exitErr{1}
			}
			vm.CPUs = n
		case "--memory":
			n, err := strconv.Atoi(v)
			if err != nil || n < 4 {
				errorf("Invalid memory size '%s'", v)
				return exitErr{1}
			}
			vm.MemoryMB = n
		case "--groups":
			gs := strings.Split(v, ",")
			for _, g := range gs {
				if !validGroup(g) {
					return apiError(fmt.Sprintf("Invalid machine group '%s'", g), codeInvalidArg, "MachineWrap", "IMachine",
						`"COMSETTER(Groups)(ComSafeArrayAsInParam(groups))" at line 776 of file VBoxManageModifyVM.cpp`)
				}
			}
			vm.Groups = gs
		case "--name":
			vm.Name = v
		case "--description":
			vm.Description = v
		case "--ostype", "--os-type":
			vm.OSType = v
		case "--nic1":
			switch v {
			case "none", "null", "nat", "bridged", "intnet", "hostonly", "hostonlynet", "generic", "natnetwork":
				vm.NIC.Type = v
				if v == "natnetwork" && vm.NIC.NATNet == "" {
					vm.NIC.NATNet = "NatNetwork" // Main's default name
				}
			case "hostif":
				vm.NIC.Type = "bridged"
			default:
				errorf("Invalid type '%s' specfied for NIC 1", v)
				return exitErr{1}
			}
		case "--bridgeadapter1", "--bridge-adapter1":
			if v == "none" {
				vm.NIC.Bridge = ""
				break
			}
			if _, err := net.InterfaceByName(v); err != nil {
				warnf("Interface \"%s\" doesn't seem to exist", v)
			}
			vm.NIC.Bridge = v
		case "--nat-network1", "--natnetwork1":
			vm.NIC.NATNet = v // no validation, as in VirtualBox (§2)
		case "--macaddress1", "--mac-address1":
			if strings.EqualFold(v, "auto") {
				vm.NIC.MAC = newMAC()
				break
			}
			m := strings.ToUpper(v)
			if len(m) != 12 || strings.Trim(m, "0123456789ABCDEF") != "" || strings.IndexByte("02468ACE", m[1]) < 0 {
				return apiError("Invalid MAC address format", codeInvalidArg, "NetworkAdapterWrap", "INetworkAdapter",
					`"COMSETTER(MACAddress)(Bstr(ValueUnion.psz).raw())" at line 1520 of file VBoxManageModifyVM.cpp`)
			}
			vm.NIC.MAC = m
		case "--cableconnected1", "--cable-connected1":
			vm.NIC.Cable = v == "on"
		case "--nictype1", "--nic-type1":
			vm.NIC.NICType = v
		default:
			if strings.HasPrefix(key, "--") {
				// Other hardware knobs have no meaning for a container: accepted.
				continue
			}
			errorf("Unknown option: %s", a)
			return exitErr{1}
		}
	}
	return s.save(vm)
}

// cmdUnregisterVM: unregistervm VM [--delete|--delete-all]
func cmdUnregisterVM(s *store, args []string) error {
	p, err := getopt{flags: set("--delete", "-delete", "--delete-all")}.parse(args)
	if err != nil {
		return syntaxError("%v", err)
	}
	if len(p.operands) != 1 {
		return syntaxError("VM name or UUID required")
	}
	_, del := p.get("--delete")
	if _, ok := p.get("--delete-all"); ok {
		del = true
	}
	if _, ok := p.get("-delete"); ok {
		del = true
	}
	s.lock()
	defer s.unlock()
	vm, err := s.mustFind(p.operands[0], `"FindMachine(Bstr(VMName).raw(), machine.asOutParam())" at line 229 of file VBoxManageMisc.cpp`)
	if err != nil {
		return err
	}
	rt, alive := s.runtime(vm)
	if alive {
		return apiError(fmt.Sprintf("Cannot unregister the machine '%s' while it is locked", vm.Name), codeInvalidObj, "MachineWrap", "IMachine",
			`"Unregister(fDeleteAll ? CleanupMode_DetachAllReturnHardDisksAndVMRemovable :CleanupMode_DetachAllReturnHardDisksOnly, ComSafeArrayAsOutParam(aMedia))" at line 233 of file VBoxManageMisc.cpp`)
	}
	if rt != nil {
		cleanupRuntime(s, vm, rt)
	}
	// Linked clones stack on this VM's layers: it cannot go while they exist.
	if del {
		mine := s.vmDir(vm.UUID) + string(os.PathSeparator)
		for _, other := range s.all() {
			if other.UUID == vm.UUID {
				continue
			}
			for _, l := range other.Lowers {
				if strings.HasPrefix(l, mine) {
					return apiError(fmt.Sprintf("Cannot delete the machine '%s' because its disks are used by the linked clone '%s'", vm.Name, other.Name),
						codeObjectInUse, "MachineWrap", "IMachine", `"DeleteConfig(ComSafeArrayAsInParam(aMedia), pProgress.asOutParam())" at line 257 of file VBoxManageMisc.cpp`)
				}
			}
		}
	}
	if !del {
		// Unregistered but kept on disk, like a .vbox left behind.
		return os.Rename(filepath.Join(s.vmDir(vm.UUID), "vm.json"), filepath.Join(s.vmDir(vm.UUID), "vm.json.unregistered"))
	}
	fmt.Fprint(os.Stderr, "0%...")
	if err := os.RemoveAll(s.vmDir(vm.UUID)); err != nil {
		fmt.Fprintln(os.Stderr, "VBOX_E_FILE_ERROR")
		errorf("%v", err)
		return exitErr{1}
	}
	fmt.Fprintln(os.Stderr, strings.TrimPrefix(progressFullLine, "0%..."))
	return nil
}

// cmdSnapshot: snapshot VM take|list|restore|restorecurrent|delete ...
func cmdSnapshot(s *store, args []string) error {
	if len(args) < 2 {
		return syntaxError("Not enough parameters")
	}
	ref, verb, rest := args[0], args[1], args[2:]
	s.lock()
	locked := true
	defer func() {
		if locked {
			s.unlock()
		}
	}()
	vm, err := s.mustFind(ref, `"FindMachine(Bstr(a->argv[0]).raw(), pMachine.asOutParam())" at line 421 of file VBoxManageSnapshot.cpp`)
	if err != nil {
		return err
	}
	st := s.vmState(vm)
	dir := s.vmDir(vm.UUID)
	switch verb {
	case "take":
		if len(rest) < 1 {
			errorf("Missing snapshot name")
			return exitErr{1}
		}
		name := rest[0]
		p, err := getopt{withValue: set("--description", "-description", "-desc", "--uniquename"), flags: set("--live", "--pause")}.parse(rest[1:])
		if err != nil || len(p.operands) > 0 {
			errorf("Invalid parameter '%s'", strings.Join(rest[1:], " "))
			return exitErr{1}
		}
		desc, _ := p.get("--description")
		_, live := p.get("--live")
		if live && st != "running" {
			return apiError("Cannot take a live snapshot of a virtual machine unless it is running.", codeInvalidVM, "SessionMachine", "IMachine",
				`"TakeSnapshot(name.raw(), desc.raw(), fPause, snapId.asOutParam(), progress.asOutParam())" at line 487 of file VBoxManageSnapshot.cpp`)
		}
		if st == "starting" || st == "stopping" {
			return apiError(fmt.Sprintf("Cannot take a snapshot of the virtual machine while it is changing state (machine state: %s)", stateAPIName(st)),
				codeInvalidVM, "SessionMachine", "IMachine", `"TakeSnapshot(name.raw(), desc.raw(), fPause, snapId.asOutParam(), progress.asOutParam())" at line 487 of file VBoxManageSnapshot.cpp`)
		}
		sn := &Snap{UUID: newUUID(), Name: name, Description: desc, Parent: vm.Current, Taken: time.Now().UTC(), Online: st == "running" || st == "paused"}
		s.unlock()
		locked = false
		fmt.Fprint(os.Stderr, "0%...")
		rt, _ := s.runtime(vm)
		snapDir := filepath.Join(dir, "snap", sn.UUID)
		if rt != nil && st == "running" {
			// Paused only for the final pass of the copy (see liveCopy).
			var frozen time.Duration
			frozen, err = liveCopy(rt, filepath.Join(dir, "upper"), snapDir)
			if f, ferr := os.OpenFile(filepath.Join(dir, "console.log"), os.O_WRONLY|os.O_APPEND, 0o644); ferr == nil {
				fmt.Fprintf(f, "=== %s nspawnvbox: snapshot %q: machine frozen for %s\n", time.Now().UTC().Format(time.RFC3339), name, frozen.Round(time.Millisecond))
				f.Close()
			}
		} else {
			err = copyTree(filepath.Join(dir, "upper"), snapDir)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "VBOX_E_FILE_ERROR")
			errorf("Failed to take snapshot")
			errorf("%v", err)
			return exitErr{1}
		}
		s.lock()
		locked = true
		cur, err := s.load(vm.UUID)
		if err != nil {
			return err
		}
		cur.Snapshots = append(cur.Snapshots, sn)
		cur.Current = sn.UUID
		if err := s.save(cur); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, strings.TrimPrefix(progressFullLine, "0%..."))
		fmt.Printf("Snapshot taken. UUID: %s\n", sn.UUID)
		return nil
	case "list":
		if len(vm.Snapshots) == 0 {
			fmt.Println("This machine does not have any snapshots")
			return exitErr{1}
		}
		var b strings.Builder
		printSnapshots(&b, vm, "")
		fmt.Print(b.String())
		return nil
	case "restore", "restorecurrent":
		var sn *Snap
		if verb == "restorecurrent" {
			if vm.Current == "" {
				fmt.Println("This machine does not have any snapshots")
				return exitErr{1}
			}
			sn = findSnap(vm, vm.Current)
		} else {
			if len(rest) != 1 {
				errorf("Expecting snapshot name only")
				return exitErr{1}
			}
			if sn = findSnap(vm, rest[0]); sn == nil {
				return apiError(fmt.Sprintf("Could not find a snapshot named '%s'", rest[0]), codeNotFound, "SessionMachine", "IMachine",
					`"FindSnapshot(Bstr(a->argv[2]).raw(), pSnapshot.asOutParam())" at line 537 of file VBoxManageSnapshot.cpp`)
			}
		}
		fmt.Printf("Restoring snapshot '%s' (%s)\n", sn.Name, sn.UUID)
		if isActive(st) {
			return apiError(fmt.Sprintf("Cannot delete the current state of the running machine (machine state: %s)", stateAPIName(st)),
				codeInvalidVM, "SessionMachine", "IMachine", `"RestoreSnapshot(pSnapshot, pProgress.asOutParam())" at line 560 of file VBoxManageSnapshot.cpp`)
		}
		if rt, _ := s.runtime(vm); rt != nil {
			cleanupRuntime(s, vm, rt)
		}
		fmt.Fprint(os.Stderr, "0%...")
		if err := copyTree(filepath.Join(dir, "snap", sn.UUID), filepath.Join(dir, "upper")); err != nil {
			fmt.Fprintln(os.Stderr, "VBOX_E_FILE_ERROR")
			errorf("Snapshot operation failed")
			errorf("%v", err)
			return exitErr{1}
		}
		_ = os.RemoveAll(filepath.Join(dir, "work"))
		vm.Current = sn.UUID
		// No memory image is kept: a snapshot of a running machine restores
		// as powered off (the guest then boots from that disk state).
		vm.State, vm.StateChange = "poweroff", time.Now().UTC()
		if err := s.save(vm); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, strings.TrimPrefix(progressFullLine, "0%..."))
		return nil
	case "delete":
		if len(rest) != 1 {
			errorf("Expecting snapshot name only")
			return exitErr{1}
		}
		sn := findSnap(vm, rest[0])
		if sn == nil {
			return apiError(fmt.Sprintf("Could not find a snapshot named '%s'", rest[0]), codeNotFound, "SessionMachine", "IMachine",
				`"FindSnapshot(Bstr(a->argv[2]).raw(), pSnapshot.asOutParam())" at line 537 of file VBoxManageSnapshot.cpp`)
		}
		var kids []*Snap
		for _, c := range vm.Snapshots {
			if c.Parent == sn.UUID {
				kids = append(kids, c)
			}
		}
		if len(kids) > 1 {
			return apiError(fmt.Sprintf("Snapshot '%s' of the machine '%s' cannot be deleted, because it has %d child snapshots, which is more than the one snapshot allowed for deletion", sn.Name, vm.Name, len(kids)),
				codeInvalidObj, "SessionMachine", "IMachine", `"DeleteSnapshot(pSnapshot->COMGETTER(Id)(bstrSnapGuid.asOutParam()), pProgress.asOutParam())" at line 590 of file VBoxManageSnapshot.cpp`)
		}
		snapDir := filepath.Join(dir, "snap", sn.UUID)
		for _, other := range s.all() {
			for _, l := range other.Lowers {
				if l == snapDir {
					return apiError(fmt.Sprintf("Snapshot '%s' of the machine '%s' cannot be deleted, because the linked clone '%s' is based on it", sn.Name, vm.Name, other.Name),
						codeObjectInUse, "SessionMachine", "IMachine", `"DeleteSnapshot(pSnapshot->COMGETTER(Id)(bstrSnapGuid.asOutParam()), pProgress.asOutParam())" at line 590 of file VBoxManageSnapshot.cpp`)
				}
			}
		}
		fmt.Printf("Deleting snapshot '%s' (%s)\n", sn.Name, sn.UUID)
		fmt.Fprint(os.Stderr, "0%...")
		if err := os.RemoveAll(snapDir); err != nil {
			fmt.Fprintln(os.Stderr, "VBOX_E_FILE_ERROR")
			errorf("Snapshot operation failed")
			errorf("%v", err)
			return exitErr{1}
		}
		var keep []*Snap
		for _, c := range vm.Snapshots {
			if c.UUID == sn.UUID {
				continue
			}
			if c.Parent == sn.UUID {
				c.Parent = sn.Parent
			}
			keep = append(keep, c)
		}
		vm.Snapshots = keep
		if vm.Current == sn.UUID {
			vm.Current = sn.Parent
		}
		if err := s.save(vm); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, strings.TrimPrefix(progressFullLine, "0%..."))
		return nil
	}
	errorf("Invalid parameter '%s'", verb)
	return exitErr{1}
}

// rootfsFor swaps the bottom layer of a linked clone named name for the root
// filesystem NSPAWNVBOX_ROOTFS_FOR gives it ("VM=/path,VM2=/path"), so that
// some machines of a lab can run another distribution release than the base
// (the layers above it hold only the base's few first-boot files).
func rootfsFor(name string, lowers []string) []string {
	base := os.Getenv("NSPAWNVBOX_BASE_ROOTFS")
	for _, kv := range strings.Split(os.Getenv("NSPAWNVBOX_ROOTFS_FOR"), ",") {
		vm, root, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || vm != name || len(lowers) == 0 || lowers[len(lowers)-1] != base {
			continue
		}
		out := append([]string{}, lowers[:len(lowers)-1]...)
		return append(out, root)
	}
	return lowers
}
