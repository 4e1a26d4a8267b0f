package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cmdList: list vms | runningvms | bridgedifs (§2).
func cmdList(a []string) int {
	var what string
	sorted, long := false, false
	for _, x := range a {
		switch x {
		case "--sorted", "-s":
			sorted = true
		case "--long", "-l":
			long = true
		default:
			if strings.HasPrefix(x, "-") {
				return syntaxError("list", fmt.Sprintf("Unknown option: %s", x), 2)
			}
			what = x
		}
	}
	if long && what != "natnets" && what != "natnetworks" {
		// --long prints human showvminfo per VM; the reference advises
		// against parsing it and gives no format, so the fake rejects it.
		fmt.Fprintln(os.Stderr, "fakevbox: list --long is only implemented for natnets")
		return 1
	}
	if what == "hostonlynets" && !hostOnlyNetsAvailable() {
		errLines(fmt.Sprintf("Unknown subcommand \"%s\".", what))
		return 2
	}
	return update(func(st *Store, now time.Time) int {
		switch what {
		case "natnets", "natnetworks":
			printNatnets(st, long, sorted)
		case "hostonlynets":
			printHostOnlyNets(st)
		case "vms", "runningvms":
			vms := append([]*VM(nil), st.VMs...)
			if sorted {
				sortVMs(vms)
			}
			for _, v := range vms {
				if what == "runningvms" && !listedRunning(v.State) {
					continue
				}
				outf("\"%s\" {%s}\n", v.Name, v.UUID)
			}
		case "bridgedifs", "hostifs":
			for _, h := range st.Config.BridgedIfs {
				printHostIf(h)
			}
		case "hostonlyifs":
			for _, h := range st.HostOnlyIfs {
				printHostIf(h)
			}
		case "systemproperties":
			// Only the lines the reference gives (§5.2); 6.1/7.0 have no
			// architecture line, and the rest of the list is not specified.
			if isV71() {
				archs := "x86"
				if st.Config.HostArch == "ARMv8" {
					archs = "ARMv8"
					if st.GlobalExtra["VBoxInternal2/EnableX86OnArm"] == "1" {
						archs = "x86,ARMv8"
					}
				}
				outf("Host platform properties:\n\nSupported platform architectures: %s\n\n%s platform properties:\n", archs, map[bool]string{true: "ARMv8", false: "x86"}[st.Config.HostArch == "ARMv8"])
			}
		default:
			if what == "" {
				return syntaxError("list", "Missing subcommand for \"list\" command.", 2)
			}
			return syntaxError("list", fmt.Sprintf("Unknown subcommand \"%s\".", what), 2)
		}
		return 0
	})
}

func sortVMs(v []*VM) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j].Name < v[j-1].Name; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// listedRunning: runningvms lists Running, Paused, Teleporting,
// LiveSnapshotting, TeleportingPausedVM only.
func listedRunning(s string) bool {
	switch s {
	case "running", "paused", "teleporting", "livesnapshotting", "teleportingpausedvm":
		return true
	}
	return false
}

func yesNo(b bool, y, n string) string {
	if b {
		return y
	}
	return n
}

func printHostIf(h HostIf) {
	outf("Name:            %s\n", h.Name)
	outf("GUID:            %s\n", h.GUID)
	outf("DHCP:            %s\n", yesNo(h.DHCP, "Enabled", "Disabled"))
	outf("IPAddress:       %s\n", h.IPAddress)
	outf("NetworkMask:     %s\n", h.NetworkMask)
	outf("IPV6Address:     %s\n", h.IPV6Address)
	outf("IPV6NetworkMaskPrefixLength: %d\n", h.IPV6Prefix)
	outf("HardwareAddress: %s\n", h.HWAddress)
	outf("MediumType:      Ethernet\n")
	outf("Wireless:        %s\n", yesNo(h.Wireless, "Yes", "No"))
	outf("Status:          %s\n", h.Status)
	outf("VBoxNetworkName: HostInterfaceNetworking-%s\n\n", h.Name)
}

// mrQuote is outputMachineReadableString: escape only " and \.
func mrQuote(s string) string {
	if !strings.ContainsAny(s, "\"\\") {
		return "\"" + s + "\""
	}
	s = strings.ReplaceAll(s, "\\", "\\\\")
	return "\"" + strings.ReplaceAll(s, "\"", "\\\"") + "\""
}

// vboxTime is VMStateChangeTime: ms precision, nine digits, no "Z".
func vboxTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000") + "000000"
}

