package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

var apiStateNames = map[string]string{
	"poweroff": "PoweredOff", "saved": "Saved", "aborted": "Aborted", "running": "Running", "paused": "Paused",
}

func snapNotFound(op string) int {
	msg := fmt.Sprintf("Could not find a snapshot named '%s'", op)
	if isUUID(op) {
		msg = fmt.Sprintf("Could not find a snapshot with UUID {%s}", strings.ToLower(strings.Trim(op, "{}")))
	}
	apiErr{msg: msg, code: "VBOX_E_OBJECT_NOT_FOUND", component: "SessionMachine", iface: "IMachine",
		context: "FindSnapshot(Bstr(a->argv[2]).raw(), pSnapshot.asOutParam())", line: 537, file: "VBoxManageSnapshot.cpp"}.print()
	return 1
}

func cmdSnapshot(a []string) int {
	if len(a) < 2 {
		return syntaxError("snapshot", "Not enough parameters", 2)
	}
	verb := a[1]
	return update(func(st *Store, now time.Time) int {
		vm := st.find(a[0])
		if vm == nil {
			return notFound(a[0], "FindMachine(Bstr(a->argv[0]).raw(), pMachine.asOutParam())", 418, "VBoxManageSnapshot.cpp")
		}
		switch verb {
		case "take":
			return snapTake(vm, a[2:], now)
		case "list":
			return snapList(vm, a[2:])
		case "restore", "delete", "showvminfo":
			if len(a) < 3 {
				return syntaxError("snapshot", "Missing snapshot name", 1)
			}
			if len(a) > 3 {
				return syntaxError("snapshot", "Expecting snapshot name only", 1)
			}
			s := vm.findSnapshot(a[2])
			if s == nil {
				return snapNotFound(a[2])
			}
			switch verb {
			case "restore":
				return snapRestore(vm, s, now)
			case "delete":
				return snapDelete(st, vm, s)
			}
			// The reference does not give `snapshot showvminfo` output (the
			// snapshot machine's human showvminfo); minimal: its identity.
			outf("Name:            %s\nUUID:            %s\n", s.Name, s.UUID)
			return 0
		case "restorecurrent":
			s := vm.findSnapshot(vm.Current)
			if s == nil {
				outf("This machine does not have any snapshots\n")
				return 1
			}
			return snapRestore(vm, s, now)
		}
		return syntaxError("snapshot", fmt.Sprintf("Invalid parameter '%s'", verb), 1)
	})
}

func snapTake(vm *VM, a []string, now time.Time) int {
	if len(a) < 1 || strings.HasPrefix(a[0], "-") {
		return syntaxError("snapshot", "Missing snapshot name", 1)
	}
	name := a[0]
	opts, ops, bad := getopt(a[1:], fixedSpec(map[string]bool{
		"--description": true, "-description": true, "-desc": true, "--live": false, "--pause": false, "--uniquename": true,
	}))
	if bad != "" {
		return syntaxError("snapshot", fmt.Sprintf("Invalid parameter '%s'", bad), 1)
	}
	if len(ops) > 0 {
		return syntaxError("snapshot", "Too many arguments", 1)
	}
	desc, live := "", false
	for _, o := range opts {
		switch o.name {
		case "--description", "-description", "-desc":
			desc = o.value
		case "--live":
			live = true
		}
	}
	if live && vm.State != "running" {
		apiErr{msg: "Cannot take a live snapshot of a virtual machine unless it is running.", code: "VBOX_E_INVALID_VM_STATE",
			component: "SessionMachine", iface: "IMachine",
			context: "TakeSnapshot(name.raw(), desc.raw(), fPause, snapId.asOutParam(), progress.asOutParam())", line: 487, file: "VBoxManageSnapshot.cpp"}.print()
		return 1
	}
	s := &Snapshot{Name: name, UUID: newUUID(), Description: desc, Taken: now, Online: vm.isRunning(), Hardware: copyHardware(vm.Hardware)}
	s.Hardware.GuestProps = map[string]Prop{}
	for k, p := range vm.GuestProps {
		if !strings.Contains(p.Flags, "TRANSIENT") {
			s.Hardware.GuestProps[k] = p
		}
	}
	if err := copyGuest(guestRoot(vm.UUID), snapGuestDir(vm, s)); err != nil {
		progressFail(10, "VBOX_E_FILE_ERROR")
		errLines("Failed to take snapshot\n" + err.Error())
		return 1
	}
	if parent := vm.findSnapshot(vm.Current); parent != nil {
		parent.Children = append(parent.Children, s)
	} else {
		vm.Snapshots = append(vm.Snapshots, s)
	}
	vm.Current = s.UUID
	progress()
	outf("Snapshot taken. UUID: %s\n", s.UUID)
	return 0
}

