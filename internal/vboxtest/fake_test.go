package vboxtest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const bar = "0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%\n"

func expect(t *testing.T, f *Fake, code int, args ...string) Result {
	t.Helper()
	r := f.Run(args...)
	if r.Code != code {
		t.Fatalf("VBoxManage %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, code, r.Stdout, r.Stderr)
	}
	return r
}

func equal(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", what, got, want)
	}
}

// lockedErr is §5's modifyvm text for a VM a session holds.
func lockedErr(name string) string {
	return "VBoxManage: error: The machine '" + name + "' is already locked for a session (or being unlocked)\n" +
		"VBoxManage: error: Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007), component MachineWrap, interface IMachine, callee nsISupports\n" +
		"VBoxManage: error: Context: \"LockMachine(a->session, LockType_Write)\" at line 640 of file VBoxManageModifyVM.cpp\n"
}

// prepareClone takes the base snapshot and makes one tagged linked clone.
func prepareClone(t *testing.T, f *Fake, name string) VM {
	t.Helper()
	if len(f.State().VM(BaseVM).Snapshots) == 0 {
		expect(t, f, 0, "snapshot", BaseVM, "take", "labctl-base")
	}
	expect(t, f, 0, "clonevm", BaseVM, "--snapshot", "labctl-base", "--options", "link", "--name", name, "--groups", "/labctl/test", "--register")
	expect(t, f, 0, "setextradata", name, "labctl/lab", "test")
	return *f.State().VM(name)
}

func TestVersionVariants(t *testing.T) {
	f := New(t)
	equal(t, "default --version", expect(t, f, 0, "--version").Stdout, "7.0.14r161095\n")
	f.SetVersion("6.1.38_Ubuntur153438")
	equal(t, "6.1 --version", expect(t, f, 0, "--version").Stdout, "6.1.38_Ubuntur153438\n")
	f.SetWrapperWarning(true)
	out := expect(t, f, 0, "--version").Stdout
	if !strings.HasPrefix(out, "WARNING: The vboxdrv kernel module is not loaded.") || !strings.HasSuffix(out, "\n6.1.38_Ubuntur153438\n") {
		t.Errorf("wrapper warning then version on stdout, got:\n%s", out)
	}
}

func TestListsAndNotFound(t *testing.T) {
	f := New(t)
	st := f.State()
	var want strings.Builder
	for _, v := range st.VMs {
		fmt.Fprintf(&want, "\"%s\" {%s}\n", v.Name, v.UUID)
	}
	equal(t, "list vms", expect(t, f, 0, "list", "vms").Stdout, want.String())
	if len(st.VMs) != 4 || st.VMs[0].Name != BaseVM {
		t.Errorf("seeded VMs = %v", st.Names())
	}
	equal(t, "list runningvms", expect(t, f, 0, "list", "runningvms").Stdout,
		fmt.Sprintf("\"win10-dev\" {%s}\n", st.VM("win10-dev").UUID))
	equal(t, "list bridgedifs", expect(t, f, 0, "list", "bridgedifs").Stdout, `Name:            eth0
GUID:            30687465-0000-4000-8000-00155dfb9a09
DHCP:            Disabled
IPAddress:       192.0.2.10
NetworkMask:     255.255.255.0
IPV6Address:     
IPV6NetworkMaskPrefixLength: 0
HardwareAddress: 00:15:5d:fb:9a:09
MediumType:      Ethernet
Wireless:        No
Status:          Up
VBoxNetworkName: HostInterfaceNetworking-eth0

`)
	r := expect(t, f, 1, "showvminfo", "nope", "--machinereadable")
	equal(t, "not-found stdout", r.Stdout, "")
	equal(t, "not-found stderr", r.Stderr, `VBoxManage: error: Could not find a registered machine named 'nope'
VBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component VirtualBoxWrap, interface IVirtualBox, callee nsISupports
VBoxManage: error: Context: "FindMachine(Bstr(VMNameOrUuid).raw(), machine.asOutParam())" at line 3138 of file VBoxManageInfo.cpp
`)
	r = expect(t, f, 1, "startvm", "{11111111-2222-4333-8444-555555555555}", "--type", "headless")
	if !strings.HasPrefix(r.Stderr, "VBoxManage: error: Could not find a registered machine with UUID {11111111-2222-4333-8444-555555555555}\n") {
		t.Errorf("UUID not found: %s", r.Stderr)
	}
	// Lookup by UUID (braces optional) and by settings file path.
	base := st.VM(BaseVM)
	for _, op := range []string{base.UUID, "{" + base.UUID + "}", base.CfgFile} {
		if out := expect(t, f, 0, "showvminfo", op, "--machinereadable").Stdout; !strings.HasPrefix(out, "name=\"AlmaLinux-8.4\"\nEncryption:     disabled\ngroups=\"/\"\n") {
			t.Errorf("showvminfo %s starts:\n%.80s", op, out)
		}
	}
	r = expect(t, f, 2, "frobnicate")
	equal(t, "invalid command", r.Stderr, "VBoxManage: error: Invalid command 'frobnicate'\n")
}