func cmdShowVMInfo(a []string) int {
	opts, ops, bad := getopt(a, fixedSpec(map[string]bool{"--machinereadable": false, "--details": false, "--log": true}))
	if bad != "" {
		return syntaxError("showvminfo", fmt.Sprintf("Unknown option: %s", bad), 2)
	}
	if len(ops) == 0 {
		return syntaxError("showvminfo", "VM name or UUID required", 2)
	}
	mr := false
	for _, o := range opts {
		switch o.name {
		case "--machinereadable":
			mr = true
		case "--log":
			fmt.Fprintln(os.Stderr, "fakevbox: showvminfo --log is not implemented")
			return 1
		}
	}
	if !mr {
		// The human format is not specified by the reference.
		fmt.Fprintln(os.Stderr, "fakevbox: showvminfo without --machinereadable is not implemented")
		return 1
	}
	return update(func(st *Store, now time.Time) int {
		vm := st.find(ops[0])
		if vm == nil {
			return notFound(ops[0], "FindMachine(Bstr(VMNameOrUuid).raw(), machine.asOutParam())", 3138, "VBoxManageInfo.cpp")
		}
		showVMInfo(vm, now)
		return 0
	})
}

// showVMInfo prints the keys of the reference's 7.0 sample (§3.6) in its
// order. Keys the sample elides ("…") are left out: nothing may depend on
// them, and the fake would have to invent their values.
func showVMInfo(vm *VM, now time.Time) {
	q := func(k, v string) { outf("%s=%s\n", k, mrQuote(v)) }
	raw := func(k, v string) { outf("%s=\"%s\"\n", k, v) } // printed with %s, no escaping
	n := func(k string, v int) { outf("%s=%d\n", k, v) }
	dir := vm.dir()
	q("name", vm.Name)
	switch {
	case isV71():
		q("encryption", "disabled") // 7.1's form (§5.1)
	case !isV61():
		outf("Encryption:     disabled\n")
	}
	q("groups", strings.Join(vm.Groups, ","))
	if isV71() {
		q("platformArchitecture", yesNo(vm.Arch == "ARM", "ARM", "x86"))
	}
	q("ostype", vm.OSType)
	q("UUID", vm.UUID)
	q("CfgFile", vm.CfgFile)
	q("SnapFldr", filepath.Join(dir, "Snapshots"))
	q("LogFldr", filepath.Join(dir, "Logs"))
	q("hardwareuuid", vm.UUID)
	n("memory", vm.MemoryMB)
	q("pagefusion", "off")
	n("vram", 16)
	n("cpuexecutioncap", 100)
	q("hpet", "off")
	q("cpu-profile", "host")
	q("chipset", "piix3")
	q("firmware", "BIOS")
	n("cpus", vm.CPUs)
	if !isV61() {
		// 7.0 key with a space; 6.1's name for it is not in the reference.
		q("BIOS NVRAM File", filepath.Join(dir, sanitize(vm.Name)+".nvram"))
	}
	q("VMState", vm.State)
	q("VMStateChangeTime", vboxTime(vm.StateChanged))
	if vm.State == "saved" {
		q("VMStateFile", filepath.Join(dir, "Snapshots", vboxTime(vm.StateChanged)[:10]+".sav"))
	}
	q("graphicscontroller", "vmsvga")
	q("storagecontrollername0", "SATA")
	q("storagecontrollertype0", "IntelAhci")
	q("storagecontrollerinstance0", "0")
	q("storagecontrollermaxportcount0", "30")
	q("storagecontrollerportcount0", "1")
	q("storagecontrollerbootable0", "on")
	outf("\"SATA-0-0\"=%s\n", mrQuote(vm.Disk))
	outf("\"SATA-ImageUUID-0-0\"=\"%s\"\n", vm.DiskUUID)
	outf("\"SATA-hot-pluggable-0-0\"=\"off\"\n")
	outf("\"SATA-nonrotational-0-0\"=\"off\"\n")
	outf("\"SATA-discard-0-0\"=\"off\"\n")
	for i, nic := range vm.NICs {
		s := strconv.Itoa(i + 1)
		if nic.Type == "none" {
			q("nic"+s, "none")
			continue
		}
		switch nic.Type {
		case "bridged":
			raw("bridgeadapter"+s, nic.BridgeAdapter)
		case "nat":
			raw("natnet"+s, "nat")
		case "hostonly":
			raw("hostonlyadapter"+s, nic.HostOnly)
		case "natnetwork":
			raw("nat-network"+s, nic.NATNetwork)
		case "hostonlynetwork":
			raw("hostonly-network"+s, nic.HostOnlyNet)
		case "intnet":
			raw("intnet"+s, nic.IntNet)
		}
		raw("macaddress"+s, nic.MAC)
		q("cableconnected"+s, yesNo(nic.Cable, "on", "off"))
		q("nic"+s, nic.Type)
		q("nictype"+s, nic.NICType)
		q("nicspeed"+s, "0")
		if nic.Type == "nat" {
			q("mtu", "0")
			q("sockSnd", "64")
			q("sockRcv", "64")
			q("tcpWndSnd", "64")
			q("tcpWndRcv", "64")
		}
	}
	q("hidpointing", "ps2mouse")
	q("hidkeyboard", "ps2kbd")
	if vm.SessionName != "" {
		q("SessionName", vm.SessionName)
	} else if now.Before(vm.UnlockUntil) {
		// The VM process is still releasing its session after power-off.
		q("SessionName", "headless")
	}
	running := vm.isRunning()
	if running {
		outf("VideoMode=\"800,600,32\"@0,0 1\n")
		q("VRDEActiveConnection", "off")
		outf("VRDEClients==0\n")
	}
	q("recording_enabled", "off")
	n("recording_screens", 1)
	outf(" rec_screen0\n")
	q("rec_screen_enabled", "off")
	if vm.Description != "" {
		q("description", vm.Description)
	}
	printSnapshotsMR(vm)
	n("GuestMemoryBalloon", 0)
	if running {
		if vm.GAUp {
			q("GuestOSType", vm.GuestOSType)
			n("GuestAdditionsRunLevel", 2)
			q("GuestAdditionsVersion", vm.GAVersion+" r"+vm.GARevision)
			ms := vm.StartedAt.Add(cfg.gaDelay()).UnixMilli()
			outf("GuestAdditionsFacility_VirtualBox Base Driver=50,%d\n", ms-7000)
			outf("GuestAdditionsFacility_VirtualBox System Service=50,%d\n", ms)
		} else {
			n("GuestAdditionsRunLevel", 0)
		}
	}
}

