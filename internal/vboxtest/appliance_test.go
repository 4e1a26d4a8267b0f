package vboxtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func contains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// Every failing import and export below leaves the installation as it was.
func TestFakeApplianceErrors(t *testing.T) {
	f := New(t)
	dir := t.TempDir()
	ova := filepath.Join(dir, "b.ova")
	f.WriteOVA(ova, Appliance{Name: "b", VBoxMachine: true})
	names := strings.Join(f.State().Names(), ",")

	r := expect(t, f, 2, "import")
	contains(t, "no file", r.Stderr, "VBoxManage: error: Not enough arguments for \"import\" command.", "Usage:")
	r = expect(t, f, 2, "import", ova, "other.ova")
	equal(t, "second operand", r.Stderr, "VBoxManage: error: Invalid parameter 'other.ova'\n")
	r = expect(t, f, 2, "import", ova, "--vmname", "x")
	equal(t, "vmname before vsys", r.Stderr, "VBoxManage: error: Option \"--vmname\" requires preceding --vsys or --cloud option.\n")
	r = expect(t, f, 2, "import", ova, "--vsys", "0", "--disk", "x")
	equal(t, "disk before unit", r.Stderr, "VBoxManage: error: Option \"--disk\" requires preceding --unit option.\n")
	r = expect(t, f, 2, "import", ova, "--vsys", "0", "--cpus", "65")
	equal(t, "cpus", r.Stderr, "VBoxManage: error: Argument to --cpus option must be a number greater than 0 and less than 65.\n")
	r = expect(t, f, 2, "import", ova, "--options", "keepextradata")
	equal(t, "options", r.Stderr, "VBoxManage: error: Invalid import options 'keepextradata'\n")
	r = expect(t, f, 2, "import", ova, "--vsys", "1", "--vmname", "x")
	contains(t, "vsys beyond", r.Stderr, "Interpreting "+ova+"...\nOK.\nVBoxManage: error: Invalid index 1 with -vsys option; the OVF contains only 1 virtual system(s).\n")

	missing := filepath.Join(dir, "absent.ova")
	r = expect(t, f, 1, "import", missing, "-n")
	equal(t, "missing OVA", r.Stderr, "0%...VBOX_E_OBJECT_NOT_FOUND\n"+
		"VBoxManage: error: Appliance read failed\n"+
		"VBoxManage: error: Error opening the OVA file '"+missing+"' (VERR_FILE_NOT_FOUND)\n"+
		"VBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component ApplianceWrap, interface IAppliance\n"+
		"VBoxManage: error: Context: \"RTEXITCODE handleImportAppliance(HandlerArg*)\" at line 1447 of file VBoxManageAppliance.cpp\n")
	r = expect(t, f, 1, "import", filepath.Join(dir, "b.zip"))
	contains(t, "extension", r.Stderr, "VBoxManage: error: Appliance file must have .ovf or .ova extension\n",
		"interface IAppliance, callee nsISupports", "Context: \"Read(Bstr(pszAbsFilePath).raw(), progressRead.asOutParam())\"")
	notTar := filepath.Join(dir, "junk.ova")
	os.WriteFile(notTar, []byte(strings.Repeat("junk", 300)), 0o644)
	r = expect(t, f, 1, "import", notTar, "-n")
	contains(t, "not a tar", r.Stderr, "Error reading OVA '"+notTar+"' (VERR_TAR_", "VBOX_E_IPRT_ERROR")

	// Reports.
	r = expect(t, f, 0, "import", ova, "-n")
	if r.Stderr != bar+"Interpreting "+ova+"...\nOK.\n" {
		t.Errorf("dry-run stderr:\n%s", r.Stderr)
	}
	contains(t, "report", r.Stdout, "Disks:\n  vmdisk1\t21474836480\t-1\thttp://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized\tb-disk001.vmdk\t-1\t-1\t\n\nVirtual system 0:\n",
		" 0: Suggested OS type: \"RedHat_64\"\n", " 1: Suggested VM name \"b\"\n", " 5: Number of CPUs: 2\n", " 7: Network adapter: orig NAT, config 3, extra slot=0;type=NAT\n",
		" 8: SATA controller, type AHCI\n", " 9: Hard disk image: source image=b-disk001.vmdk, target path=b-disk001.vmdk, controller=8;port=0\n")
	f.SetVersion("6.1.32r149290")
	contains(t, "6.1.32 report", expect(t, f, 0, "import", ova, "-n").Stdout, "controller=8;channel=0\n    (change target path with \"--vsys 0 --unit 9 --disk path\";\n    disable with \"--vsys 0 --unit 9 --ignore\")\n")
	f.SetVersion(DefaultVersion)

	eula := filepath.Join(dir, "eula.ova")
	f.WriteOVA(eula, Appliance{Name: "e", License: "Terms."})
	for _, args := range [][]string{{"import", eula, "-n"}, {"import", eula}} {
		r = expect(t, f, 0, args...)
		contains(t, "EULA", r.Stdout, "End-user license agreement\n    (display with \"--vsys 0 --eula show\";")
		contains(t, "EULA", r.Stderr, "VBoxManage: error: Cannot import until the license agreement listed above is accepted.\n")
	}
	r = expect(t, f, 1, "import", ova, "--options", "keepallmacs,keepnatmacs")
	contains(t, "both keep options", r.Stderr, "Code NS_ERROR_INVALID_ARG (0x80070057) - Invalid argument value (extended info not available)")

	// Export errors.
	r = expect(t, f, 2, "export", "--output", filepath.Join(dir, "x.ova"))
	contains(t, "no VM", r.Stderr, "At least one machine must be specified with the export command.")
	r = expect(t, f, 2, "export", BaseVM)
	contains(t, "no output", r.Stderr, "Missing --output argument with export command.")
	r = expect(t, f, 2, "export", BaseVM, "-o", "a.ova", "--output", "b.ova")
	contains(t, "two outputs", r.Stderr, "You can only specify --output once.")
	r = expect(t, f, 2, "export", BaseVM, "-o", "a.ova", "--options", "bogus")
	equal(t, "export options", r.Stderr, "VBoxManage: error: Invalid export options 'bogus'\n")
	r = expect(t, f, 1, "export", "nope", "-o", filepath.Join(dir, "x.ova"))
	contains(t, "unknown VM", r.Stderr, "Could not find a registered machine named 'nope'", "Context: \"FindMachine(Bstr(strMachine).raw(), machine.asOutParam())\"")
	r = expect(t, f, 1, "export", BaseVM, "-o", filepath.Join(dir, "x.tar"))
	contains(t, "export extension", r.Stderr, "Appliance file must have .ovf or .ova extension", "Context: \"Write(")
	r = expect(t, f, 1, "export", BaseVM, "-o", ova)
	equal(t, "existing OVA", r.Stderr, "0%...VBOX_E_IPRT_ERROR\n"+
		"VBoxManage: error: Appliance write failed\n"+
		"VBoxManage: error: Failed to open '"+ova+"' for writing (VERR_ALREADY_EXISTS)\n"+
		"VBoxManage: error: Details: code VBOX_E_IPRT_ERROR (0x80bb0005), component ApplianceWrap, interface IAppliance\n"+
		"VBoxManage: error: Context: \"RTEXITCODE handleExportAppliance(HandlerArg*)\" at line 2028 of file VBoxManageAppliance.cpp\n")
	if got := strings.Join(f.State().Names(), ","); got != names {
		t.Errorf("VMs changed by failing calls: %s, were %s", got, names)
	}
	expect(t, f, 0, "startvm", "ubuntu-22.04", "--type", "headless")
	names = strings.Join(f.State().Names(), ",")
	r = expect(t, f, 1, "export", "ubuntu-22.04", "-o", filepath.Join(dir, "running.ova"))
	contains(t, "running VM", r.Stderr, "is locked for writing by another task", "VBOX_E_INVALID_OBJECT_STATE")
	if _, err := os.Stat(filepath.Join(dir, "running.ova")); !os.IsNotExist(err) {
		t.Error("a failed export left its file")
	}
	if got := strings.Join(f.State().Names(), ","); got != names {
		t.Errorf("VMs changed by failing calls: %s, were %s", got, names)
	}

	out := filepath.Join(dir, "ok.ova")
	r = expect(t, f, 0, "export", BaseVM, "--output", out, "--options", "manifest,nomacs")
	equal(t, "export stdout", r.Stdout, "Successfully exported 1 machine(s).\n")
	equal(t, "export stderr", r.Stderr, bar)
}