func TestShowVMInfoFormat(t *testing.T) {
	f := New(t, WithGuestAdditionsDelay(0))
	out := expect(t, f, 0, "showvminfo", "win10-dev", "--machinereadable").Stdout
	for _, re := range []string{
		`(?m)^memory=4096$`, `(?m)^cpus=2$`, `(?m)^VMState="running"$`,
		`(?m)^VMStateChangeTime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}000000"$`,
		`(?m)^natnet1="nat"\nmacaddress1="080027[0-9A-F]{6}"\ncableconnected1="on"\nnic1="nat"\nnictype1="82540EM"\nnicspeed1="0"\nmtu="0"\n`,
		`(?m)^SessionName="GUI/Qt"$`, `(?m)^VideoMode="800,600,32"@0,0 1$`, `(?m)^VRDEClients==0$`, `(?m)^ rec_screen0$`,
		`(?m)^GuestMemoryBalloon=0\nGuestOSType="Windows10_64"\nGuestAdditionsRunLevel=2\nGuestAdditionsVersion="7.0.14 r161095"\n`,
		`(?m)^BIOS NVRAM File=".*\.nvram"$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("showvminfo win10-dev lacks %s", re)
		}
	}
	out = expect(t, f, 0, "showvminfo", "ubuntu-22.04", "--machinereadable").Stdout
	snap := f.State().VM("ubuntu-22.04").Snapshots[0]
	want := fmt.Sprintf("SnapshotName=\"clean-install\"\nSnapshotUUID=\"%s\"\nSnapshotDescription=\"fresh install\"\nCurrentSnapshotName=\"clean-install\"\nCurrentSnapshotUUID=\"%s\"\nCurrentSnapshotNode=\"SnapshotName\"\nGuestMemoryBalloon=0\n", snap.UUID, snap.UUID)
	if !strings.HasSuffix(out, want) {
		t.Errorf("ubuntu-22.04 snapshot keys: got tail\n%s", out[len(out)-len(want):])
	}
	if strings.Contains(out, "SessionName") || strings.Contains(out, "GuestAdditionsRunLevel") {
		t.Error("powered-off VM shows session or guest keys")
	}
	f.SetVersion("6.1.38_Ubuntur153438")
	out = expect(t, f, 0, "showvminfo", BaseVM, "--machinereadable").Stdout
	if strings.Contains(out, "Encryption:") {
		t.Error("6.1 prints no Encryption line")
	}
}

func TestLifecycle(t *testing.T) {
	f := New(t, WithUnlockWindow(400*time.Millisecond), WithGuestAdditionsDelay(0))
	base := *f.State().VM(BaseVM)

	r := expect(t, f, 0, "snapshot", BaseVM, "take", "labctl-base", "--description", "labctl clones")
	equal(t, "take stderr", r.Stderr, bar)
	uuid := regexp.MustCompile(`^Snapshot taken\. UUID: ([0-9a-f-]{36})\n$`).FindStringSubmatch(r.Stdout)
	if uuid == nil {
		t.Fatalf("take stdout %q", r.Stdout)
	}

	r = expect(t, f, 0, "clonevm", BaseVM, "--snapshot", "labctl-base", "--options", "link", "--name", "SQL-ONE", "--groups", "/labctl/test", "--register")
	equal(t, "clone stdout", r.Stdout, "Machine has been successfully cloned as \"SQL-ONE\"\n")
	equal(t, "clone stderr", r.Stderr, bar)
	c := f.State().VM("SQL-ONE")
	if c == nil || c.UUID == base.UUID || c.State != "poweroff" || c.Groups[0] != "/labctl/test" || !c.DiskPathExists {
		t.Fatalf("clone state: %+v", c)
	}
	if c.NICs[0].MAC == base.NICs[0].MAC || c.NICs[0].Type != "bridged" {
		t.Errorf("clone NIC %+v vs base %+v: want a fresh MAC", c.NICs[0], base.NICs[0])
	}
	if c.LinkedFrom == nil || c.LinkedFrom.Snapshot != uuid[1] {
		t.Errorf("clone is not linked to the snapshot: %+v", c.LinkedFrom)
	}
	if !strings.Contains(c.CfgFile, filepath.Join("VirtualBox VMs", "labctl", "test", "SQL-ONE", "SQL-ONE.vbox")) {
		t.Errorf("CfgFile %s", c.CfgFile)
	}
	// The clone inherits the template's persisted (stale) guest IP.
	equal(t, "stale IP", expect(t, f, 0, "guestproperty", "get", "SQL-ONE", "/VirtualBox/GuestInfo/Net/0/V4/IP").Stdout, "Value: "+BaseGuestIP+"\n")

	r = expect(t, f, 0, "modifyvm", "SQL-ONE", "--nic1", "bridged", "--bridgeadapter1", "eth0", "--macaddress1", "0800271a2b3c", "--cpus", "2", "--memory", "2048")
	equal(t, "modifyvm output", r.Stdout+r.Stderr, "")
	c = f.State().VM("SQL-ONE")
	if c.CPUs != 2 || c.MemoryMB != 2048 || c.NICs[0].MAC != "0800271A2B3C" || c.NICs[0].BridgeAdapter != "eth0" {
		t.Errorf("after modifyvm: %+v", c)
	}
	r = expect(t, f, 1, "modifyvm", "SQL-ONE", "--macaddress1", "0900271A2B3C")
	if !strings.HasPrefix(r.Stderr, "VBoxManage: error: Invalid MAC address format\nVBoxManage: error: Details: code NS_ERROR_INVALID_ARG (0x80070057), component NetworkAdapterWrap") {
		t.Errorf("odd second digit MAC: %s", r.Stderr)
	}
	expect(t, f, 0, "setextradata", "SQL-ONE", "labctl/lab", "test")
	equal(t, "getextradata", expect(t, f, 0, "getextradata", "SQL-ONE", "labctl/lab").Stdout, "Value: test\n")
	equal(t, "getextradata unset", expect(t, f, 0, "getextradata", "SQL-ONE", "labctl/none").Stdout, "No value set!\n")

	r = expect(t, f, 0, "startvm", "SQL-ONE", "--type", "headless")
	equal(t, "startvm stdout", r.Stdout, "Waiting for VM \"SQL-ONE\" to power on...\nVM \"SQL-ONE\" has been successfully started.\n")
	equal(t, "startvm stderr", r.Stderr, "")
	if s := f.State().VM("SQL-ONE"); s.State != "running" || s.SessionName != "headless" {
		t.Errorf("after start: state %s session %q", s.State, s.SessionName)
	}
	// Running state persists across invocations (no process behind it).
	if out := expect(t, f, 0, "list", "runningvms").Stdout; !strings.Contains(out, "\"SQL-ONE\"") {
		t.Errorf("runningvms: %s", out)
	}

	r = expect(t, f, 1, "modifyvm", "SQL-ONE", "--memory", "4096")
	equal(t, "modifyvm while running", r.Stderr, lockedErr("SQL-ONE"))
	r = expect(t, f, 1, "startvm", "SQL-ONE", "--type", "headless")
	equal(t, "startvm while running", r.Stderr, `VBoxManage: error: The machine 'SQL-ONE' is already locked by a session (or being locked or unlocked)
VBoxManage: error: Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007), component MachineWrap, interface IMachine, callee nsISupports
VBoxManage: error: Context: "LaunchVMProcess(a->session, sessionType.raw(), ComSafeArrayAsInParam(aBstrEnv), progress.asOutParam())" at line 880 of file VBoxManageMisc.cpp
`)
	r = expect(t, f, 1, "unregistervm", "SQL-ONE", "--delete")
	equal(t, "unregistervm while running", r.Stderr, `VBoxManage: error: Cannot unregister the machine 'SQL-ONE' while it is locked
VBoxManage: error: Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007), component MachineWrap, interface IMachine, callee nsISupports
VBoxManage: error: Context: "Unregister(fDeleteAll ? CleanupMode_DetachAllReturnHardDisksAndVMRemovable :CleanupMode_DetachAllReturnHardDisksOnly, ComSafeArrayAsOutParam(aMedia))" at line 233 of file VBoxManageMisc.cpp
`)
	// setextradata takes a shared lock: fine while running.
	expect(t, f, 0, "setextradata", "SQL-ONE", "labctl/note", "x")

	r = expect(t, f, 0, "controlvm", "SQL-ONE", "poweroff")
	equal(t, "poweroff stdout", r.Stdout, "")
	equal(t, "poweroff stderr", r.Stderr, bar)
	if s := f.State().VM("SQL-ONE"); s.State != "poweroff" {
		t.Errorf("after poweroff: %s", s.State)
	}
	// Inside the unlocking window: VMState already says poweroff, the session is still held.
	info := expect(t, f, 0, "showvminfo", "SQL-ONE", "--machinereadable").Stdout
	if !strings.Contains(info, "VMState=\"poweroff\"") || !strings.Contains(info, "SessionName=") {
		t.Errorf("unlocking window: want poweroff + SessionName")
	}
	r = expect(t, f, 1, "modifyvm", "SQL-ONE", "--cpus", "1")
	equal(t, "modifyvm while unlocking", r.Stderr, lockedErr("SQL-ONE"))
	r = expect(t, f, 1, "controlvm", "SQL-ONE", "poweroff")
	equal(t, "controlvm not running", r.Stderr, "VBoxManage: error: Machine 'SQL-ONE' is not currently running.\n")
	time.Sleep(450 * time.Millisecond)
	if info := expect(t, f, 0, "showvminfo", "SQL-ONE", "--machinereadable").Stdout; strings.Contains(info, "SessionName=") {
		t.Error("SessionName still printed after the unlocking window")
	}
	expect(t, f, 0, "modifyvm", "SQL-ONE", "--cpus", "1")

	dir := filepath.Dir(f.State().VM("SQL-ONE").CfgFile)
	guest := f.GuestRoot("SQL-ONE")
	r = expect(t, f, 0, "unregistervm", "SQL-ONE", "--delete")
	equal(t, "unregister stderr", r.Stderr, bar)
	equal(t, "unregister stdout", r.Stdout, "")
	if f.State().VM("SQL-ONE") != nil {
		t.Error("VM still registered")
	}
	for _, p := range []string{dir, guest} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s survived unregistervm --delete", p)
		}
	}
	r = expect(t, f, 1, "unregistervm", "SQL-ONE", "--delete")
	if !strings.Contains(r.Stderr, "Could not find a registered machine named 'SQL-ONE'") || !strings.Contains(r.Stderr, "at line 229 of file VBoxManageMisc.cpp") {
		t.Errorf("unregister unknown: %s", r.Stderr)
	}
	if err := f.UnrelatedUntouched(); err != nil {
		t.Error(err)
	}
	if got := f.State().VM(BaseVM).SnapshotNames(); len(got) != 1 || got[0] != "labctl-base" {
		t.Errorf("base snapshots %v", got)
	}
}

func TestCloneErrors(t *testing.T) {
	f := New(t)
	r := expect(t, f, 1, "clonevm", BaseVM, "--options", "link", "--name", "X", "--register")
	equal(t, "linked without snapshot", r.Stderr, `VBoxManage: error: Linked clone can only be created from a snapshot