// printSnapshotsMR prints §3.5's keys (also `snapshot list --machinereadable`).
func printSnapshotsMR(vm *VM) {
	walkSnapshots(vm.Snapshots, func(s *Snapshot, sfx string, _ int) {
		outf("SnapshotName%s=\"%s\"\n", sfx, s.Name)
		outf("SnapshotUUID%s=\"%s\"\n", sfx, s.UUID)
		if s.Description != "" {
			outf("SnapshotDescription%s=\"%s\"\n", sfx, s.Description)
		}
		if s.UUID == vm.Current {
			outf("CurrentSnapshotName=\"%s\"\n", s.Name)
			outf("CurrentSnapshotUUID=\"%s\"\n", s.UUID)
			outf("CurrentSnapshotNode=\"SnapshotName%s\"\n", sfx)
		}
	})
}

// validGroup is IVirtualBox::i_validateMachineGroup's shape check.
func validGroup(g string) bool {
	if g == "/" {
		return true
	}
	if !strings.HasPrefix(g, "/") || strings.HasSuffix(g, "/") {
		return false
	}
	for _, c := range strings.Split(g[1:], "/") {
		if c == "" {
			return false
		}
	}
	return true
}

func cmdCloneVM(a []string) int {
	opts, ops, bad := getopt(a, fixedSpec(map[string]bool{
		"--snapshot": true, "--mode": true, "--options": true, "--name": true, "--groups": true,
		"--basefolder": true, "--uuid": true, "--register": false,
	}))
	if bad != "" {
		return syntaxError("clonevm", fmt.Sprintf("Unknown option: %s", bad), 2)
	}
	if len(ops) != 1 {
		return syntaxError("clonevm", "Incorrect parameters", 2)
	}
	var snapName, name, groups, base, uuid string
	mode := "machine"
	link, keepMACs, register := false, false, false
	for _, o := range opts {
		switch o.name {
		case "--snapshot":
			snapName = o.value
		case "--mode":
			switch strings.ToLower(o.value) {
			case "machine", "machineandchildren", "all":
				mode = strings.ToLower(o.value)
			default:
				errLines(fmt.Sprintf("Invalid clone mode '%s'", o.value))
				return 2
			}
		case "--options":
			for _, x := range strings.Split(o.value, ",") {
				switch strings.ToLower(x) {
				case "link", "linked":
					link = true
				case "keepallmacs":
					keepMACs = true
				case "keepnatmacs", "keepdisknames", "keephwuuids":
				default:
					errLines(fmt.Sprintf("Invalid clone options '%s'", o.value))
					return 2
				}
			}
		case "--name":
			name = o.value
		case "--groups":
			groups = o.value
		case "--basefolder":
			base = o.value
		case "--uuid":
			uuid = strings.ToLower(strings.Trim(o.value, "{}"))
		case "--register":
			register = true
		}
	}
	return update(func(st *Store, now time.Time) int {
		src := st.find(ops[0])
		if src == nil {
			return notFound(ops[0], "FindMachine(Bstr(pszSrcName).raw(), srcMachine.asOutParam())", 664, "VBoxManageMisc.cpp")
		}
		var snap *Snapshot
		if snapName != "" {
			if snap = src.findSnapshot(snapName); snap == nil {
				msg := fmt.Sprintf("Could not find a snapshot named '%s'", snapName)
				if isUUID(snapName) {
					msg = fmt.Sprintf("Could not find a snapshot with UUID {%s}", strings.ToLower(strings.Trim(snapName, "{}")))
				}
				apiErr{msg: msg, code: "VBOX_E_OBJECT_NOT_FOUND", component: "MachineWrap", iface: "IMachine",
					context: "FindSnapshot(Bstr(pszSnapshotName).raw(), srcSnapshot.asOutParam())", line: 677, file: "VBoxManageMisc.cpp"}.print()
				return 1
			}
		}
		if name == "" {
			name = src.Name + " Clone"
		}
		groupList := []string{"/"}
		if groups != "" {
			groupList = strings.Split(groups, ",")
		}
		for _, g := range groupList {
			if !validGroup(g) {
				apiErr{msg: fmt.Sprintf("Invalid machine group '%s'", g), code: "NS_ERROR_INVALID_ARG", component: "VirtualBoxWrap", iface: "IVirtualBox",
					context: "ComposeMachineFilename(Bstr(pszTrgName).raw(), bstrPrimaryGroup.raw(), createFlags.raw(), Bstr(pszTrgBaseFolder).raw(), bstrSettingsFile.asOutParam())",
					line:    695, file: "VBoxManageMisc.cpp"}.print()
				return 1
			}
		}
		if base == "" {
			base = st.Config.MachineFolder
		}
		cfgFile := settingsFile(base, groupList[0], name)
		if _, err := os.Stat(cfgFile); err == nil {
			apiErr{msg: fmt.Sprintf("Machine settings file '%s' already exists", cfgFile), code: "VBOX_E_FILE_ERROR", component: "MachineWrap", iface: "IMachine",
				context: "CreateMachine(bstrSettingsFile.raw(), Bstr(pszTrgName).raw(), ComSafeArrayAsInParam(groups), NULL, createFlags.raw(), NULL, NULL, NULL, trgMachine.asOutParam())",
				line:    704, file: "VBoxManageMisc.cpp"}.print()
			return 1
		}
		if link && snap == nil {
			apiErr{msg: "Linked clone can only be created from a snapshot", code: "NS_ERROR_INVALID_ARG", component: "MachineWrap", iface: "IMachine",
				context: "CloneTo(trgMachine, mode, ComSafeArrayAsInParam(options), progress.asOutParam())", line: 717, file: "VBoxManageMisc.cpp"}.print()
			return 1
		}
		if link && mode != "machine" {
			apiErr{msg: "Linked clone can only be created for a single machine state", code: "NS_ERROR_INVALID_ARG", component: "MachineWrap", iface: "IMachine",
				context: "CloneTo(trgMachine, mode, ComSafeArrayAsInParam(options), progress.asOutParam())", line: 717, file: "VBoxManageMisc.cpp"}.print()
			return 1
		}
		if uuid == "" {
			uuid = newUUID()
		}
		if st.find(uuid) != nil && register {
			apiErr{msg: fmt.Sprintf("A machine with UUID {%s} is already registered", uuid), code: "VBOX_E_OBJECT_IN_USE", component: "VirtualBoxWrap", iface: "IVirtualBox",
				context: "RegisterMachine(trgMachine)", line: 730, file: "VBoxManageMisc.cpp"}.print()
			return 1
		}
		// The clone's settings are a copy of the source's (of the
		// snapshot's hardware with --snapshot): extradata and persisted
		// guest properties included.
		hw := src.Hardware
		guestSrc := guestRoot(src.UUID)
		if snap != nil {
			hw = snap.Hardware
			guestSrc = snapGuestDir(src, snap)
		}
		clone := &VM{
			Name: name, UUID: uuid, Groups: groupList, OSType: src.OSType, GuestOSType: src.GuestOSType, Arch: src.Arch,
			Description: src.Description, CfgFile: cfgFile, DiskUUID: newUUID(), Hardware: copyHardware(hw),
			ExtraData: copyMap(src.ExtraData), State: "poweroff", StateChanged: now,
			GAVersion: src.GAVersion, GARevision: src.GARevision, GuestIP: src.GuestIP,
			Credentials: copyMap(src.Credentials),
		}
		clone.dropTransient()
		if !keepMACs {
			for i := range clone.NICs {
				if clone.NICs[i].Type != "none" {
					clone.NICs[i].MAC = newMAC()
				}
			}
		}
		if link {
			clone.Disk = filepath.Join(clone.dir(), "Snapshots", "{"+clone.DiskUUID+"}.vdi")
			clone.Linked = &Link{VM: src.UUID, Snapshot: snap.UUID}
		} else {
			clone.Disk = filepath.Join(clone.dir(), sanitize(name)+"-disk1.vdi")
		}
		if err := writeVMFiles(clone); err != nil {
			progressFail(10, "VBOX_E_FILE_ERROR")
			errLines("Clone VM failed\n" + err.Error())
			return 1
		}
		if err := copyGuest(guestSrc, guestRoot(uuid)); err != nil {
			fmt.Fprintln(os.Stderr, "fakevbox: copying the guest:", err)
			return 1
		}
		progress()
		outf("Machine has been successfully cloned as \"%s\"\n", name)
		if register {
			st.VMs = append(st.VMs, clone)
		}
		return 0
	})
}

