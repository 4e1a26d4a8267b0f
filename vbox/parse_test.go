package vbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func transcript(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "vbox", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCRLFTranscriptsKeepCRLF(t *testing.T) {
	// The CRLF fixtures are only worth something if nothing normalised them.
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "vbox", "*crlf*"))
	if len(files) < 5 {
		t.Fatalf("want at least 5 CRLF transcripts, found %d", len(files))
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if !strings.Contains(string(b), "\r\n") {
			t.Errorf("%s has no CRLF line ends", f)
		}
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		file                string
		major, minor, build int
		raw                 string
		wantErr             error
	}{
		{"version-7.0.txt", 7, 0, 14, "7.0.14r161095", nil},
		{"version-6.1-ubuntu.txt", 6, 1, 38, "6.1.38_Ubuntur153438", nil},
		{"version-7.2-ubuntu.txt", 7, 2, 6, "7.2.6_Ubuntur172322", nil},
		{"version-7.0-ose.txt", 7, 0, 14, "7.0.14_OSEr161095", nil},
		{"version-7.0-beta.txt", 7, 0, 14, "7.0.14_BETA4r161095", nil},
		{"version-5.0-ubuntu.txt", 5, 0, 24, "5.0.24_Ubuntur108355", nil},
		{"version-4.1-macports.txt", 4, 1, 8, "4.1.8_MacPortsr1234", nil},
		{"version-7.0-windows-crlf.txt", 7, 0, 14, "7.0.14r161095", nil},
		{"version-7.0-vboxdrv-warning.txt", 7, 0, 14, "7.0.14r161095", ErrUnusable},
		{"version-6.1-chardev-warning.txt", 6, 1, 38, "6.1.38_Ubuntur153438", ErrUnusable},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			v, err := ParseVersion(transcript(t, tt.file))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if v.Major != tt.major || v.Minor != tt.minor || v.Build != tt.build || v.Raw != tt.raw {
				t.Errorf("got %+v, want %d.%d.%d raw %q", v, tt.major, tt.minor, tt.build, tt.raw)
			}
		})
	}
}

func TestParseVersionWarningIsExplained(t *testing.T) {
	_, err := ParseVersion(transcript(t, "version-7.0-vboxdrv-warning.txt"))
	if err == nil || !strings.Contains(err.Error(), "vboxdrv kernel module is not loaded") || !strings.Contains(err.Error(), "sudo /sbin/vboxconfig") {
		t.Fatalf("error should carry the wrapper's explanation on one line, got %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
}

func TestParseVersionGarbage(t *testing.T) {
	if _, err := ParseVersion("Oracle VM VirtualBox Command Line Management Interface\n"); err == nil {
		t.Fatal("want an error for output without a version")
	}
}

func TestVersionSupported(t *testing.T) {
	for _, tt := range []struct {
		v  Version
		ok bool
	}{
		{Version{Major: 7, Minor: 0}, true}, {Version{Major: 6, Minor: 1}, true}, {Version{Major: 7, Minor: 2}, true},
		{Version{Major: 6, Minor: 0, Build: 24}, false}, {Version{Major: 5, Minor: 2}, false},
	} {
		err := tt.v.Supported()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrUnsupported)) {
			t.Errorf("%s: Supported() = %v, want ok=%v", tt.v, err, tt.ok)
		}
	}
}

func TestParseListVMs(t *testing.T) {
	want := []VM{
		{Name: "web-01", UUID: "3f1c0c52-8e4b-4a7b-9d0e-1c2d3e4f5a6b"},
		{Name: "db has spaces", UUID: "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"},
		{Name: "<inaccessible>", UUID: "11111111-2222-4333-8444-555555555555", Inaccessible: true},
		{Name: `say "hi" {2}`, UUID: "02fd76af-2bae-4c98-add1-4d802a2f77fa"},
	}
	for _, f := range []string{"list-vms.txt", "list-vms-windows-crlf.txt"} {
		got := ParseListVMs(transcript(t, f))
		if len(got) != len(want) {
			t.Fatalf("%s: got %d VMs %+v", f, len(got), got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s[%d] = %+v, want %+v", f, i, got[i], want[i])
			}
		}
	}
	if got := ParseListVMs(transcript(t, "list-vms-empty.txt")); len(got) != 0 {
		t.Errorf("empty list parsed as %+v", got)
	}
	got := ParseListVMs(transcript(t, "list-vms-with-warning.txt"))
	if len(got) != 1 || got[0].Name != "AlmaLinux 8.4" {
		t.Errorf("wrapper warning not skipped: %+v", got)
	}
}

