package main

// import and export: a real OVA (a tar holding the OVF descriptor, the
// machine's root filesystem as its one disk, and a manifest), read back by
// import. The disk is a tar of the root filesystem (format diskFormat),
// not a VMDK: this backend's "disks" are directory trees. The command
// lines, reports, messages and exit codes are VirtualBox's (see the
// appliance reference the fake VBoxManage follows).

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"labctl/internal/ovf"
)

// diskFormat marks a disk that is a tar of a root filesystem.
const diskFormat = "urn:labctl:nspawnvbox:rootfs-tar"

var osTypeIDs = map[string]string{"Debian (64-bit)": "Debian_64", "Debian 12 (64-bit)": "Debian12_64", "Red Hat (64-bit)": "RedHat_64", "Ubuntu (64-bit)": "Ubuntu_64"}

func osTypeID(desc string) string {
	if id, ok := osTypeIDs[desc]; ok {
		return id
	}
	return desc
}

func osTypeDesc(id string) string {
	for d, i := range osTypeIDs {
		if i == id {
			return d
		}
	}
	return id
}

// applianceFail prints a failed progress and the "Appliance ... failed" triplet.
func applianceFail(head, msg, code, handler string) error {
	fmt.Fprintf(os.Stderr, "0%%...%s\n", strings.Fields(code)[0])
	errorf("%s\n%s", head, msg)
	errorf("Details: code %s, component ApplianceWrap, interface IAppliance", code)
	errorf("Context: \"RTEXITCODE %s(HandlerArg*)\" at line 1447 of file VBoxManageAppliance.cpp", handler)
	return exitErr{1}
}

func extFail(context string) error {
	return apiError("Appliance file must have .ovf or .ova extension", codeFileError, "ApplianceWrap", "IAppliance", context)
}

// rootLayers are a powered-off VM's layers, topmost first, empty ones left out.
func rootLayers(s *store, vm *VM) []string {
	var out []string
	for _, l := range append([]string{filepath.Join(s.vmDir(vm.UUID), "upper")}, vm.Lowers...) {
		if ents, err := os.ReadDir(l); err == nil && len(ents) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// cmdExport: export VM --output FILE [--options manifest,nomacs,...] [--manifest] [--vsys 0 --vmname N]
func cmdExport(s *store, args []string) error {
	p, err := getopt{withValue: set("--output", "-o", "--options", "--vsys", "--vmname", "--description"), flags: set("--manifest", "--ovf10", "--ovf20")}.parse(args)
	if err != nil {
		return syntaxError("%v", err)
	}
	if len(p.operands) == 0 {
		return syntaxError("At least one machine must be specified with the export command.")
	}
	out, ok := p.get("--output")
	if o, ok2 := p.get("-o"); ok2 {
		out, ok = o, true
	}
	if !ok {
		return syntaxError("Missing --output argument with export command.")
	}
	manifest := false
	if _, ok := p.get("--manifest"); ok {
		manifest = true
	}
	if o, ok := p.get("--options"); ok {
		for _, w := range strings.Split(o, ",") {
			switch strings.ToLower(w) {
			case "manifest":
				manifest = true
			case "nomacs", "nomacsbutnat", "iso":
			default:
				errorf("Invalid export options '%s'", o)
				return exitErr{2}
			}
		}
	}
	if len(p.operands) > 1 {
		errorf("exporting several machines is not implemented by this backend")
		return exitErr{1}
	}
	vm, err := s.mustFind(p.operands[0], `"FindMachine(Bstr(strMachine).raw(), machine.asOutParam())" at line 1937 of file VBoxManageAppliance.cpp`)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(out)
	if !strings.EqualFold(filepath.Ext(abs), ".ova") {
		return extFail(`"Write(Bstr(strOvfFormat).raw(), ComSafeArrayAsInParam(options), Bstr(pszAbsFilePath).raw(), progress.asOutParam())" at line 2018 of file VBoxManageAppliance.cpp`)
	}
	if isActive(s.vmState(vm)) {
		return applianceFail("Appliance write failed", fmt.Sprintf("Medium '%s' is locked for writing by another task", filepath.Join(s.vmDir(vm.UUID), "root")), codeInvalidObj, "handleExportAppliance")
	}
	if fileExists(abs) {
		return applianceFail("Appliance write failed", fmt.Sprintf("Failed to open '%s' for writing (VERR_ALREADY_EXISTS)", abs), codeIPRT, "handleExportAppliance")
	}
	name := vm.Name
	if n, ok := p.get("--vmname"); ok {
		name = n
	}
	base := strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs))
	diskName := base + "-disk001.tar"
	tmp := filepath.Join(filepath.Dir(abs), "."+diskName+".tmp")
	defer os.Remove(tmp)
	fmt.Fprint(os.Stderr, "0%...")
	if err := tarRoot(s, vm, tmp); err != nil {
		fmt.Fprintln(os.Stderr, "VBOX_E_FILE_ERROR")
		errorf("Appliance write failed\n%v", err)
		return exitErr{1}
	}
	st, _ := os.Stat(tmp)
	d := &ovf.Descriptor{Name: name, OSType: osTypeID(vm.OSType), CPUs: vm.CPUs, MemoryMB: vm.MemoryMB, VBoxMachine: true,
		NICs:  []ovf.NIC{{Mode: "NAT"}}, // exported without MAC addresses
		Disks: []ovf.Disk{{ID: "vmdisk1", Href: diskName, Format: diskFormat, Capacity: st.Size()}}}
	alg := ""
	if manifest {
		alg = "SHA1"
		if _, ok := p.get("--ovf20"); ok {
			alg = "SHA256"
		}
	}
	if err := ovf.WriteOVA(abs, []ovf.Member{{Name: base + ".ovf", Data: d.Marshal()}, {Name: diskName, Path: tmp}}, alg); err != nil {
		fmt.Fprintln(os.Stderr, "VBOX_E_IPRT_ERROR")
		errorf("Appliance write failed\n%v", err)
		return exitErr{1}
	}
	fmt.Fprintln(os.Stderr, strings.TrimPrefix(progressFullLine, "0%..."))
	fmt.Println("Successfully exported 1 machine(s).")
	return nil
}