func copyGuest(src, dst string) error {
	os.RemoveAll(dst)
	if _, err := os.Stat(src); err != nil {
		return seedGuest(&VM{UUID: filepath.Base(dst)})
	}
	return copyTree(src, dst)
}

func snapGuestDir(vm *VM, s *Snapshot) string {
	return filepath.Join(vm.dir(), "Snapshots", s.UUID+".guest")
}

// nicOption splits "--bridgeadapter1" into ("--bridgeadapter", 1).
func nicOption(name string) (string, int) {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	if i == len(name) {
		return name, 0
	}
	n, _ := strconv.Atoi(name[i:])
	return name[:i], n
}

var modifyOpts = map[string]bool{
	"--name": true, "--groups": true, "--description": true, "--ostype": true, "--os-type": true,
	"--memory": true, "--cpus": true,
}

// 6.1 knows only the old spellings; 7.0 accepts both.
var nicOpts61 = map[string]string{"--nic": "nic", "--bridgeadapter": "bridge", "--macaddress": "mac",
	"--cableconnected": "cable", "--nictype": "nictype", "--hostonlyadapter": "hostonly", "--intnet": "intnet",
	"--nat-network": "natnetwork", "--natnetwork": "natnetwork"}
var nicOpts70 = map[string]string{"--bridge-adapter": "bridge", "--mac-address": "mac",
	"--cable-connected": "cable", "--nic-type": "nictype", "--host-only-adapter": "hostonly"}