func TestFakeImportRealAndUniqueName(t *testing.T) {
	f := New(t)
	ova := filepath.Join(t.TempDir(), "b.ova")
	f.WriteOVA(ova, Appliance{Name: BaseVM, VBoxMachine: true, GAVersion: "7.0.14"})
	r := expect(t, f, 0, "import", ova, "-n")
	contains(t, "unique suggestion", r.Stdout, " 1: Suggested VM name \"AlmaLinux-8.4 1\"\n")
	r = expect(t, f, 0, "import", ova, "--vsys", "0", "--vmname", "imported", "--group", "/bases")
	contains(t, "overrides", r.Stdout, " 1: VM name specified with --vmname: \"imported\"\n", " 2: VM group specified with --group: \"/bases\"\n", "Successfully imported the appliance.\n")
	v := f.State().VM("imported")
	if v == nil || v.Groups[0] != "/bases" || v.NICs[0].MAC == "080027AABBCC" || v.CfgFile != filepath.Join(f.Home, "VirtualBox VMs", "bases", "imported", "imported.vbox") {
		t.Fatalf("imported VM %+v", v)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(v.CfgFile), "b-disk001.vmdk")); err != nil {
		t.Errorf("disk not copied into the machine folder: %v", err)
	}
	// The same name and folder again: the settings file exists (disks first, §2.2).
	r = expect(t, f, 1, "import", ova, "--vsys", "0", "--vmname", "imported", "--group", "/bases")
	contains(t, "again", r.Stderr, "Could not create the imported medium", "(VERR_ALREADY_EXISTS)")
	r = expect(t, f, 0, "import", ova, "--vsys", "0", "--vmname", "kept", "--options", "keepallmacs")
	if v := f.State().VM("kept"); v.NICs[0].MAC != "080027AABBCC" {
		t.Errorf("keepallmacs: MAC %s", v.NICs[0].MAC)
	}
}

func TestFakeHostArchitectures(t *testing.T) {
	f := New(t)
	equal(t, "7.0 systemproperties", expect(t, f, 0, "list", "systemproperties").Stdout, "")
	f.SetHostArch("ARMv8")
	contains(t, "7.1 ARM", expect(t, f, 0, "list", "systemproperties").Stdout, "Supported platform architectures: ARMv8\n")
	contains(t, "platformArchitecture", expect(t, f, 0, "showvminfo", BaseVM, "--machinereadable").Stdout, "groups=\"/\"\nplatformArchitecture=\"x86\"\nostype=")
}
