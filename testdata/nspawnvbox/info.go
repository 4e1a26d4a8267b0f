package main

import (
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// quote renders a machine-readable string value (only " and \ are escaped).
func quote(v string) string {
	if strings.ContainsAny(v, `"\`) {
		v = strings.ReplaceAll(v, `\`, `\\`)
		v = strings.ReplaceAll(v, `"`, `\"`)
	}
	return `"` + v + `"`
}

// vboxTime is VMStateChangeTime's format: nanoseconds, no trailing Z.
func vboxTime(t time.Time) string {
	t = t.UTC().Truncate(time.Millisecond)
	return t.Format("2006-01-02T15:04:05.000000000")
}

// cmdList: list vms|runningvms|bridgedifs|hostifs|hostonlyifs
func cmdList(s *store, args []string) error {
	p, err := getopt{flags: set("--long", "-l", "--sorted", "-s")}.parse(args)
	if err != nil {
		return syntaxError("%v", err)
	}
	if len(p.operands) != 1 {
		return syntaxError("Missing subcommand for \"list\" command.")
	}
	_, sorted := p.get("--sorted")
	if _, ok := p.get("-s"); ok {
		sorted = true
	}
	switch p.operands[0] {
	case "vms", "runningvms":
		vms := s.all()
		if sorted {
			sort.SliceStable(vms, func(i, j int) bool { return strings.ToLower(vms[i].Name) < strings.ToLower(vms[j].Name) })
		}
		for _, vm := range vms {
			if p.operands[0] == "runningvms" {
				if st := s.vmState(vm); st != "running" && st != "paused" {
					continue
				}
			}
			fmt.Printf("\"%s\" {%s}\n", vm.Name, vm.UUID)
		}
	case "bridgedifs", "hostifs":
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		for _, ifc := range ifs {
			// Loopback and this backend's own veths are not host adapters.
			if ifc.Flags&net.FlagLoopback != 0 || strings.HasPrefix(ifc.Name, "nvb") || strings.HasPrefix(ifc.Name, "nvn") {
				continue
			}
			printHostIf(ifc)
		}
	case "natnets", "natnetworks":
		_, long := p.get("--long")
		if _, l := p.get("-l"); l {
			long = true
		}
		return listNATNets(s, long)
	case "hostonlyifs", "intnets":
		// None on this host.
	case "systemproperties":
		// A 7.0 x86 host: no "Supported platform architectures:" line (the
		// rest of the list is not read by labctl).
	default:
		return syntaxError("Unknown subcommand \"%s\" for \"list\" command.", p.operands[0])
	}
	return nil
}

func printHostIf(ifc net.Interface) {
	ip, mask, ip6, plen := "", "", "", 0
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if v4 := ipn.IP.To4(); v4 != nil {
			if ip == "" {
				ip, mask = v4.String(), net.IP(ipn.Mask).String()
			}
		} else if ip6 == "" {
			ip6 = ipn.IP.String()
			plen, _ = ipn.Mask.Size()
		}
	}
	hw := strings.ToLower(ifc.HardwareAddr.String())
	// VirtualBox's Linux GUID: the name's first 4 bytes, then the MAC.
	nb := []byte(ifc.Name + "\x00\x00\x00\x00")
	guid := fmt.Sprintf("%02x%02x%02x%02x-0000-4000-8000-%s", nb[3], nb[2], nb[1], nb[0], strings.ReplaceAll(hw, ":", ""))
	status := "Down"
	if ifc.Flags&net.FlagUp != 0 {
		status = "Up"
	}
	fmt.Printf("Name:            %s\n", ifc.Name)
	fmt.Printf("GUID:            %s\n", guid)
	fmt.Printf("DHCP:            Disabled\n")
	fmt.Printf("IPAddress:       %s\n", ip)
	fmt.Printf("NetworkMask:     %s\n", mask)
	fmt.Printf("IPV6Address:     %s\n", ip6)
	fmt.Printf("IPV6NetworkMaskPrefixLength: %d\n", plen)
	fmt.Printf("HardwareAddress: %s\n", hw)
	fmt.Printf("MediumType:      Ethernet\n")
	fmt.Printf("Wireless:        No\n")
	fmt.Printf("Status:          %s\n", status)
	fmt.Printf("VBoxNetworkName: HostInterfaceNetworking-%s\n\n", ifc.Name)
}