// nicOptsVMNet exist only where VBOX_WITH_VMNET is (macOS hosts, 7.x).
var nicOptsVMNet = map[string]string{"--host-only-net": "hostonlynet", "--hostonlynet": "hostonlynet"}

func modifySpec(name string) (bool, bool) {
	if v, ok := modifyOpts[name]; ok {
		return true, v
	}
	base, n := nicOption(name)
	if n == 0 {
		return false, false
	}
	if _, ok := nicOpts61[base]; ok {
		return true, true
	}
	if _, ok := nicOpts70[base]; ok && !isV61() {
		return true, true
	}
	if _, ok := nicOptsVMNet[base]; ok && hostOnlyNetsAvailable() {
		return true, true
	}
	return false, false
}

func cmdModifyVM(a []string) int {
	if len(a) < 2 {
		return syntaxError("modifyvm", "Not enough parameters", 2)
	}
	opts, ops, bad := getopt(a[1:], modifySpec)
	if bad != "" {
		// modifyvm maps getopt errors to failure (exit 1).
		return syntaxError("modifyvm", fmt.Sprintf("Unknown option: %s", bad), 1)
	}
	if len(ops) > 0 {
		return syntaxError("modifyvm", fmt.Sprintf("Invalid parameter '%s'", ops[0]), 1)
	}
	return update(func(st *Store, now time.Time) int {
		vm := st.find(a[0])
		if vm == nil {
			return notFound(a[0], "FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())", 627, "VBoxManageModifyVM.cpp")
		}
		if vm.sessionLocked(now) {
			return lockError("modifyvm", vm)
		}
		// Work on a copy: settings are saved only if every option succeeded.
		w := *vm
		w.Hardware = copyHardware(vm.Hardware)
		w.Groups = append([]string(nil), vm.Groups...)
		notMutable := func(setter string, line int) int {
			apiErr{msg: "The machine is not mutable (state is Saved)", code: "VBOX_E_INVALID_VM_STATE", component: "SessionMachine", iface: "IMachine",
				context: setter, line: line, file: "VBoxManageModifyVM.cpp"}.print()
			return 1
		}
		for _, o := range opts {
			switch o.name {
			case "--name":
				w.Name = o.value
			case "--description":
				w.Description = o.value
			case "--ostype", "--os-type":
				w.OSType = o.value
			case "--memory", "--cpus":
				v, err := strconv.Atoi(o.value)
				if err != nil {
					return syntaxError("modifyvm", fmt.Sprintf("Invalid %s argument '%s'", o.name, o.value), 1)
				}
				if vm.State == "saved" {
					return notMutable(map[string]string{"--memory": "COMSETTER(MemorySize)(ValueUnion.u32)", "--cpus": "COMSETTER(CPUCount)(ValueUnion.u32)"}[o.name], 724)
				}
				if o.name == "--memory" {
					w.MemoryMB = v
				} else {
					w.CPUs = v
				}
			case "--groups":
				gs := strings.Split(o.value, ",")
				for _, g := range gs {
					if !validGroup(g) {
						// The reference gives this text for clonevm; modifyvm's
						// setter reports the same check.
						apiErr{msg: fmt.Sprintf("Invalid machine group '%s'", g), code: "NS_ERROR_INVALID_ARG", component: "SessionMachine", iface: "IMachine",
							context: "COMSETTER(Groups)(ComSafeArrayAsInParam(groups))", line: 1007, file: "VBoxManageModifyVM.cpp"}.print()
						return 1
					}
				}
				w.Groups = gs
			default:
				base, n := nicOption(o.name)
				if n < 1 || n > 8 {
					errLines(fmt.Sprintf("Invalid NIC number %d", n))
					continue // 7.0.14 carries on (and may exit 0)
				}
				nic := &w.NICs[n-1]
				kind := nicOpts61[base]
				if kind == "" {
					kind = nicOpts70[base]
				}
				if kind == "" {
					kind = nicOptsVMNet[base]
				}
				switch kind {
				case "nic":
					t := strings.ToLower(o.value)
					switch t {
					case "none", "null", "nat", "bridged", "hostif", "intnet", "hostonly", "natnetwork", "hostonlynet":
						if t == "hostif" {
							t = "bridged"
						}
						if t == "hostonlynet" {
							if !hostOnlyNetsAvailable() {
								errLines(fmt.Sprintf("Invalid type '%s' specfied for NIC %d", o.value, n))
								return 1
							}
							t = "hostonlynetwork"
						}
						if t == "natnetwork" && nic.NATNetwork == "" {
							nic.NATNetwork = "NatNetwork" // Main's default name
						}
						if nic.Type == "none" && t != "none" {
							if nic.MAC == "" {
								nic.MAC = newMAC()
							}
							nic.Cable = true
							if nic.NICType == "" {
								nic.NICType = "82540EM"
							}
						}
						nic.Type = t
					default:
						errLines(fmt.Sprintf("Invalid type '%s' specfied for NIC %d", o.value, n))
						return 1
					}
				case "bridge":
					if o.value == "none" {
						nic.BridgeAdapter = ""
						break
					}
					nic.BridgeAdapter = o.value
					if !hostIfExists(st, o.value) {
						warnLine(fmt.Sprintf("Interface \"%s\" doesn't seem to exist", o.value))
					}
				case "mac":
					if strings.EqualFold(o.value, "auto") {
						nic.MAC = newMAC()
						break
					}
					m, ok := validMAC(o.value)
					if !ok {
						apiErr{msg: "Invalid MAC address format", code: "NS_ERROR_INVALID_ARG", component: "NetworkAdapterWrap", iface: "INetworkAdapter",
							context: "nic->COMSETTER(MACAddress)(Bstr(ValueUnion.psz).raw())", line: 1834, file: "VBoxManageModifyVM.cpp"}.print()
						return 1
					}
					nic.MAC = m
				case "cable":
					nic.Cable = o.value == "on"
				case "nictype":
					nic.NICType = o.value
				case "hostonly":
					if o.value == "none" {
						nic.HostOnly = ""
						break
					}
					nic.HostOnly = o.value
					if !isV61() && st.hostOnlyIf(o.value) == nil {
						warnLine(fmt.Sprintf("Interface \"%s\" doesn't seem to exist", o.value))
					}
				case "natnetwork":
					nic.NATNetwork = o.value // no validation; "none" is a literal name (§2)
				case "hostonlynet":
					if o.value == "none" {
						nic.HostOnlyNet = ""
						break
					}
					nic.HostOnlyNet = o.value
				case "intnet":
					nic.IntNet = o.value
				}
			}
		}
		*vm = w
		return 0
	})
}