VBoxManage: error: Details: code NS_ERROR_INVALID_ARG (0x80070057), component MachineWrap, interface IMachine, callee nsISupports
VBoxManage: error: Context: "CloneTo(trgMachine, mode, ComSafeArrayAsInParam(options), progress.asOutParam())" at line 717 of file VBoxManageMisc.cpp
`)
	r = expect(t, f, 1, "clonevm", BaseVM, "--snapshot", "golden", "--options", "link", "--name", "X", "--register")
	equal(t, "snapshot not found", r.Stderr, `VBoxManage: error: Could not find a snapshot named 'golden'
VBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component MachineWrap, interface IMachine, callee nsISupports
VBoxManage: error: Context: "FindSnapshot(Bstr(pszSnapshotName).raw(), srcSnapshot.asOutParam())" at line 677 of file VBoxManageMisc.cpp
`)
	expect(t, f, 0, "snapshot", BaseVM, "take", "golden")
	r = expect(t, f, 1, "clonevm", BaseVM, "--snapshot=golden", "--options=Link", "--name", "X", "--groups", "ci", "--register")
	if !strings.HasPrefix(r.Stderr, "VBoxManage: error: Invalid machine group 'ci'\nVBoxManage: error: Details: code NS_ERROR_INVALID_ARG (0x80070057), component VirtualBoxWrap, interface IVirtualBox") {
		t.Errorf("bad group: %s", r.Stderr)
	}
	expect(t, f, 0, "clonevm", BaseVM, "--snapshot", "golden", "--options", "link", "--name", "X", "--groups", "/ci", "--register")
	r = expect(t, f, 1, "clonevm", BaseVM, "--snapshot", "golden", "--options", "link", "--name", "X", "--groups", "/ci", "--register")
	if !regexp.MustCompile(`^VBoxManage: error: Machine settings file '.*/ci/X/X\.vbox' already exists\nVBoxManage: error: Details: code VBOX_E_FILE_ERROR \(0x80bb0004\)`).MatchString(r.Stderr) {
		t.Errorf("target exists: %s", r.Stderr)
	}
	r = expect(t, f, 2, "clonevm", BaseVM, "--options", "fast")
	equal(t, "bad options", r.Stderr, "VBoxManage: error: Invalid clone options 'fast'\n")
	// Without --register the files are written but the VM is unknown.
	expect(t, f, 0, "clonevm", BaseVM, "--snapshot", "golden", "--options", "link", "--name", "Loose")
	if f.State().VM("Loose") != nil {
		t.Error("unregistered clone is registered")
	}
	expect(t, f, 1, "showvminfo", "Loose", "--machinereadable")
	// The clone copies the source's guest properties and extradata.
	x := f.State().VM("X")
	if x.GuestProps["/VirtualBox/GuestInfo/Net/0/V4/IP"].Value != BaseGuestIP {
		t.Errorf("clone guest props: %v", x.GuestProps)
	}
	// Deleting a snapshot a linked clone is based on is refused.
	r = expect(t, f, 1, "snapshot", BaseVM, "delete", "golden")
	if !strings.Contains(r.Stderr, "linked clone 'X'") {
		t.Errorf("snapshot delete under a clone: %s", r.Stderr)
	}
}

func TestModifyVMOptions(t *testing.T) {
	f := New(t)
	prepareClone(t, f, "WEB")
	r := expect(t, f, 0, "modifyvm", "WEB", "--bridge-adapter1=wlan9")
	equal(t, "unknown interface warning", r.Stderr, "VBoxManage: warning: Interface \"wlan9\" doesn't seem to exist\n")
	r = expect(t, f, 1, "startvm", "WEB", "--type", "headless")
	equal(t, "start on missing interface stdout", r.Stdout, "Waiting for VM \"WEB\" to power on...\n")
	equal(t, "start on missing interface stderr", r.Stderr, "VBoxManage: error: Nonexistent host networking interface, name 'wlan9' (VERR_INTERNAL_ERROR)\nVBoxManage: error: Details: code NS_ERROR_FAILURE (0x80004005), component ConsoleWrap, interface IConsole\n")
	r = expect(t, f, 1, "modifyvm", "WEB", "--nic1", "wifi")
	equal(t, "bad nic type", r.Stderr, "VBoxManage: error: Invalid type 'wifi' specfied for NIC 1\n")
	r = expect(t, f, 1, "modifyvm", "WEB", "--frobnicate", "1")
	if !strings.Contains(r.Stderr, "VBoxManage: error: Unknown option: --frobnicate\n") || !strings.HasPrefix(r.Stderr, "Oracle VM VirtualBox Command Line Management Interface Version 7.0.14\n") {
		t.Errorf("unknown option: %s", r.Stderr)
	}
	// A failing option commits nothing.
	before := f.State().VM("WEB")
	expect(t, f, 1, "modifyvm", "WEB", "--cpus", "4", "--nic1", "wifi")
	if f.State().VM("WEB").CPUs != before.CPUs {
		t.Error("modifyvm committed a partial change")
	}
	expect(t, f, 0, "modifyvm", "WEB", "--macaddress1", "auto", "--groups", "/labctl/other")
	after := f.State().VM("WEB")
	if after.NICs[0].MAC == before.NICs[0].MAC || !regexp.MustCompile(`^080027[0-9A-F]{6}$`).MatchString(after.NICs[0].MAC) || after.Groups[0] != "/labctl/other" {
		t.Errorf("auto MAC / groups: %+v", after)
	}
	// 6.1 knows only the old spellings.
	f.SetVersion("6.1.38_Ubuntur153438")
	r = expect(t, f, 1, "modifyvm", "WEB", "--bridge-adapter1", "eth0")
	if !strings.Contains(r.Stderr, "Unknown option: --bridge-adapter1") {
		t.Errorf("6.1 new spelling: %s", r.Stderr)
	}
	expect(t, f, 0, "modifyvm", "WEB", "--bridgeadapter1", "eth0")
	// startvm without --type and without a display dies like the real GUI frontend.
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	r = expect(t, f, 1, "startvm", "WEB")
	if !strings.Contains(r.Stderr, "has terminated unexpectedly during startup") {
		t.Errorf("gui start: %s", r.Stderr)
	}
}

func TestFaults(t *testing.T) {
	f := New(t)
	prepareClone(t, f, "DB")

	f.AddFault(Fault{Match: "modifyvm DB", Kind: "lock", Times: 1})
	r := expect(t, f, 1, "modifyvm", "DB", "--cpus", "2")
	equal(t, "injected lock", r.Stderr, lockedErr("DB"))
	expect(t, f, 0, "modifyvm", "DB", "--cpus", "2")
	if n := len(f.Faults()); n != 0 {
		t.Errorf("%d faults left after a once-rule fired", n)
	}

	f.AddFault(Fault{Regex: `^startvm DB\b`, Kind: "fail", Times: 0, Message: "Something broke"})
	for i := 0; i < 2; i++ {
		r = expect(t, f, 1, "startvm", "DB", "--type", "headless")
		equal(t, "injected failure", r.Stderr, "VBoxManage: error: Something broke\nVBoxManage: error: Details: code NS_ERROR_FAILURE (0x80004005), component MachineWrap, interface IMachine, callee nsISupports\n")
	}
	if f.State().VM("DB").State != "poweroff" {
		t.Error("failed startvm changed the state")
	}

	f.AddFault(Fault{Match: "/^getextradata DB labctl/", Kind: "exit", ExitCode: 137, Times: 2})
	expect(t, f, 137, "getextradata", "DB", "labctl/lab")
	expect(t, f, 137, "getextradata", "DB", "labctl/lab")
	expect(t, f, 0, "getextradata", "DB", "labctl/lab")

	f.AddFault(Fault{Match: "showvminfo DB", Kind: "slow", Delay: "300ms", Times: 1})
	start := time.Now()
	expect(t, f, 0, "showvminfo", "DB", "--machinereadable")
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("slow fault took %v", d)
	}
	f.SetLatency(map[string]time.Duration{"clonevm": 250 * time.Millisecond})
	start = time.Now()
	expect(t, f, 0, "clonevm", BaseVM, "--snapshot", "labctl-base", "--options", "link", "--name", "LAT", "--register")
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("clonevm latency: %v", d)
	}

	// Times counts down across concurrent processes: exactly 3 of 10 fail.
	f.AddFault(Fault{Match: "setextradata DB", Kind: "fail", Times: 3})
	var wg sync.WaitGroup
	codes := make([]int, 10)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = f.Run("setextradata", "DB", fmt.Sprintf("k%d", i), "v").Code
		}()
	}
	wg.Wait()
	failed := 0
	for _, c := range codes {
		if c != 0 {
			failed++
		}
	}
	if failed != 3 {
		t.Errorf("%d of 10 calls failed, want 3 (codes %v)", failed, codes)
	}
}

func TestConcurrentSetExtraData(t *testing.T) {
	f := New(t)
	expect(t, f, 0, "snapshot", BaseVM, "take", "labctl-base")
	var names []string
	for i := 0; i < 20; i++ {
		n := fmt.Sprintf("N%02d", i)
		names = append(names, n)
		expect(t, f, 0, "clonevm", BaseVM, "--snapshot", "labctl-base", "--options", "link", "--name", n, "--register")
	}
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := f.Run("setextradata", n, "labctl/lab", "lab-"+n); r.Code != 0 {
				errs <- n + ": " + r.Stderr
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	st := f.State()
	if len(st.VMs) != 24 {
		t.Errorf("%d VMs after 20 clones", len(st.VMs))
	}
	for _, n := range names {
		if v := st.VM(n); v == nil || v.ExtraData["labctl/lab"] != "lab-"+n {
			t.Errorf("%s lost its tag: %+v", n, v)
		}
	}
	if got := len(f.Argv()); got != 1+20+20 {
		t.Errorf("argv.log has %d entries, want 41", got)
	}
	if err := f.UnrelatedUntouched(); err != nil {
		t.Error(err)
	}
}

func TestSnapshots(t *testing.T) {
	f := New(t)
	prepareClone(t, f, "LB")
	r := expect(t, f, 1, "snapshot", "LB", "list")
	equal(t, "no snapshots", r.Stdout, "This machine does not have any snapshots\n")
	r = expect(t, f, 0, "snapshot", "LB", "take", "s1", "--description=first")
	s1 := strings.TrimPrefix(strings.TrimSpace(r.Stdout), "Snapshot taken. UUID: ")
	expect(t, f, 0, "snapshot", "LB", "take", "s2")
	equal(t, "list", expect(t, f, 0, "snapshot", "LB", "list").Stdout, fmt.Sprintf(
		"   Name: s1 (UUID: %s)\n   Description: first\n      Name: s2 (UUID: %s) *\n", s1, f.State().VM("LB").CurrentSnapshot))

	r = expect(t, f, 1, "snapshot", "LB", "take", "live", "--live")
	if !strings.HasPrefix(r.Stderr, "VBoxManage: error: Cannot take a live snapshot of a virtual machine unless it is running.\n") {
		t.Errorf("--live on poweroff: %s", r.Stderr)
	}
	expect(t, f, 0, "startvm", "LB", "--type", "headless")
	expect(t, f, 0, "snapshot", "LB", "take", "online", "--live")
	r = expect(t, f, 1, "snapshot", "LB", "restore", "s1")
	equal(t, "restore while running stdout", r.Stdout, fmt.Sprintf("Restoring snapshot 's1' (%s)\n", s1))
	equal(t, "restore while running stderr", r.Stderr, `VBoxManage: error: Cannot delete the current state of the running machine (machine state: Running)