// cmdShowVMInfo: showvminfo VM [--machinereadable]
func cmdShowVMInfo(s *store, args []string) error {
	p, err := getopt{flags: set("--machinereadable", "--details")}.parse(args)
	if err != nil {
		return syntaxError("%v", err)
	}
	if len(p.operands) != 1 {
		return syntaxError("VM name or UUID required")
	}
	vm, err := s.mustFind(p.operands[0], `"FindMachine(Bstr(VMNameOrUuid).raw(), machine.asOutParam())" at line 3138 of file VBoxManageInfo.cpp`)
	if err != nil {
		return err
	}
	_, mr := p.get("--machinereadable")
	st := s.vmState(vm)
	rt, _ := s.runtime(vm)
	dir := s.vmDir(vm.UUID)
	var b strings.Builder
	kvq := func(k, v string) {
		if mr {
			fmt.Fprintf(&b, "%s=%s\n", k, quote(v))
		} else {
			fmt.Fprintf(&b, "%-24s %s\n", k+":", v)
		}
	}
	kvn := func(k string, v int) {
		if mr {
			fmt.Fprintf(&b, "%s=%d\n", k, v)
		} else {
			fmt.Fprintf(&b, "%-24s %d\n", k+":", v)
		}
	}
	kvq("name", vm.Name)
	b.WriteString("Encryption:     disabled\n")
	kvq("groups", strings.Join(vm.Groups, ","))
	kvq("ostype", vm.OSType)
	kvq("UUID", vm.UUID)
	kvq("CfgFile", s.cfgFile(vm))
	kvq("SnapFldr", filepath.Join(dir, "snap"))
	kvq("LogFldr", dir)
	kvq("hardwareuuid", vm.UUID)
	kvn("memory", vm.MemoryMB)
	kvq("pagefusion", "off")
	kvn("vram", 16)
	kvn("cpuexecutioncap", 100)
	kvq("chipset", "piix3")
	kvq("firmware", "BIOS")
	kvn("cpus", vm.CPUs)
	kvq("VMState", st)
	kvq("VMStateChangeTime", vboxTime(vm.StateChange))
	// The root filesystem stands for the VM's one disk, attached as VirtualBox shows a disk.
	kvq("storagecontrollername0", "SATA")
	kvq("storagecontrollertype0", "IntelAhci")
	if mr {
		fmt.Fprintf(&b, "\"SATA-0-0\"=%s\n", quote(filepath.Join(dir, "root")))
		fmt.Fprintf(&b, "\"SATA-ImageUUID-0-0\"=\"%s\"\n", diskUUID(vm))
	}
	switch vm.NIC.Type {
	case "", "none":
		kvq("nic1", "none")
	default:
		if vm.NIC.Type == "bridged" {
			fmt.Fprintf(&b, "bridgeadapter1=\"%s\"\n", vm.NIC.Bridge)
		} else if vm.NIC.Type == "nat" {
			kvq("natnet1", "nat")
		} else if vm.NIC.Type == "natnetwork" {
			fmt.Fprintf(&b, "nat-network1=\"%s\"\n", vm.NIC.NATNet)
		}
		fmt.Fprintf(&b, "macaddress1=\"%s\"\n", vm.NIC.MAC)
		kvq("cableconnected1", onOff(vm.NIC.Cable))
		kvq("nic1", vm.NIC.Type)
		kvq("nictype1", vm.NIC.NICType)
		kvq("nicspeed1", "0")
	}
	for i := 2; i <= 8; i++ {
		kvq(fmt.Sprintf("nic%d", i), "none")
	}
	if st == "running" || st == "paused" || st == "starting" || st == "stopping" {
		kvq("SessionName", "headless")
	}
	if vm.Description != "" {
		kvq("description", vm.Description)
	}
	printSnapshots(&b, vm, "")
	kvn("GuestMemoryBalloon", 0)
	if st == "running" || st == "paused" {
		lvl := runLevel(rt)
		kvn("GuestAdditionsRunLevel", lvl)
		if lvl >= 1 {
			kvq("GuestOSType", "Debian_64")
			kvq("GuestAdditionsVersion", "7.0.14 r161095")
		}
	}
	fmt.Print(b.String())
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// printSnapshots writes the §3.5 snapshot keys, depth-first from the root.
func printSnapshots(b *strings.Builder, vm *VM, prefix string) {
	children := func(parent string) []*Snap {
		var out []*Snap
		for _, sn := range vm.Snapshots {
			if sn.Parent == parent {
				out = append(out, sn)
			}
		}
		return out
	}
	var walk func(sn *Snap, sfx string)
	walk = func(sn *Snap, sfx string) {
		fmt.Fprintf(b, "%sSnapshotName%s=\"%s\"\n", prefix, sfx, sn.Name)
		fmt.Fprintf(b, "%sSnapshotUUID%s=\"%s\"\n", prefix, sfx, sn.UUID)
		if sn.Description != "" {
			fmt.Fprintf(b, "%sSnapshotDescription%s=\"%s\"\n", prefix, sfx, sn.Description)
		}
		if sn.UUID == vm.Current {
			fmt.Fprintf(b, "%sCurrentSnapshotName=\"%s\"\n", prefix, sn.Name)
			fmt.Fprintf(b, "%sCurrentSnapshotUUID=\"%s\"\n", prefix, sn.UUID)
			fmt.Fprintf(b, "%sCurrentSnapshotNode=\"SnapshotName%s\"\n", prefix, sfx)
		}
		for i, c := range children(sn.UUID) {
			walk(c, fmt.Sprintf("%s-%d", sfx, i+1))
		}
	}
	// VirtualBox has one root; extra roots (none here) are printed as siblings.
	for i, r := range children("") {
		sfx := ""
		if i > 0 {
			sfx = fmt.Sprintf("-%d", i+1)
		}
		walk(r, sfx)
	}
}

// cmdSetExtraData: setextradata VM|global KEY [VALUE]
func cmdSetExtraData(s *store, args []string) error {
	if len(args) < 2 {
		return syntaxError("Not enough parameters")
	}
	if len(args) > 3 {
		return syntaxError("Too many parameters")
	}
	if args[0] == "global" {
		return nil
	}
	s.lock()
	defer s.unlock()
	vm, err := s.mustFind(args[0], `"FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())" at line 571 of file VBoxManageMisc.cpp`)
	if err != nil {
		return err
	}
	if len(args) == 2 || args[2] == "" {
		delete(vm.ExtraData, args[1])
	} else {
		vm.ExtraData[args[1]] = args[2]
	}
	return s.save(vm)
}

// cmdGetExtraData: getextradata VM|global KEY|enumerate
func cmdGetExtraData(s *store, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return syntaxError("Incorrect number of parameters")
	}
	if args[0] == "global" {
		if len(args) == 2 && args[1] != "enumerate" {
			fmt.Println("No value set!")
		}
		return nil
	}
	vm, err := s.mustFind(args[0], `"FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())" at line 525 of file VBoxManageMisc.cpp`)
	if err != nil {
		return err
	}
	if len(args) == 1 || args[1] == "enumerate" {
		keys := make([]string, 0, len(vm.ExtraData))
		for k := range vm.ExtraData {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Printf("Key: %s, Value: %s\n", k, vm.ExtraData[k])
		}
		return nil
	}
	if v, ok := vm.ExtraData[args[1]]; ok && v != "" {
		fmt.Printf("Value: %s\n", v)
	} else {
		fmt.Println("No value set!")
	}
	return nil
}