func TestParseBridgedIfs(t *testing.T) {
	tests := []struct {
		file string
		want []HostIf
	}{
		{"bridgedifs-macos-7.0.txt", []HostIf{
			{Name: "en0: Wi-Fi", IPAddress: "10.0.0.229", NetworkMask: "255.255.248.0", MAC: "3c:22:fb:0e:61:81", Status: "Up", Wireless: true},
			{Name: "ap1", IPAddress: "0.0.0.0", NetworkMask: "0.0.0.0", MAC: "3e:22:fb:0e:61:81", Status: "Down"},
		}},
		{"bridgedifs-linux-old.txt", []HostIf{
			{Name: "eth0", IPAddress: "192.168.250.38", NetworkMask: "255.255.255.0", MAC: "00:15:5d:fb:9a:09", Status: "Up"},
		}},
		{"bridgedifs-windows-crlf.txt", []HostIf{
			{Name: "Intel(R) Ethernet Connection I219-V", IPAddress: "192.168.1.23", NetworkMask: "255.255.255.0", MAC: "8c:16:45:aa:bb:cc", Status: "Up"},
		}},
	}
	for _, tt := range tests {
		got := ParseBridgedIfs(transcript(t, tt.file))
		if len(got) != len(tt.want) {
			t.Fatalf("%s: got %+v", tt.file, got)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s[%d] = %+v, want %+v", tt.file, i, got[i], tt.want[i])
			}
		}
	}
}