VBoxManage: error: Details: code VBOX_E_INVALID_VM_STATE (0x80bb0002), component SessionMachine, interface IMachine, callee nsISupports
VBoxManage: error: Context: "RestoreSnapshot(pSnapshot, pProgress.asOutParam())" at line 560 of file VBoxManageSnapshot.cpp
`)
	expect(t, f, 0, "controlvm", "LB", "poweroff")
	r = expect(t, f, 0, "snapshot", "LB", "restore", "online")
	equal(t, "restore stderr", r.Stderr, bar)
	if s := f.State().VM("LB").State; s != "saved" {
		t.Errorf("restoring an online snapshot gives %q, want saved", s)
	}
	r = expect(t, f, 0, "snapshot", "LB", "restore", s1)
	if v := f.State().VM("LB"); v.State != "poweroff" || v.CurrentSnapshot != s1 {
		t.Errorf("after restore by UUID: %s current %s", v.State, v.CurrentSnapshot)
	}
	r = expect(t, f, 1, "snapshot", "LB", "restore", "nope")
	equal(t, "unknown snapshot", r.Stderr, `VBoxManage: error: Could not find a snapshot named 'nope'
VBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component SessionMachine, interface IMachine, callee nsISupports
VBoxManage: error: Context: "FindSnapshot(Bstr(a->argv[2]).raw(), pSnapshot.asOutParam())" at line 537 of file VBoxManageSnapshot.cpp
`)
	// s1 has one child (s2, which has "online"): deletable; s2 takes its place.
	r = expect(t, f, 0, "snapshot", "LB", "delete", "s1")
	equal(t, "delete stdout", r.Stdout, fmt.Sprintf("Deleting snapshot 's1' (%s)\n", s1))
	if got := f.State().VM("LB").SnapshotNames(); strings.Join(got, ",") != "s2,online" {
		t.Errorf("after delete: %v", got)
	}
	out := expect(t, f, 0, "snapshot", "LB", "list", "--machinereadable").Stdout
	if !regexp.MustCompile(`^SnapshotName="s2"\nSnapshotUUID="[0-9a-f-]{36}"\nSnapshotName-1="online"\nSnapshotUUID-1="[0-9a-f-]{36}"\n$`).MatchString(out) {
		t.Errorf("machinereadable list:\n%s", out)
	}
	expect(t, f, 2, "snapshot", "LB")
}

func TestGuestControl(t *testing.T) {
	const pw = "s3cret-Guest-pw"
	f := New(t, WithGuestPassword(pw), WithGuestAdditionsDelay(300*time.Millisecond))
	prepareClone(t, f, "G1")
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(extra ...string) []string {
		return append([]string{"guestcontrol", "G1", "run", "--exe", "/bin/sh", "--username", "root", "--passwordfile", pwFile, "--timeout", "10000", "--wait-stdout", "--wait-stderr", "--"}, extra...)
	}
	r := expect(t, f, 1, run("-c", "true")...)
	equal(t, "not running", r.Stderr, "VBoxManage: error: Machine \"G1\" is not running (currently powered off)!\n")

	expect(t, f, 0, "startvm", "G1", "--type", "headless")
	r = expect(t, f, 1, run("-c", "true")...)
	equal(t, "GA not ready", r.Stderr, `VBoxManage: error: Waiting for guest process failed: The guest execution service is not ready (yet)