// liveProps are the Guest Additions' properties, read from the running machine.
func liveProps(s *store, vm *VM) map[string]Prop {
	props := map[string]Prop{}
	for k, v := range vm.GuestProps {
		props[k] = v
	}
	rt, alive := s.runtime(vm)
	if !alive || rt == nil || rt.InitPID == 0 {
		return props
	}
	now := time.Now().UnixNano()
	started := rt.Started.UnixNano()
	props["/VirtualBox/HostInfo/VBoxVer"] = Prop{"7.0.14", started, "TRANSIENT, RDONLYGUEST"}
	props["/VirtualBox/HostInfo/VBoxVerExt"] = Prop{"7.0.14", started, "TRANSIENT, RDONLYGUEST"}
	props["/VirtualBox/HostInfo/VBoxRev"] = Prop{"161095", started, "TRANSIENT, RDONLYGUEST"}
	if runLevel(rt) < 2 {
		return props
	}
	props["/VirtualBox/GuestAdd/Version"] = Prop{"7.0.14", started, ""}
	props["/VirtualBox/GuestAdd/VersionExt"] = Prop{"7.0.14", started, ""}
	props["/VirtualBox/GuestAdd/Revision"] = Prop{"161095", started, ""}
	props["/VirtualBox/GuestInfo/OS/Product"] = Prop{"Linux", started, ""}
	if gi, ok := guestNet(rt); ok {
		props["/VirtualBox/GuestInfo/Net/Count"] = Prop{"1", now, ""}
		props["/VirtualBox/GuestInfo/Net/0/V4/IP"] = Prop{gi.IP, now, ""}
		props["/VirtualBox/GuestInfo/Net/0/V4/Netmask"] = Prop{gi.Mask, now, ""}
		props["/VirtualBox/GuestInfo/Net/0/V4/Broadcast"] = Prop{gi.Broadcast, now, ""}
		props["/VirtualBox/GuestInfo/Net/0/MAC"] = Prop{gi.MAC, now, ""}
		props["/VirtualBox/GuestInfo/Net/0/Status"] = Prop{gi.Status, now, ""}
		props["/VirtualBox/GuestInfo/Net/0/Name"] = Prop{"host0", now, ""}
	} else {
		props["/VirtualBox/GuestInfo/Net/Count"] = Prop{"0", now, ""}
	}
	return props
}