// tarRoot writes the VM's root filesystem as a tar: its one layer as it is,
// or its layers merged through a read-only overlay mount.
func tarRoot(s *store, vm *VM, dst string) error {
	layers := rootLayers(s, vm)
	if len(layers) == 0 {
		return fmt.Errorf("VM %s has no root filesystem", vm.Name)
	}
	src := layers[0]
	if len(layers) > 1 {
		mnt := filepath.Join(s.vmDir(vm.UUID), "export-root")
		if err := os.MkdirAll(mnt, 0o755); err != nil {
			return err
		}
		if err := syscall.Mount("overlay", mnt, "overlay", syscall.MS_RDONLY, "lowerdir="+strings.Join(layers, ":")); err != nil {
			return fmt.Errorf("mount the layers of %s: %w", vm.Name, err)
		}
		defer func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH); os.Remove(mnt) }()
		src = mnt
	}
	out, err := exec.Command("tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", src, "-cf", dst, ".").CombinedOutput()
	if err != nil {
		return fmt.Errorf("tar the root filesystem of %s: %v: %s", vm.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// readOVA reads the descriptor of an OVA (the .ovf member).
func readOVA(abs string) (*ovf.Descriptor, error) {
	f, err := os.Open(abs)
	if err != nil {
		return nil, applianceFail("Appliance read failed", fmt.Sprintf("Error opening the OVA file '%s' (VERR_FILE_NOT_FOUND)", abs), codeNotFound, "handleImportAppliance")
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReader(f))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, applianceFail("Appliance read failed", fmt.Sprintf("OVA '%s' does not contain an .ovf-file", abs), codeFileError, "handleImportAppliance")
		}
		if err != nil {
			return nil, applianceFail("Appliance read failed", fmt.Sprintf("Error reading OVA '%s' (VERR_TAR_BAD_CHKSUM_FIELD)", abs), codeIPRT, "handleImportAppliance")
		}
		if strings.EqualFold(filepath.Ext(h.Name), ".ovf") {
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			d, _, err := ovf.Unmarshal(b)
			if err != nil {
				return nil, applianceFail("Appliance read failed", fmt.Sprintf("%v.\nLocation: '%s', line 1 (1), column 1", err, abs), codeFileError, "handleImportAppliance")
			}
			return d, nil
		}
	}
}