func hostIfExists(st *Store, name string) bool {
	for _, h := range st.Config.BridgedIfs {
		if h.Name == name {
			return true
		}
	}
	return false
}

// validMAC: 12 hex digits, no separators, second digit even (unicast).
func validMAC(s string) (string, bool) {
	if len(s) != 12 {
		return "", false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return "", false
		}
	}
	d, _ := strconv.ParseUint(s[1:2], 16, 8)
	if d%2 != 0 {
		return "", false
	}
	return strings.ToUpper(s), true
}

func cmdStartVM(a []string) int {
	opts, ops, bad := getopt(a, fixedSpec(map[string]bool{"--type": true, "-type": true, "--putenv": true, "-E": true, "--password": true, "--password-id": true}))
	if bad != "" {
		return syntaxError("startvm", fmt.Sprintf("Unknown option: %s", bad), 2)
	}
	if len(ops) == 0 {
		return syntaxError("startvm", "VM name or UUID required", 2)
	}
	typ := ""
	for _, o := range opts {
		if o.name == "--type" || o.name == "-type" {
			typ = strings.ToLower(o.value)
		}
	}
	code := 0
	for _, op := range ops {
		c := update(func(st *Store, now time.Time) int {
			vm := st.find(op)
			if vm == nil {
				return notFound(op, "FindMachine(Bstr(VMName).raw(), machine.asOutParam())", 846, "VBoxManageMisc.cpp")
			}
			if vm.sessionLocked(now) {
				return lockError("startvm", vm)
			}
			outf("Waiting for VM \"%s\" to power on...\n", op)
			if typ != "headless" && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
				// A GUI frontend on a host without a display dies at once.
				apiErr{msg: fmt.Sprintf("The virtual machine '%s' has terminated unexpectedly during startup with exit code 1 (0x1)", vm.Name),
					code: "NS_ERROR_FAILURE", component: "MachineWrap", iface: "IMachine", noCallee: true}.print()
				vm.setState("aborted", now)
				return 1
			}
			if isV71() && st.Config.HostArch == "ARMv8" && vm.Arch != "ARM" && st.GlobalExtra["VBoxInternal2/EnableX86OnArm"] != "1" {
				// An x86 VM on Apple silicon: the VM process refuses it (§6).
				apiErr{msg: "The VM session was aborted", code: "NS_ERROR_FAILURE", component: "SessionMachine", iface: "ISession", noCallee: true}.print()
				vm.setState("aborted", now)
				return 1
			}
			for _, nic := range vm.NICs {
				if nic.Type == "bridged" && !hostIfExists(st, nic.BridgeAdapter) {
					apiErr{msg: fmt.Sprintf("Nonexistent host networking interface, name '%s' (VERR_INTERNAL_ERROR)", nic.BridgeAdapter),
						code: "NS_ERROR_FAILURE", component: "ConsoleWrap", iface: "IConsole", noCallee: true}.print()
					return 1
				}
				if nic.Type == "hostonly" && st.hostOnlyIf(nic.HostOnly) == nil {
					apiErr{msg: fmt.Sprintf("Nonexistent host networking interface, name '%s' (VERR_INTERNAL_ERROR)", nic.HostOnly),
						code: "NS_ERROR_FAILURE", component: "ConsoleWrap", iface: "IConsole", noCallee: true}.print()
					return 1
				}
			}
			vm.setState("running", now)
			vm.StartedAt = now
			vm.GAUp = false
			vm.SessionName = map[string]string{"headless": "headless", "sdl": "GUI/SDL"}[typ]
			if vm.SessionName == "" {
				vm.SessionName = "GUI/Qt"
			}
			for k, v := range map[string]string{
				"/VirtualBox/HostInfo/VBoxVer": versionNumber(), "/VirtualBox/HostInfo/VBoxVerExt": versionString(),
				"/VirtualBox/HostInfo/VBoxRev": revision(),
			} {
				vm.GuestProps[k] = Prop{Value: v, Timestamp: now.UnixNano(), Flags: "TRANSIENT, RDONLYGUEST"}
			}
			outf("VM \"%s\" has been successfully started.\n", op)
			return 0
		})
		if c != 0 {
			code = c
		}
	}
	return code
}

