package vboxtest

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"labctl/internal/ovf"
)

// Appliance describes an OVA, OVF or Vagrant box to write for a test. Its
// disk is a fake disk image: the guest it holds, as the fake reads it.
type Appliance struct {
	Name        string // system name (default "alma9-base")
	OSType      string // default "RedHat_64"
	Arch        string // "" (x86) or "ARM"
	CPUs        int    // default 2
	MemoryMB    int    // default 2048
	VBoxMachine bool   // has a vbox:Machine section (VirtualBox exports and Vagrant boxes do)
	License     string
	NoManifest  bool
	DiskFormat  string // default streamOptimized VMDK

	GAVersion   string            // Guest Additions in the image ("" = none)
	GuestOSType string            // what those report, e.g. "RedHat_64"
	OSRelease   string            // /etc/os-release of the image
	Credentials map[string]string // guest accounts: user -> password
}

func (a Appliance) withDefaults() Appliance {
	if a.Name == "" {
		a.Name = "alma9-base"
	}
	if a.OSType == "" {
		a.OSType = "RedHat_64"
	}
	if a.CPUs == 0 {
		a.CPUs = 2
	}
	if a.MemoryMB == 0 {
		a.MemoryMB = 2048
	}
	if a.DiskFormat == "" {
		a.DiskFormat = ovf.FormatStreamVMDK
	}
	return a
}

func (a Appliance) members(base string) []ovf.Member {
	a = a.withDefaults()
	disk := base + "-disk001.vmdk"
	img, _ := json.MarshalIndent(map[string]any{"fakevboxDisk": 1, "gaVersion": a.GAVersion, "gaRevision": "161095",
		"guestOsType": a.GuestOSType, "osRelease": a.OSRelease, "credentials": a.Credentials}, "", "  ")
	d := &ovf.Descriptor{Name: a.Name, OSType: a.OSType, Arch: a.Arch, CPUs: a.CPUs, MemoryMB: a.MemoryMB,
		VBoxMachine: a.VBoxMachine, License: a.License, NICs: []ovf.NIC{{Mode: "NAT", MAC: "080027AABBCC"}},
		Disks: []ovf.Disk{{ID: "vmdisk1", Href: disk, Format: a.DiskFormat, Capacity: 21474836480}}}
	return []ovf.Member{{Name: base + ".ovf", Data: d.Marshal()}, {Name: disk, Data: img}}
}

// WriteOVA writes the appliance as an OVA at path (with a SHA256 manifest
// unless NoManifest).
func (f *Fake) WriteOVA(path string, a Appliance) {
	f.t.Helper()
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	alg := "SHA256"
	if a.NoManifest {
		alg = ""
	}
	if err := ovf.WriteOVA(path, a.members(base), alg); err != nil {
		f.t.Fatal(err)
	}
}

// WriteBox writes a Vagrant box for the virtualbox provider (tar.gz with
// metadata.json, box.ovf, its disk and a Vagrantfile, members named "./x"
// as `vagrant package` makes them). provider "" = "virtualbox".
func (f *Fake) WriteBox(path string, a Appliance, provider string) {
	f.t.Helper()
	if provider == "" {
		provider = "virtualbox"
	}
	a.VBoxMachine = true
	out, err := os.Create(path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer out.Close()
	gz := gzip.NewWriter(out)
	tw := tar.NewWriter(gz)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: "./" + name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			f.t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			f.t.Fatal(err)
		}
	}
	add("Vagrantfile", []byte("Vagrant::Config.run do |config|\n  config.vm.base_mac = \"080027AABBCC\"\nend\n"))
	for _, m := range a.members("box") {
		add(m.Name, m.Data)
	}
	add("metadata.json", []byte(`{"provider":"`+provider+`"}`))
	if err := tw.Close(); err != nil {
		f.t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		f.t.Fatal(err)
	}
}

// SetHostArch makes the fake a VirtualBox 7.1 host of that architecture
// ("ARMv8" = Apple silicon, "" = x86); it sets the version to 7.1.12.
func (f *Fake) SetHostArch(arch string) {
	f.SetVersion("7.1.12r169651")
	f.ctl("", "set-host-arch", arch)
}

// SetVMArch sets a VM's platform architecture ("" = x86, "ARM").
func (f *Fake) SetVMArch(vm, arch string) { f.ctl("", "set-vm-arch", vm, arch) }