func TestParseVMInfoRunningBridged(t *testing.T) {
	for _, tt := range []struct{ file, cfg, bridge string }{
		{"showvminfo-7.0-running-bridged.txt", "/home/me/VirtualBox VMs/myapp/web-01/web-01.vbox", "en0: Wi-Fi"},
		{"showvminfo-7.0-running-windows-crlf.txt", `C:\Users\me\VirtualBox VMs\myapp\web-01\web-01.vbox`, "Intel(R) Ethernet Connection I219-V"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			info, err := ParseVMInfo(transcript(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if info.Name != "web-01" || info.UUID != "3f1c0c52-8e4b-4a7b-9d0e-1c2d3e4f5a6b" || info.CfgFile != tt.cfg {
				t.Errorf("identity: %q %q %q", info.Name, info.UUID, info.CfgFile)
			}
			if info.State != StateRunning || !info.SessionLocked {
				t.Errorf("state %q session %v", info.State, info.SessionLocked)
			}
			wantT := time.Date(2024, 1, 23, 10, 11, 12, 345000000, time.UTC)
			if !info.StateChanged.Equal(wantT) {
				t.Errorf("StateChanged = %v, want %v", info.StateChanged, wantT)
			}
			if info.CPUs != 2 || info.MemoryMB != 2048 {
				t.Errorf("cpus %d memory %d", info.CPUs, info.MemoryMB)
			}
			if len(info.Groups) != 1 || info.Groups[0] != "/myapp" {
				t.Errorf("groups %q", info.Groups)
			}
			if len(info.NICs) != 1 || info.NICs[0] != (NIC{Slot: 1, Type: "bridged", BridgeAdapter: tt.bridge, MAC: "080027AB12CD"}) {
				t.Errorf("NICs %+v", info.NICs)
			}
			if info.GuestAddRunLvl != 2 || info.GuestAddVer != "7.0.14 r161095" {
				t.Errorf("guest additions %d %q", info.GuestAddRunLvl, info.GuestAddVer)
			}
			if len(info.Snapshots) != 2 {
				t.Fatalf("snapshots %+v", info.Snapshots)
			}
			base, after := info.Snapshots[0], info.Snapshots[1]
			if base.Name != "base" || base.Current || base.Parent != "" {
				t.Errorf("base snapshot %+v", base)
			}
			if after.Name != "after-setup" || !after.Current || after.Description != "packages installed" || after.Parent != base.UUID {
				t.Errorf("child snapshot %+v", after)
			}
			raw := info.Raw
			for k, want := range map[string]string{
				"VRDEClients":         "=0",
				"VideoMode":           "800,600,32",
				"SATA-0-0":            strings.TrimSuffix(strings.TrimSuffix(tt.cfg, ".vbox"), "web-01") + "web-01-disk1.vdi",
				"BIOS NVRAM File":     strings.TrimSuffix(tt.cfg, ".vbox") + ".nvram",
				"description":         "Web node.\nSecond line with \"quotes\" and a key=value look-alike",
				"memory":              "2048",
				"nicspeed1":           "0",
				"rec_screen_enabled":  "off",
				"GuestMemoryBalloon":  "0",
				"CurrentSnapshotNode": "SnapshotName-1",
				"GuestAdditionsFacility_VirtualBox Base Driver": "50,1706004673000",
			} {
				if raw[k] != want {
					t.Errorf("Raw[%q] = %q, want %q", k, raw[k], want)
				}
			}
			for k := range raw {
				if strings.HasPrefix(k, "Encryption") || strings.Contains(k, "rec_screen0") || strings.ContainsAny(k, "\r\n") {
					t.Errorf("non key=value line became key %q", k)
				}
			}
		})
	}
}

func TestParseVMInfoPowerOff61(t *testing.T) {
	info, err := ParseVMInfo(transcript(t, "showvminfo-6.1-poweroff.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "AlmaLinux 8.4" || info.State != StatePowerOff || info.SessionLocked {
		t.Errorf("got %q %q locked=%v", info.Name, info.State, info.SessionLocked)
	}
	if info.GuestAddRunLvl != 0 || len(info.Snapshots) != 0 {
		t.Errorf("run level %d snapshots %+v", info.GuestAddRunLvl, info.Snapshots)
	}
	if len(info.NICs) != 1 || info.NICs[0] != (NIC{Slot: 1, Type: "nat", MAC: "0800271A4565"}) {
		t.Errorf("NICs %+v", info.NICs)
	}
	if info.Raw["Forwarding(0)"] != "ssh,tcp,127.0.0.1,2222,,22" {
		t.Errorf("Forwarding(0) = %q", info.Raw["Forwarding(0)"])
	}
}

func TestParseVMInfoSnapshotTree(t *testing.T) {
	info, err := ParseVMInfo(transcript(t, "showvminfo-7.0-snapshot-tree.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if info.State != StateSaved || len(info.Groups) != 2 || info.Groups[1] != "/templates" {
		t.Errorf("state %q groups %q", info.State, info.Groups)
	}
	wantNICs := []NIC{{Slot: 1, Type: "hostonly", MAC: "080027000001", HostOnlyAdapter: "vboxnet0"}, {Slot: 3, Type: "bridged", BridgeAdapter: "eth0", MAC: "080027000003"}}
	if len(info.NICs) != 2 || info.NICs[0] != wantNICs[0] || info.NICs[1] != wantNICs[1] {
		t.Errorf("NICs %+v", info.NICs)
	}
	type s struct{ name, parent string }
	want := []s{{"Imported", ""}, {"Snapshot 1", "7e5b4165-91ec-4091-a74c-a5709d584530"},
		{"Snapshot 2", "5fc461ec-da7a-40a8-a168-03134d7cdf5c"}, {"Snapshot-Export", "5fc461ec-da7a-40a8-a168-03134d7cdf5c"},
		{"Snapshot \"5\"", "7e5b4165-91ec-4091-a74c-a5709d584530"}}
	if len(info.Snapshots) != len(want) {
		t.Fatalf("snapshots %+v", info.Snapshots)
	}
	for i, w := range want {
		got := info.Snapshots[i]
		if got.Name != w.name || got.Parent != w.parent || got.Current != (w.name == "Snapshot-Export") {
			t.Errorf("snapshot %d = %+v, want %+v", i, got, w)
		}
	}
	if d := info.Snapshots[1].Description; d != "line one\nline two" {
		t.Errorf("multi-line description = %q", d)
	}
}

func TestParseVMInfoInaccessible(t *testing.T) {
	info, err := ParseVMInfo(transcript(t, "showvminfo-inaccessible.txt"))
	if err != nil || !info.Inaccessible || info.UUID != "11111111-2222-4333-8444-555555555555" {
		t.Fatalf("got %+v, %v", info, err)
	}
	if _, err := ParseVMInfo("Encryption:     disabled\n"); err == nil {
		t.Error("output without UUID must be an error")
	}
}

func TestParseMachineReadableEscapes(t *testing.T) {
	out := "name=\"a \\\"q\\\" b\\\\c\"\r\n" +
		"SnapshotName=\"raw\\\\name\"\r\n" +
		"\"weird key=1\"=\"v\"\r\n" +
		"cpuid=00000001 00000000 00000000" // no trailing newline, as VirtualBox prints it
	kv := map[string]string{}
	for _, p := range ParseMachineReadable(out) {
		kv[p.Key] = p.Value
	}
	want := map[string]string{"name": `a "q" b\c`, "SnapshotName": `raw\\name`, "weird key=1": "v", "cpuid": "00000001 00000000 00000000"}
	for k, v := range want {
		if kv[k] != v {
			t.Errorf("%q = %q, want %q", k, kv[k], v)
		}
	}
}

func TestParseSnapshotList(t *testing.T) {
	mr := ParseSnapshotList(transcript(t, "snapshot-list-machinereadable.txt"))
	if len(mr) != 5 || mr[3].Name != "Snapshot-Export" || !mr[3].Current || mr[4].Parent != mr[0].UUID {
		t.Errorf("machinereadable: %+v", mr)
	}
	h := ParseSnapshotList(transcript(t, "snapshot-list-human.txt"))
	if len(h) != 2 || h[0].Name != "base" || h[0].Description != "clean install" || h[0].Current ||
		h[1].Name != "after-setup" || !h[1].Current || h[1].Parent != h[0].UUID {
		t.Errorf("human: %+v", h)
	}
	if n := ParseSnapshotList(transcript(t, "snapshot-list-none.txt")); len(n) != 0 {
		t.Errorf("none: %+v", n)
	}
}

func TestParseValue(t *testing.T) {
	for _, tt := range []struct {
		file string
		v    string
		ok   bool
	}{
		{"guestproperty-get-value.txt", "192.168.1.50", true},
		{"guestproperty-get-value-crlf.txt", "192.168.1.50", true},
		{"guestproperty-get-novalue.txt", "", false},
		{"guestproperty-get-verbose.txt", "7.0.14", true},
	} {
		v, ok, err := ParseValue(transcript(t, tt.file))
		if err != nil || v != tt.v || ok != tt.ok {
			t.Errorf("%s: got %q %v %v", tt.file, v, ok, err)
		}
	}
	if _, _, err := ParseValue("something else\n"); err == nil {
		t.Error("unexpected output must be an error")
	}
}

func TestParseExtraDataList(t *testing.T) {
	// The reference's transcript, plus a value holding the separator.
	out := "Key: GUI/LastCloseAction, Value: PowerOff\nKey: acme/managed-by, Value: mytool v1\nKey: labctl/state, Value: /home/a, Value: b\n"
	m, err := ParseExtraDataList(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"GUI/LastCloseAction": "PowerOff", "acme/managed-by": "mytool v1", "labctl/state": "/home/a, Value: b"}
	if len(m) != len(want) {
		t.Fatalf("got %v, want %v", m, want)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	if m, err := ParseExtraDataList(""); err != nil || len(m) != 0 {
		t.Errorf("no keys: %v %v", m, err)
	}
	if _, err := ParseExtraDataList("Value: x\n"); err == nil || !strings.Contains(err.Error(), `"Value: x"`) {
		t.Errorf("a foreign line: %v", err)
	}
}