// cmdGuestProperty: guestproperty get|set|unset|delete|enumerate|wait
func cmdGuestProperty(s *store, args []string) error {
	if len(args) < 2 {
		return syntaxError("Incorrect parameters")
	}
	verb, ref := args[0], args[1]
	rest := args[2:]
	ctx := `"FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())" at line 93 of file VBoxManageGuestProp.cpp`
	switch verb {
	case "get":
		verbose := false
		if len(rest) == 2 && (rest[1] == "--verbose" || rest[1] == "-verbose") {
			verbose, rest = true, rest[:1]
		}
		if len(rest) != 1 {
			return syntaxError("Incorrect parameters")
		}
		vm, err := s.mustFind(ref, ctx)
		if err != nil {
			return err
		}
		p, ok := liveProps(s, vm)[rest[0]]
		if !ok || p.Value == "" {
			fmt.Println("No value set!")
			return nil
		}
		fmt.Printf("Value: %s\n", p.Value)
		if verbose {
			fmt.Printf("Timestamp: %d\nFlags: %s\n", p.TS, p.Flags)
		}
		return nil
	case "set", "unset", "delete":
		if len(rest) < 1 {
			return syntaxError("Incorrect parameters")
		}
		s.lock()
		defer s.unlock()
		vm, err := s.mustFind(ref, ctx)
		if err != nil {
			return err
		}
		if verb == "set" && len(rest) >= 2 {
			flags := ""
			if len(rest) == 4 && rest[2] == "--flags" {
				flags = rest[3]
			}
			vm.GuestProps[rest[0]] = Prop{rest[1], time.Now().UnixNano(), flags}
		} else {
			delete(vm.GuestProps, rest[0])
		}
		return s.save(vm)
	case "enumerate":
		vm, err := s.mustFind(ref, ctx)
		if err != nil {
			return err
		}
		var pats []string
		noTS, noFlags := false, false
		for i := 0; i < len(rest); i++ {
			switch rest[i] {
			case "--no-timestamp":
				noTS = true
			case "--no-flags":
				noFlags = true
			case "--patterns":
				if i+1 < len(rest) {
					i++
					pats = append(pats, strings.Split(rest[i], "|")...)
				}
			default:
				pats = append(pats, strings.Split(rest[i], "|")...)
			}
		}
		props := liveProps(s, vm)
		var names []string
		w, vw := 0, 0
		for k, p := range props {
			if !matchAny(pats, k) {
				continue
			}
			names = append(names, k)
			w = max(w, min(len(k), 48))
			vw = max(vw, min(len(p.Value), 28))
		}
		if len(names) == 0 {
			fmt.Println("No properties found.")
			return nil
		}
		sort.Strings(names)
		for _, k := range names {
			p := props[k]
			line := fmt.Sprintf("%-*s = '%s'", w, k, p.Value)
			if !noTS || (!noFlags && p.Flags != "") {
				pad := w + vw + 6 - len(line)
				line += strings.Repeat(" ", max(pad, 1))
				if !noTS {
					line += "@ " + time.Unix(0, p.TS).UTC().Format("2006-01-02T15:04:05.000Z")
				}
				if !noFlags && p.Flags != "" {
					line += " " + p.Flags
				}
			}
			fmt.Println(strings.TrimRight(line, " "))
		}
		return nil
	case "wait":
		if len(rest) < 1 {
			return syntaxError("Incorrect parameters")
		}
		timeout := time.Duration(0)
		for i := 1; i < len(rest); i++ {
			if rest[i] == "--timeout" && i+1 < len(rest) {
				var ms int
				fmt.Sscanf(rest[i+1], "%d", &ms)
				timeout = time.Duration(ms) * time.Millisecond
				i++
			}
		}
		vm, err := s.mustFind(ref, ctx)
		if err != nil {
			return err
		}
		before := liveProps(s, vm)
		start := time.Now()
		for timeout == 0 || time.Since(start) < timeout {
			time.Sleep(500 * time.Millisecond)
			now := liveProps(s, vm)
			for k, p := range now {
				if matchAny([]string{rest[0]}, k) && before[k].Value != p.Value {
					fmt.Printf("Name: %s, value: %s, flags: %s\n", k, p.Value, p.Flags)
					return nil
				}
			}
		}
		errorf("Time out or interruption while waiting for a notification.")
		for _, a := range rest {
			if a == "--fail-on-timeout" {
				return exitErr{2}
			}
		}
		return nil
	}
	return syntaxError("Incorrect parameters")
}

func matchAny(pats []string, name string) bool {
	if len(pats) == 0 {
		return true
	}
	for _, p := range pats {
		if ok, _ := path.Match(p, name); ok || strings.HasSuffix(p, "*") && strings.HasPrefix(name, strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
}

var _ = os.Stdout

// diskUUID is a stable UUID for the VM's disk, derived from its own.
func diskUUID(vm *VM) string {
	h := []byte(strings.ReplaceAll(vm.UUID, "-", ""))
	for i, j := 0, len(h)-1; i < j; i, j = i+1, j-1 {
		h[i], h[j] = h[j], h[i]
	}
	x := string(h)
	if len(x) != 32 {
		return vm.UUID
	}
	return x[0:8] + "-" + x[8:12] + "-4" + x[13:16] + "-8" + x[17:20] + "-" + x[20:32]
}