func snapList(vm *VM, a []string) int {
	mr := false
	for _, x := range a {
		switch x {
		case "--machinereadable":
			mr = true
		case "--details":
		default:
			return syntaxError("snapshot", fmt.Sprintf("Invalid parameter '%s'", x), 1)
		}
	}
	if len(vm.Snapshots) == 0 {
		outf("This machine does not have any snapshots\n")
		return 1
	}
	if mr {
		printSnapshotsMR(vm)
		return 0
	}
	walkSnapshots(vm.Snapshots, func(s *Snapshot, _ string, depth int) {
		ind := strings.Repeat("   ", depth+1)
		outf("%sName: %s (UUID: %s)%s\n", ind, s.Name, s.UUID, yesNo(s.UUID == vm.Current, " *", ""))
		if s.Description != "" {
			outf("%sDescription: %s\n", ind, s.Description)
		}
	})
	return 0
}

func snapRestore(vm *VM, s *Snapshot, now time.Time) int {
	outf("Restoring snapshot '%s' (%s)\n", s.Name, s.UUID)
	if vm.isRunning() {
		state := apiStateNames[vm.State]
		if state == "" {
			state = vm.State
		}
		apiErr{msg: fmt.Sprintf("Cannot delete the current state of the running machine (machine state: %s)", state),
			code: "VBOX_E_INVALID_VM_STATE", component: "SessionMachine", iface: "IMachine",
			context: "RestoreSnapshot(pSnapshot, pProgress.asOutParam())", line: 560, file: "VBoxManageSnapshot.cpp"}.print()
		return 1
	}
	progress()
	vm.Hardware = copyHardware(s.Hardware)
	vm.Current = s.UUID
	vm.setState(yesNo(s.Online, "saved", "poweroff"), now)
	if err := copyGuest(snapGuestDir(vm, s), guestRoot(vm.UUID)); err != nil {
		fmt.Fprintln(os.Stderr, "fakevbox: restoring the guest:", err)
		return 1
	}
	return 0
}

func snapDelete(st *Store, vm *VM, s *Snapshot) int {
	outf("Deleting snapshot '%s' (%s)\n", s.Name, s.UUID)
	if len(s.Children) > 1 {
		apiErr{msg: fmt.Sprintf("Snapshot '%s' of the machine '%s' cannot be deleted, because it has %d child snapshots, which is more than the one snapshot allowed for deletion", s.Name, vm.Name, len(s.Children)),
			code: "VBOX_E_INVALID_OBJECT_STATE", component: "SessionMachine", iface: "IMachine",
			context: "DeleteSnapshot(Bstr(pSnapshot->getId()).raw(), pProgress.asOutParam())", line: 598, file: "VBoxManageSnapshot.cpp"}.print()
		return 1
	}
	if c := linkedClonesOf(st, vm, s); c != "" {
		// Real VirtualBox refuses; its exact text is unconfirmed.
		progressFail(10, "VBOX_E_OBJECT_IN_USE")
		errLines(fmt.Sprintf("fakevbox: snapshot '%s' cannot be deleted: linked clone '%s' is based on it (real VirtualBox's text for this is unconfirmed)", s.Name, c))
		return 1
	}
	parent, siblings := vm.snapshotParent(s)
	var out []*Snapshot
	for _, x := range *siblings {
		if x == s {
			out = append(out, s.Children...)
		} else {
			out = append(out, x)
		}
	}
	*siblings = out
	if vm.Current == s.UUID {
		// SnapshotImpl: the deleted current snapshot's parent becomes current.
		vm.Current = ""
		if parent != nil {
			vm.Current = parent.UUID
		}
	}
	progress()
	os.RemoveAll(snapGuestDir(vm, s))
	return 0
}