VBoxManage: error: Details: code VBOX_E_IPRT_ERROR (0x80bb0005), component GuestSessionWrap, interface IGuestSession, callee nsISupports
VBoxManage: error: Context: "WaitForArray(ComSafeArrayAsInParam(aSessionWaitFlags), 30 * 1000, &enmWaitResult)" at line 770 of file VBoxManageGuestCtrl.cpp
`)
	if out := expect(t, f, 0, "showvminfo", "G1", "--machinereadable").Stdout; !strings.Contains(out, "\nGuestAdditionsRunLevel=0\n") {
		t.Error("booting VM should report GuestAdditionsRunLevel=0")
	}
	time.Sleep(350 * time.Millisecond)
	if out := expect(t, f, 0, "showvminfo", "G1", "--machinereadable").Stdout; !strings.Contains(out, "\nGuestAdditionsRunLevel=2\n") {
		t.Error("booted VM should report GuestAdditionsRunLevel=2")
	}

	r = expect(t, f, 0, run("-c", `printf '%s|%s|' "$0" "$PWD"; test "$FAKEGUEST_ROOT" = "$PWD" && cat; echo err >&2`)...)
	equal(t, "stdout", r.Stdout, "/bin/sh|"+f.GuestRoot("G1")+"|")
	equal(t, "stderr", r.Stderr, "err\n")
	r = f.RunStdin("from-host-stdin", run("-c", "cat")...)
	equal(t, "stdin passthrough", r.Stdout, "from-host-stdin")

	for _, c := range []struct{ guest, want int }{{0, 0}, {1, 33}, {3, 35}, {93, 125}, {94, 126}, {255, 126}} {
		expect(t, f, c.want, run("-c", fmt.Sprintf("exit %d", c.guest))...)
	}
	expect(t, f, 18, run("-c", "kill -KILL $$")...)
	timed := []string{"guestcontrol", "G1", "run", "--exe", "/bin/sleep", "--username", "root", "--passwordfile", pwFile, "--timeout", "200", "--", "5"}
	start := time.Now()
	expect(t, f, 20, timed...)
	if time.Since(start) > 3*time.Second {
		t.Error("timeout did not stop the guest process")
	}

	r = expect(t, f, 1, "guestcontrol", "G1", "run", "--exe", "/bin/nope", "--username", "root", "--passwordfile", pwFile, "--")
	if !strings.HasPrefix(r.Stderr, "VBoxManage: error: Waiting for guest process (flags 0x1) failed: No such file or directory \"/bin/nope\" on guest\n") {
		t.Errorf("missing exe: %s", r.Stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte("wrong\n"), 0o600)
	r = expect(t, f, 1, "guestcontrol", "G1", "run", "--exe", "/bin/true", "--username", "root", "--passwordfile", bad, "--")
	if !strings.HasPrefix(r.Stderr, "VBoxManage: error: Waiting for guest process failed: The specified user was not able to logon on guest\n") {
		t.Errorf("wrong password: %s", r.Stderr)
	}
	// Option parsing does not stop at the first operand: without "--", -c is VBoxManage's.
	r = expect(t, f, 2, "guestcontrol", "G1", "run", "--username", "root", "--passwordfile", pwFile, "/bin/sh", "-c", "true")
	if !strings.Contains(r.Stderr, "Unknown option: -c") {
		t.Errorf("operand options: %s", r.Stderr)
	}

	// Project rules: no password on argv, password files 0600.
	if len(f.Violations()) != 0 {
		t.Fatalf("violations before the bad calls: %v", f.Violations())
	}
	r = expect(t, f, 99, "guestcontrol", "G1", "run", "--exe", "/bin/true", "--username", "root", "--password", pw, "--")
	if !strings.Contains(r.Stderr, "VIOLATION") || !strings.Contains(r.Stderr, "--password") || strings.Contains(r.Stderr, pw) {
		t.Errorf("--password: %s", r.Stderr)
	}
	loose := filepath.Join(t.TempDir(), "loose")
	os.WriteFile(loose, []byte(pw), 0o644)
	r = expect(t, f, 99, "guestcontrol", "G1", "run", "--exe", "/bin/true", "--username", "root", "--passwordfile", loose, "--")
	if !strings.Contains(r.Stderr, "must be 0600") {
		t.Errorf("0644 password file: %s", r.Stderr)
	}
	if v := f.Violations(); len(v) != 2 {
		t.Errorf("violations: %v", v)
	}
	if got := f.ArgvContaining(pw); len(got) != 1 {
		t.Errorf("password on argv %d times, want exactly the one bad call", len(got))
	}

	// The guest reconfigures its network: VBoxService reports the new address.
	equal(t, "IP before", expect(t, f, 0, "guestproperty", "get", "G1", "/VirtualBox/GuestInfo/Net/0/V4/IP").Stdout, "Value: "+BaseGuestIP+"\n")
	expect(t, f, 0, run("-c", "echo 192.0.2.100 > .fakeguest/net0-ipv4")...)
	equal(t, "IP after", expect(t, f, 0, "guestproperty", "get", "G1", "/VirtualBox/GuestInfo/Net/0/V4/IP").Stdout, "Value: 192.0.2.100\n")
	f.SetGuestIP("G1", "192.0.2.101")
	equal(t, "IP via knob", expect(t, f, 0, "guestproperty", "get", "G1", "/VirtualBox/GuestInfo/Net/0/V4/IP").Stdout, "Value: 192.0.2.101\n")
}

func TestGuestControl61ExeArgv(t *testing.T) {
	f := New(t, WithGuestAdditionsDelay(0), WithVersion("6.1.38_Ubuntur153438"))
	prepareClone(t, f, "OLD")
	expect(t, f, 0, "startvm", "OLD", "--type", "headless")
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte(DefaultGuestPassword), 0o600)
	// 6.1: the operands are the whole argv; argv[0] is the first operand.
	r := expect(t, f, 0, "guestcontrol", "OLD", "run", "--exe", "/bin/sh", "--username", "root", "--passwordfile", pwFile, "--", "sh", "-c", `echo "$0"`)
	equal(t, "6.1 argv0", r.Stdout, "sh\n")
	f.SetVersion(DefaultVersion)
	// 7.x: argv[0] is the exe; the 6.1 form passes "sh" as a script file.
	r = expect(t, f, 0, "guestcontrol", "OLD", "run", "--exe", "/bin/sh", "--username", "root", "--passwordfile", pwFile, "--", "-c", `echo "$0"`)
	equal(t, "7.x argv0", r.Stdout, "/bin/sh\n")
}

func TestGuestProperties(t *testing.T) {
	f := New(t, WithGuestAdditionsDelay(0))
	r := expect(t, f, 0, "guestproperty", "get", BaseVM, "/VirtualBox/GuestInfo/Net/0/V4/IP", "--verbose")
	if !regexp.MustCompile(`^Value: 192\.0\.2\.50\nTimestamp: \d+\nFlags: \n$`).MatchString(r.Stdout) {
		t.Errorf("get --verbose: %q", r.Stdout)
	}
	equal(t, "unset", expect(t, f, 0, "guestproperty", "get", BaseVM, "/VirtualBox/GuestAdd/RunLevel").Stdout, "No value set!\n")
	expect(t, f, 2, "guestproperty", "get", BaseVM)

	out := expect(t, f, 0, "guestproperty", "enumerate", BaseVM, "/VirtualBox/GuestInfo/Net/0/*").Stdout
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("enumerate pattern: %q", out)
	}
	// 7.x table: names padded to the longest, values then aligned "@ time".
	if !regexp.MustCompile(`^/VirtualBox/GuestInfo/Net/0/MAC    = '080027[0-9A-F]{6}' @ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^/VirtualBox/GuestInfo/Net/0/V4/IP  = '192\.0\.2\.50'   @ `).MatchString(lines[2]) {
		t.Errorf("7.x enumerate:\n%s", out)
	}
	f.SetVersion("6.1.38_Ubuntur153438")
	out = expect(t, f, 0, "guestproperty", "enumerate", BaseVM, "--patterns", "/VirtualBox/GuestInfo/Net/0/V4/IP").Stdout
	if !regexp.MustCompile(`^Name: /VirtualBox/GuestInfo/Net/0/V4/IP, value: 192\.0\.2\.50, timestamp: \d+, flags: \n$`).MatchString(out) {
		t.Errorf("6.1 enumerate: %q", out)
	}
	expect(t, f, 2, "guestproperty", "enumerate", BaseVM, "/VirtualBox/*")
	f.SetVersion(DefaultVersion)

	r = expect(t, f, 0, "guestproperty", "wait", BaseVM, "/VirtualBox/GuestInfo/Net/0/V4/IP", "--timeout", "200")
	equal(t, "wait timeout", r.Stderr, "VBoxManage: error: Time out or interruption while waiting for a notification.\n")
	expect(t, f, 2, "guestproperty", "wait", BaseVM, "/VirtualBox/GuestInfo/Net/0/V4/IP", "--timeout", "100", "--fail-on-timeout")
	expect(t, f, 2, "guestproperty", "wait", BaseVM, "/x", "--timeout=100")
	done := make(chan Result)
	go func() {
		done <- f.Run("guestproperty", "wait", BaseVM, "/VirtualBox/GuestInfo/Net/*", "--timeout", "5000")
	}()
	time.Sleep(300 * time.Millisecond)
	expect(t, f, 0, "startvm", BaseVM, "--type", "headless")
	r = <-done
	if r.Code != 0 || !regexp.MustCompile(`^Name: /VirtualBox/GuestInfo/Net/\S+, value: .*, flags: \n$`).MatchString(r.Stdout) {
		t.Errorf("wait for boot: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	// HostInfo properties are transient: gone after power-off.
	expect(t, f, 0, "controlvm", BaseVM, "poweroff")
	equal(t, "transient gone", expect(t, f, 0, "guestproperty", "get", BaseVM, "/VirtualBox/HostInfo/VBoxVer").Stdout, "No value set!\n")
	equal(t, "persisted IP survives", expect(t, f, 0, "guestproperty", "get", BaseVM, "/VirtualBox/GuestInfo/Net/0/V4/IP").Stdout, "Value: "+BaseGuestIP+"\n")
}

func TestWindowsOutput(t *testing.T) {
	f := New(t, WithWindows())
	r := expect(t, f, 1, "showvminfo", "nope", "--machinereadable")
	if !strings.HasPrefix(r.Stderr, "VBoxManage.exe: error: Could not find a registered machine named 'nope'\r\n") || !strings.Contains(r.Stderr, "callee IUnknown\r\n") {
		t.Errorf("windows stderr: %q", r.Stderr)
	}
	if out := expect(t, f, 0, "list", "vms").Stdout; !strings.HasSuffix(out, "}\r\n") {
		t.Errorf("windows stdout not CRLF: %q", out)
	}
}

func TestIsMutating(t *testing.T) {
	for _, c := range []struct {
		argv []string
		want bool
	}{
		{[]string{"--version"}, false},
		{[]string{"-q", "list", "vms"}, false},
		{[]string{"showvminfo", "x", "--machinereadable"}, false},
		{[]string{"getextradata", "x", "k"}, false},
		{[]string{"guestproperty", "get", "x", "p"}, false},
		{[]string{"guestproperty", "enumerate", "x"}, false},
		{[]string{"guestproperty", "set", "x", "p", "v"}, true},
		{[]string{"snapshot", "x", "list"}, false},
		{[]string{"snapshot", "x", "take", "s"}, true},
		{[]string{"setextradata", "x", "k", "v"}, true},
		{[]string{"clonevm", "x"}, true},
		{[]string{"guestcontrol", "x", "run"}, true},
	} {
		if got := IsMutating(c.argv); got != c.want {
			t.Errorf("IsMutating(%v) = %v", c.argv, got)
		}
	}
}

func TestUnrelatedUntouchedDetectsChanges(t *testing.T) {
	f := New(t)
	if err := f.UnrelatedUntouched(); err != nil {
		t.Fatal(err)
	}
	expect(t, f, 0, "setextradata", "ubuntu-22.04", "labctl/lab", "oops")
	expect(t, f, 0, "controlvm", "win10-dev", "poweroff")
	err := f.UnrelatedUntouched()
	if err == nil || !strings.Contains(err.Error(), "ubuntu-22.04 was modified") || !strings.Contains(err.Error(), "win10-dev was modified") {
		t.Errorf("UnrelatedUntouched = %v", err)
	}
	if f.MutatingCalls() == nil || len(f.MutatingCalls()) != 2 {
		t.Errorf("mutating calls: %v", f.MutatingCalls())
	}
}

// The fake's own tests run only harmless guest commands, so they allow
// guest execution; TestGuestExecIsOptIn checks the default refusal.
func TestMain(m *testing.M) {
	os.Setenv("FAKEVBOX_GUEST_EXEC", "1")
	os.Exit(m.Run())
}

func TestGuestExecIsOptIn(t *testing.T) {
	f := New(t, WithGuestAdditionsDelay(0))
	t.Setenv("FAKEVBOX_GUEST_EXEC", "")
	if r := f.Run("startvm", BaseVM, "--type", "headless"); r.Code != 0 {
		t.Fatalf("startvm failed: %+v", r)
	}
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(DefaultGuestPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "ran")
	r := f.Run("guestcontrol", BaseVM, "run", "--username", GuestUser, "--passwordfile", pw,
		"--wait-stdout", "--", "/bin/sh", "-c", "touch "+marker)
	if r.Code == 0 || !strings.Contains(r.Stderr, "guest execution is disabled") {
		t.Fatalf("guest exec without opt-in: %+v", r)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the guest command ran on the host without opt-in")
	}
}