// powerOff ends the VM process; the session stays "unlocking" for the
// configured window.
func powerOff(vm *VM, now time.Time, state string) {
	vm.setState(state, now)
	vm.SessionName = ""
	vm.GAUp = false
	vm.StartedAt = time.Time{}
	vm.dropTransient()
	vm.UnlockUntil = now.Add(cfg.unlockWindow())
}

func cmdControlVM(a []string) int {
	if len(a) < 2 {
		return syntaxError("controlvm", "Not enough parameters", 2)
	}
	return update(func(st *Store, now time.Time) int {
		vm := st.find(a[0])
		if vm == nil {
			return notFound(a[0], "FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())", 365, "VBoxManageControlVM.cpp")
		}
		if !vm.isRunning() {
			errLines(fmt.Sprintf("Machine '%s' is not currently running.", a[0]))
			return 1
		}
		switch a[1] {
		case "poweroff":
			progress()
			powerOff(vm, now, "poweroff")
		case "savestate":
			progress()
			powerOff(vm, now, "saved")
		case "acpipowerbutton":
			if vm.State == "paused" {
				apiErr{msg: "Invalid machine state: Paused", code: "VBOX_E_INVALID_VM_STATE", component: "ConsoleWrap", iface: "IConsole",
					context: "PowerButton()", line: 660, file: "VBoxManageControlVM.cpp"}.print()
				return 1
			}
			// A booted guest shuts down; one still booting ignores the button.
			if vm.GAUp {
				powerOff(vm, now, "poweroff")
			}
		case "pause":
			vm.setState("paused", now)
		case "resume":
			vm.setState("running", now)
		default:
			return syntaxError("controlvm", fmt.Sprintf("Invalid parameter '%s'.", a[1]), 1)
		}
		return 0
	})
}