// cmdImport: import FILE.ova [-n] [--vsys 0 --vmname N --group G ...]
func cmdImport(s *store, args []string) error {
	p, err := getopt{
		withValue: set("--vsys", "--vmname", "--group", "--options", "--basefolder", "--memory", "--cpus", "--ostype", "--unit", "--disk", "--settingsfile", "--description", "--eula"),
		flags:     set("-n", "--dry-run", "--dryrun", "--ignore"),
	}.parse(args)
	if err != nil {
		return syntaxError("%v", err)
	}
	if len(p.operands) == 0 {
		return syntaxError("Not enough arguments for \"import\" command.")
	}
	if len(p.operands) > 1 {
		errorf("Invalid parameter '%s'", p.operands[1])
		return exitErr{2}
	}
	dry := false
	for _, f := range []string{"-n", "--dry-run", "--dryrun"} {
		if _, ok := p.get(f); ok {
			dry = true
		}
	}
	abs, _ := filepath.Abs(p.operands[0])
	switch strings.ToLower(filepath.Ext(abs)) {
	case ".ova":
	case ".ovf":
		errorf("importing a loose .ovf is not implemented by this backend: use an .ova")
		return exitErr{1}
	default:
		return extFail(`"Read(Bstr(pszAbsFilePath).raw(), progressRead.asOutParam())" at line 506 of file VBoxManageAppliance.cpp`)
	}
	d, err := readOVA(abs)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, progressFullLine)
	fmt.Fprintf(os.Stderr, "Interpreting %s...\n", abs)
	if len(d.Disks) != 1 || d.Disks[0].Format != diskFormat {
		format := ""
		href := ""
		if len(d.Disks) > 0 {
			format, href = d.Disks[0].Format, d.Disks[0].Href
		}
		return apiError(fmt.Sprintf("Unsupported format for virtual disk image %s in OVF: \"%s\"", href, format), codeFileError, "ApplianceWrap", "IAppliance", `"Interpret()" at line 586 of file VBoxManageAppliance.cpp`)
	}
	fmt.Fprintln(os.Stderr, "OK.")
	name, nameGiven := p.get("--vmname")
	if !nameGiven {
		name = d.Name
	}
	group, groupGiven := p.get("--group")
	if !groupGiven {
		group = "/"
	}
	folder := filepath.Join(s.home, "VirtualBox VMs")
	sfx := ""
	if group != "/" {
		sfx = group
	}
	settings := filepath.Join(folder, filepath.FromSlash(sfx), d.Name, d.Name+".vbox")
	dk := d.Disks[0]
	fmt.Printf("Disks:\n  %s\t%d\t-1\t%s\t%s\t-1\t-1\t\n\nVirtual system 0:\n", dk.ID, dk.Capacity, dk.Format, dk.Href)
	fmt.Printf(" 0: Suggested OS type: \"%s\"\n    (change with \"--vsys 0 --ostype <type>\"; use \"list ostypes\" to list all possible values)\n", d.OSType)
	if nameGiven {
		fmt.Printf(" 1: VM name specified with --vmname: \"%s\"\n", name)
	} else {
		fmt.Printf(" 1: Suggested VM name \"%s\"\n    (change with \"--vsys 0 --vmname <name>\")\n", name)
	}
	if groupGiven {
		fmt.Printf(" 2: VM group specified with --group: \"%s\"\n", group)
	} else {
		fmt.Printf(" 2: Suggested VM group \"/\"\n    (change with \"--vsys 0 --group <group>\")\n")
	}
	fmt.Printf(" 3: Suggested VM settings file name \"%s\"\n    (change with \"--vsys 0 --settingsfile <filename>\")\n", settings)
	fmt.Printf(" 4: Suggested VM base folder \"%s\"\n    (change with \"--vsys 0 --basefolder <path>\")\n", folder)
	fmt.Printf(" 5: Number of CPUs: %d\n    (change with \"--vsys 0 --cpus <n>\")\n", d.CPUs)
	fmt.Printf(" 6: Guest memory: %d MB\n    (change with \"--vsys 0 --memory <MB>\")\n", d.MemoryMB)
	fmt.Printf(" 7: Network adapter: orig NAT, config 3, extra slot=0;type=NAT\n")
	fmt.Printf(" 8: SATA controller, type AHCI\n    (disable with \"--vsys 0 --unit 8 --ignore\")\n")
	fmt.Printf(" 9: Hard disk image: source image=%s, target path=%s, controller=8;port=0\n    (change target path with \"--vsys 0 --unit 9 --disk path\";\n    change controller with \"--vsys 0 --unit 9 --controller <index>\";\n    change controller port with \"--vsys 0 --unit 9 --port <n>\";\n    disable with \"--vsys 0 --unit 9 --ignore\")\n", dk.Href, dk.Href)
	if dry {
		return nil
	}
	s.lock()
	defer s.unlock()
	for _, vm := range s.all() {
		if vm.Name == name && len(vm.Groups) > 0 && vm.Groups[0] == group {
			return applianceFail("Appliance import failed", fmt.Sprintf("Machine settings file '%s' already exists", s.cfgFile(vm)), codeFileError, "handleImportAppliance")
		}
	}
	vm := &VM{
		UUID: newUUID(), Name: name, Groups: []string{group}, OSType: osTypeDesc(d.OSType), CPUs: d.CPUs, MemoryMB: d.MemoryMB,
		NIC:       NIC{Type: "nat", MAC: newMAC(), Cable: true, NICType: "82540EM"},
		ExtraData: map[string]string{}, GuestProps: map[string]Prop{},
		State: "poweroff", StateChange: time.Now().UTC(), Registered: time.Now().UnixNano(),
	}
	disk := filepath.Join(s.vmDir(vm.UUID), "disk")
	vm.Lowers = []string{disk}
	fail := func(msg string) error {
		os.RemoveAll(s.vmDir(vm.UUID))
		return applianceFail("Appliance import failed", msg, codeFileError, "handleImportAppliance")
	}
	if err := s.initLayers(vm); err != nil {
		return err
	}
	if err := os.MkdirAll(disk, 0o755); err != nil {
		return fail(err.Error())
	}
	if err := untarMember(abs, dk.Href, disk); err != nil {
		return fail(fmt.Sprintf("Could not create the imported medium '%s'.\n%v", disk, err))
	}
	// The manifest is compared after the data was copied, as VirtualBox does.
	if _, err := ovf.CheckOVA(abs); err != nil {
		var de *ovf.DigestError
		if errors.As(err, &de) {
			if de.Got == "" {
				return fail(fmt.Sprintf("Digest mismatch (VERR_NOT_EQUAL): '%s' not found in the 2nd manifest", de.File))
			}
			return fail(fmt.Sprintf("Digest mismatch (VERR_NOT_EQUAL): Attribute '%s' on '%s' does not match ('%s' vs. '%s')", de.Alg, de.File, de.Want, de.Got))
		}
		return fail(err.Error())
	}
	if err := s.save(vm); err != nil {
		return fail(err.Error())
	}
	fmt.Fprintln(os.Stderr, progressFullLine)
	fmt.Println("Successfully imported the appliance.")
	return nil
}

// untarMember unpacks the tar stored as member name of the OVA into dir,
// keeping owners, modes and extended attributes.
func untarMember(ova, name, dir string) error {
	f, err := os.Open(ova)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReaderSize(f, 1<<20))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return fmt.Errorf("VD: error opening '%s' (VERR_FILE_NOT_FOUND)", name)
		}
		if err != nil {
			return err
		}
		if strings.TrimPrefix(h.Name, "./") != name {
			continue
		}
		cmd := exec.Command("tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-xpf", "-", "-C", dir)
		cmd.Stdin = tr
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("unpack %s: %v: %s", name, err, strings.TrimSpace(string(out)))
		}
		return nil
	}
}
