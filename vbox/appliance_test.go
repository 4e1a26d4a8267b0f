package vbox

import (
	"os"
	"reflect"
	"testing"
)

func TestParseImportReport(t *testing.T) {
	b, err := os.ReadFile("../testdata/vbox/import-n-7.1-vagrant.txt")
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseImportReport(string(b))
	if err != nil {
		t.Fatal(err)
	}
	want := VirtualSystem{
		OSType: "Ubuntu_64", Name: "ubuntu-22.04-amd64", Group: "/",
		SettingsFile: "/home/u/VirtualBox VMs/ubuntu-22.04-amd64/ubuntu-22.04-amd64.vbox", BaseFolder: "/home/u/VirtualBox VMs",
		CPUs: 2, MemoryMB: 2048, NICs: []string{"orig NAT, config 3, extra slot=0;type=NAT"},
		HardDisks: []ApplianceHardDisk{{Unit: 9, Source: "ubuntu-22.04-amd64-disk001.vmdk", Target: "ubuntu-22.04-amd64-disk001.vmdk"}},
	}
	if len(a.Systems) != 1 || !reflect.DeepEqual(a.Systems[0], want) {
		t.Errorf("got %+v\nwant %+v", a.Systems, want)
	}
	if len(a.Disks) != 1 || a.Disks[0] != (ApplianceDisk{ID: "vmdisk1", Capacity: 68719476736, Format: "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized", Href: "ubuntu-22.04-amd64-disk001.vmdk"}) {
		t.Errorf("disks %+v", a.Disks)
	}
}

// Override forms, 6.1.32's channel= suffix, a licence, a target path with
// a comma (the greedy match runs to the last ", ") and a disabled disk.
func TestParseImportReportOverrides(t *testing.T) {
	b, err := os.ReadFile("../testdata/vbox/import-n-6.1.32-overrides.txt")
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseImportReport(string(b))
	if err != nil {
		t.Fatal(err)
	}
	vs := a.Systems[0]
	if vs.Name != "base, with comma" || vs.Group != "/labctl-bases" || vs.CPUs != 4 || vs.MemoryMB != 4096 || !vs.EULA {
		t.Errorf("%+v", vs)
	}
	want := []ApplianceHardDisk{{Unit: 10, Source: "centos-disk1.vmdk", Target: "/tmp/a, b/centos-disk1.vmdk"}, {Unit: 11, Source: "centos-disk2.vmdk", Disabled: true}}
	if !reflect.DeepEqual(vs.HardDisks, want) {
		t.Errorf("disks %+v", vs.HardDisks)
	}
	if _, err := ParseImportReport("0%...100%\n"); err == nil {
		t.Error("a report without a virtual system parsed")
	}
}

func TestParseHostArchitectures(t *testing.T) {
	for out, want := range map[string][]string{
		"Host platform properties:\n\nSupported platform architectures: ARMv8\n\nARMv8 platform properties:\n": {"ARMv8"},
		"Supported platform architectures: x86,ARMv8\n":                                                        {"x86", "ARMv8"},
		"API version:  7_0\n": {"x86"},
	} {
		if got := ParseHostArchitectures(out); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %v, want %v", out, got, want)
		}
	}
}