func cmdUnregisterVM(a []string) int {
	opts, ops, bad := getopt(a, fixedSpec(map[string]bool{"--delete": false, "-delete": false, "--delete-all": false}))
	if bad != "" {
		return syntaxError("unregistervm", fmt.Sprintf("Unknown option: %s", bad), 2)
	}
	if len(ops) != 1 {
		return syntaxError("unregistervm", "VM name required", 2)
	}
	del := len(opts) > 0
	return update(func(st *Store, now time.Time) int {
		vm := st.find(ops[0])
		if vm == nil {
			return notFound(ops[0], "FindMachine(Bstr(VMName).raw(), machine.asOutParam())", 229, "VBoxManageMisc.cpp")
		}
		if vm.sessionLocked(now) {
			return lockError("unregistervm", vm)
		}
		if del {
			if c := linkedClonesOf(st, vm, nil); c != "" {
				// Real VirtualBox refuses (the template's disks are parents of
				// the clones' disks) but its exact text is unconfirmed.
				progressFail(10, "VBOX_E_OBJECT_IN_USE")
				errLines(fmt.Sprintf("fakevbox: cannot delete the disks of '%s': linked clone '%s' still uses them (real VirtualBox's text for this is unconfirmed)", vm.Name, c))
				return 1
			}
		}
		st.remove(vm)
		if del {
			progress()
			for _, p := range []string{vm.CfgFile, vm.CfgFile + "-prev", vm.Disk, filepath.Join(vm.dir(), sanitize(vm.Name)+".nvram")} {
				os.Remove(p)
			}
			os.RemoveAll(filepath.Join(vm.dir(), "Snapshots"))
			os.RemoveAll(filepath.Join(vm.dir(), "Logs"))
			os.Remove(vm.dir()) // only if empty, like VirtualBox
			os.RemoveAll(guestRoot(vm.UUID))
		}
		return 0
	})
}

// linkedClonesOf names a registered linked clone based on vm (and on snap
// when given), or "".
func linkedClonesOf(st *Store, vm *VM, snap *Snapshot) string {
	for _, v := range st.VMs {
		if v.Linked != nil && v.Linked.VM == vm.UUID && (snap == nil || v.Linked.Snapshot == snap.UUID) {
			return v.Name
		}
	}
	return ""
}

func cmdSetExtraData(a []string) int {
	if len(a) < 2 {
		return syntaxError("setextradata", "Not enough parameters", 2)
	}
	if len(a) > 3 {
		return syntaxError("setextradata", "Too many parameters", 2)
	}
	return update(func(st *Store, now time.Time) int {
		var m map[string]string
		if a[0] == "global" {
			if st.GlobalExtra == nil {
				st.GlobalExtra = map[string]string{}
			}
			m = st.GlobalExtra
		} else {
			vm := st.find(a[0])
			if vm == nil {
				return notFound(a[0], "", 1144, "VBoxManageMisc.cpp")
			}
			m = vm.ExtraData
		}
		if len(a) == 2 || a[2] == "" {
			delete(m, a[1])
		} else {
			m[a[1]] = a[2]
		}
		return 0
	})
}

func cmdGetExtraData(a []string) int {
	if len(a) < 1 || len(a) > 2 {
		return syntaxError("getextradata", "Incorrect number of parameters", 2)
	}
	return update(func(st *Store, now time.Time) int {
		var m map[string]string
		if a[0] == "global" {
			m = st.GlobalExtra
		} else {
			vm := st.find(a[0])
			if vm == nil {
				return notFound(a[0], "", 1070, "VBoxManageMisc.cpp")
			}
			m = vm.ExtraData
		}
		if len(a) == 1 || a[1] == "enumerate" {
			for _, k := range sortedKeys(m) {
				outf("Key: %s, Value: %s\n", k, m[k])
			}
			return 0
		}
		if v := m[a[1]]; v != "" {
			outf("Value: %s\n", v)
		} else {
			outf("No value set!\n")
		}
		return 0
	})
}
