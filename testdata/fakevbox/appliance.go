package main

// import (dry run and real) and export, per the appliance reference
// (vboxmanage-appliances.md §1–§3, checklist §7). The fake's disk images are
// small JSON files describing the guest (Guest Additions, accounts, OS),
// standing for the disk contents a real image carries.

import (
	"archive/tar"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"labctl/internal/ovf"
)

// diskImage is the content of a fake disk file.
type diskImage struct {
	Fake        int               `json:"fakevboxDisk"`
	GAVersion   string            `json:"gaVersion,omitempty"`
	GARevision  string            `json:"gaRevision,omitempty"`
	GuestOSType string            `json:"guestOsType,omitempty"`
	OSRelease   string            `json:"osRelease,omitempty"` // /etc/os-release
	Credentials map[string]string `json:"credentials,omitempty"`
}

// osTypes maps OS type ids to showvminfo's description (7.1 table forms).
var osTypes = map[string]string{
	"RedHat_64": "Red Hat (64-bit)", "RedHat9_64": "Red Hat 9.x (64-bit)", "RedHat_arm64": "Red Hat (ARM 64-bit)",
	"RedHat9_arm64": "Red Hat 9.x (ARM 64-bit)", "Oracle_64": "Oracle Linux (64-bit)", "Oracle8_64": "Oracle Linux 8.x (64-bit)",
	"Oracle9_64": "Oracle Linux 9.x (64-bit)", "Oracle9_arm64": "Oracle Linux 9.x (ARM 64-bit)", "Debian_64": "Debian (64-bit)",
	"Debian12_64": "Debian 12 (64-bit)", "Debian_arm64": "Debian (ARM 64-bit)", "Ubuntu_64": "Ubuntu (64-bit)",
	"Ubuntu_arm64": "Ubuntu (ARM 64-bit)", "Other_64": "Other/Unknown (64-bit)", "Other_arm64": "Other/Unknown (ARM 64-bit)",
}

func osDescription(id string) string {
	if d, ok := osTypes[id]; ok {
		return d
	}
	return id // the raw id when unknown (§5.1)
}

func isV71() bool {
	return strings.HasPrefix(cfg.Version, "7.1") || strings.HasPrefix(cfg.Version, "7.2")
}

// oldDiskLines: 6.1.32 and older print controller=N;channel=M with two hints (§1.6).
func oldDiskLines() bool {
	v := versionNumber()
	p := strings.Split(v, ".")
	if len(p) < 3 || p[0] != "6" && p[0] != "5" {
		return false
	}
	if p[0] == "5" {
		return true
	}
	minor, _ := strconv.Atoi(p[1])
	build, _ := strconv.Atoi(p[2])
	return minor == 0 || minor == 1 && build < 34
}

// sanitiseMachineFilename is §1.4's rule.
func sanitiseMachineFilename(name string) string {
	r := []rune(name)
	for i, c := range r {
		ok := c == ' ' || c == '(' || c == ')' || c == '-' || c == '.' || c == '_' ||
			c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= 0xA0 && c <= 0xD7AF
		if !ok {
			r[i] = '_'
		}
	}
	if len(r) > 0 && (r[0] == '.' || r[0] == '-' || r[0] == ' ') {
		r[0] = '_'
	}
	if n := len(r); n > 0 && (r[n-1] == '.' || r[n-1] == ' ') {
		r[n-1] = '_'
	}
	return string(r)
}

func composeMachineFilename(base, group, name string) string {
	g := ""
	if group != "/" {
		g = filepath.FromSlash(group)
	}
	n := sanitiseMachineFilename(name)
	return filepath.Join(base, g, n, n+".vbox")
}

// applianceErr is a failed progress: the bar with its status, then the
// "Appliance read/import/write failed" triplet without callee (§0.5).
func applianceErr(pct int, head, msg, code, handler string, line int) int {
	progressFail(pct, code)
	apiErr{msg: head + "\n" + msg, code: code, component: "ApplianceWrap", iface: "IAppliance",
		context: fmt.Sprintf("RTEXITCODE %s(HandlerArg*)", handler), line: line, file: "VBoxManageAppliance.cpp", noCallee: true}.print()
	return 1
}

func extError(context string, line int) int {
	apiErr{msg: "Appliance file must have .ovf or .ova extension", code: "VBOX_E_FILE_ERROR", component: "ApplianceWrap", iface: "IAppliance",
		context: context, line: line, file: "VBoxManageAppliance.cpp"}.print()
	return 1
}

// appliance is a read package: descriptor plus a way to reach its files.
type appliance struct {
	path string // absolute
	ova  bool
	desc *ovf.Descriptor
	ovfN string
	mf   []byte // manifest bytes, nil = none
}

func (a *appliance) open(name string) (io.ReadCloser, error) {
	if !a.ova {
		return os.Open(filepath.Join(filepath.Dir(a.path), name))
	}
	f, err := os.Open(a.path)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			f.Close()
			if err == io.EOF {
				return nil, os.ErrNotExist
			}
			return nil, err
		}
		if strings.TrimPrefix(h.Name, "./") == name {
			return struct {
				io.Reader
				io.Closer
			}{tr, f}, nil
		}
	}
}

// readAppliance is IAppliance::Read plus the read progress; it prints the
// failure itself and returns a non-zero code on error.
func readAppliance(abs string) (*appliance, int) {
	a := &appliance{path: abs, ova: strings.EqualFold(filepath.Ext(abs), ".ova")}
	data := []byte(nil)
	if a.ova {
		f, err := os.Open(abs)
		if err != nil {
			return nil, applianceErr(0, "Appliance read failed", fmt.Sprintf("Error opening the OVA file '%s' (VERR_FILE_NOT_FOUND)", abs), "VBOX_E_OBJECT_NOT_FOUND", "handleImportAppliance", 1447)
		}
		defer f.Close()
		tr := tar.NewReader(f)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				// The exact VERR_TAR_* code depends on the bytes (UNCONFIRMED, §2.3).
				return nil, applianceErr(0, "Appliance read failed", fmt.Sprintf("Error reading OVA '%s' (VERR_TAR_BAD_CHKSUM_FIELD)", abs), "VBOX_E_IPRT_ERROR", "handleImportAppliance", 1447)
			}
			name := strings.TrimPrefix(h.Name, "./")
			switch strings.ToLower(filepath.Ext(name)) {
			case ".ovf":
				if data == nil {
					data, _ = io.ReadAll(tr)
					a.ovfN = name
				}
			case ".mf":
				b, _ := io.ReadAll(tr)
				if a.mf == nil && (data == nil || strings.TrimSuffix(name, ".mf") == strings.TrimSuffix(a.ovfN, filepath.Ext(a.ovfN))) {
					a.mf = b
				}
			}
		}
		if data == nil {
			return nil, applianceErr(0, "Appliance read failed", fmt.Sprintf("OVA '%s' does not contain an .ovf-file", abs), "VBOX_E_FILE_ERROR", "handleImportAppliance", 1447)
		}
	} else {
		b, err := os.ReadFile(abs)
		if err != nil {
			return nil, applianceErr(0, "Appliance read failed", fmt.Sprintf("Failed to open OVF file '%s' (VERR_FILE_NOT_FOUND)", abs), "VBOX_E_OBJECT_NOT_FOUND", "handleImportAppliance", 1447)
		}
		data, a.ovfN = b, filepath.Base(abs)
		if mf, err := os.ReadFile(strings.TrimSuffix(abs, filepath.Ext(abs)) + ".mf"); err == nil {
			a.mf = mf
		}
	}
	d, _, err := ovf.Unmarshal(data)
	if err != nil {
		msg := err.Error()
		line := 1
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			msg, line = se.Msg, se.Line
		}
		return nil, applianceErr(0, "Appliance read failed", fmt.Sprintf("%s.\nLocation: '%s', line %d (%d), column %d", msg, abs, line, line, 1), "VBOX_E_FILE_ERROR", "handleImportAppliance", 1447)
	}
	a.desc = d
	return a, 0
}

// importSettings is what the options gave for virtual system 0.
type importSettings struct {
	ostype, vmname, settingsfile, basefolder, group, description, eula string
	cpus, memory                                                       int
	units                                                              map[int]*unitSettings
}

type unitSettings struct {
	ignore           bool
	disk             string
	controller, port string
}

func cmdImport(a []string) int {
	spec := map[string]bool{
		"-n": false, "--dry-run": false, "--dryrun": false, "-dry-run": false, "--detailed-progress": false, "-P": false,
		"--options": true, "--vsys": true, "-vsys": true, "--ostype": true, "-ostype": true, "--vmname": true, "-vmname": true,
		"--settingsfile": true, "--basefolder": true, "--group": true, "--memory": true, "-memory": true, "--cpus": true,
		"--description": true, "--eula": true, "-eula": true, "--unit": true, "-unit": true, "--ignore": false, "-ignore": false,
		"--scsitype": true, "--disk": true, "--controller": true, "--port": true,
	}
	if oldDiskLines() {
		delete(spec, "--port")
		delete(spec, "--controller")
	}
	opts, ops, bad := getopt(a, fixedSpec(spec))
	if bad != "" {
		return syntaxError("import", fmt.Sprintf("Unknown option: %s", bad), 2)
	}
	dry := false
	keepAll, keepNAT, toVDI := false, false, false
	vsys, unit := -1, -1
	sets := map[int]*importSettings{}
	for _, o := range opts {
		name := "--" + strings.TrimLeft(o.name, "-")
		switch name {
		case "--n", "--dry-run", "--dryrun":
			dry = true
		case "--detailed-progress", "--P":
		case "--options":
			for _, tok := range strings.Split(o.value, ",") {
				t := strings.ToLower(strings.TrimSpace(tok))
				switch {
				case t != "" && strings.HasPrefix("keepallmacs", t):
					keepAll = true
				case t != "" && strings.HasPrefix("keepnatmacs", t):
					keepNAT = true
				case t != "" && strings.HasPrefix("importtovdi", t):
					toVDI = true
				default:
					errLines(fmt.Sprintf("Invalid import options '%s'", o.value))
					return 2
				}
			}
		case "--vsys":
			n, err := strconv.Atoi(o.value)
			if err != nil || n < 0 {
				errLines(fmt.Sprintf("Invalid index %s with -vsys option", o.value))
				return 2
			}
			vsys, unit = n, -1
			if sets[n] == nil {
				sets[n] = &importSettings{units: map[int]*unitSettings{}}
			}
		case "--ostype", "--vmname", "--settingsfile", "--basefolder", "--group", "--memory", "--cpus", "--description", "--eula":
			if vsys < 0 {
				errLines(fmt.Sprintf("Option \"%s\" requires preceding --vsys or --cloud option.", o.name))
				return 2
			}
			s := sets[vsys]
			switch name {
			case "--ostype":
				s.ostype = o.value
			case "--vmname":
				s.vmname = o.value
			case "--settingsfile":
				s.settingsfile = o.value
			case "--basefolder":
				s.basefolder = o.value
			case "--group":
				s.group = o.value
			case "--description":
				s.description = o.value
			case "--memory":
				n, err := strconv.Atoi(o.value)
				if err != nil || n < 0 {
					errLines("Argument to --memory option must be a non-negative number.")
					return 2
				}
				s.memory = n
			case "--cpus":
				n, err := strconv.Atoi(o.value)
				if err != nil || n < 1 || n > 64 {
					errLines("Argument to --cpus option must be a number greater than 0 and less than 65.")
					return 2
				}
				s.cpus = n
			case "--eula":
				if o.value != "show" && o.value != "accept" {
					errLines("Argument to --eula must be either \"show\" or \"accept\".")
					return 2
				}
				s.eula = o.value
			}
		case "--unit":
			if vsys < 0 {
				errLines(fmt.Sprintf("Option \"%s\" requires preceding --vsys or --cloud option.", o.name))
				return 2
			}
			n, err := strconv.Atoi(o.value)
			if err != nil || n < 0 {
				errLines(fmt.Sprintf("Invalid argument to --unit option: %s", o.value))
				return 2
			}
			unit = n
		case "--ignore", "--scsitype", "--disk", "--controller", "--port":
			if unit < 0 {
				errLines(fmt.Sprintf("Option \"%s\" requires preceding --unit option.", o.name))
				return 2
			}
			u := sets[vsys].units[unit]
			if u == nil {
				u = &unitSettings{}
				sets[vsys].units[unit] = u
			}
			switch name {
			case "--ignore":
				u.ignore = true
			case "--disk":
				u.disk = o.value
			case "--controller":
				u.controller = o.value
			case "--port":
				u.port = o.value
			}
		}
	}
	if len(ops) == 0 {
		return syntaxError("import", "Not enough arguments for \"import\" command.", 2)
	}
	if len(ops) > 1 {
		errLines(fmt.Sprintf("Invalid parameter '%s'", ops[1]))
		return 2
	}
	abs, _ := filepath.Abs(ops[0])
	ext := strings.ToLower(filepath.Ext(abs))
	if ext != ".ovf" && ext != ".ova" {
		return extError("Read(Bstr(pszAbsFilePath).raw(), progressRead.asOutParam())", 506)
	}
	app, code := readAppliance(abs)
	if code != 0 {
		return code
	}
	progress()
	fmt.Fprintf(stderr, "Interpreting %s...\n", abs)
	d := app.desc
	for _, dk := range d.Disks {
		if !strings.Contains(dk.Format, "vmdk.html") && !strings.Contains(strings.ToLower(dk.Format), "vhd") {
			apiErr{msg: fmt.Sprintf("Unsupported format for virtual disk image %s in OVF: \"%s\"", dk.Href, dk.Format), code: "VBOX_E_FILE_ERROR",
				component: "ApplianceWrap", iface: "IAppliance", context: "Interpret()", line: 586, file: "VBoxManageAppliance.cpp"}.print()
			return 1
		}
	}
	fmt.Fprint(stderr, "OK.\n")
	for n := range sets {
		if n >= 1 {
			errLines(fmt.Sprintf("Invalid index %d with -vsys option; the OVF contains only 1 virtual system(s).", n))
			return 2
		}
	}
	s := sets[0]
	if s == nil {
		s = &importSettings{units: map[int]*unitSettings{}}
	}
	return update(func(st *Store, now time.Time) int {
		return importSystem(st, now, app, s, dry, keepAll, keepNAT, toVDI)
	})
}

// importSystem prints the report and, unless dry, imports.
func importSystem(st *Store, now time.Time, app *appliance, s *importSettings, dry, keepAll, keepNAT, toVDI bool) int {
	d := app.desc
	// Suggested values (§1.3, §1.4).
	name := d.Name
	if name == "" {
		name = d.OSType
	}
	suggested := name
	for i := 1; st.findName(suggested) != nil; i++ {
		suggested = fmt.Sprintf("%s %d", name, i)
	}
	group := "/"
	settings := composeMachineFilename(st.Config.MachineFolder, group, suggested)
	cpus := d.CPUs
	if cpus <= 0 {
		cpus = 1
	} else if cpus > 64 {
		cpus = 64
	}
	mem := d.MemoryMB
	if mem <= 0 {
		mem = 1024
	}
	if len(d.Disks) > 0 {
		outf("Disks:\n")
		for _, dk := range d.Disks {
			outf("  %s\t%d\t%d\t%s\t%s\t%d\t%d\t%s\n", dk.ID, dk.Capacity, -1, dk.Format, dk.Href, -1, -1, "")
		}
		outf("\n")
	}
	outf("Virtual system 0:\n")
	i := 0
	entry := func(def bool, defText, override string) {
		if def {
			outf(defText, i)
		} else {
			outf(override, i)
		}
		i++
	}
	ostype := d.OSType
	if s.ostype != "" {
		ostype = s.ostype
	}
	entry(s.ostype == "", fmt.Sprintf("%%2d: Suggested OS type: \"%s\"\n    (change with \"--vsys 0 --ostype <type>\"; use \"list ostypes\" to list all possible values)\n", d.OSType),
		fmt.Sprintf("%%2d: OS type specified with --ostype: \"%s\"\n", s.ostype))
	entry(s.vmname == "", fmt.Sprintf("%%2d: Suggested VM name \"%s\"\n    (change with \"--vsys 0 --vmname <name>\")\n", suggested),
		fmt.Sprintf("%%2d: VM name specified with --vmname: \"%s\"\n", s.vmname))
	entry(s.group == "", fmt.Sprintf("%%2d: Suggested VM group \"%s\"\n    (change with \"--vsys 0 --group <group>\")\n", group),
		fmt.Sprintf("%%2d: VM group specified with --group: \"%s\"\n", s.group))
	entry(s.settingsfile == "", fmt.Sprintf("%%2d: Suggested VM settings file name \"%s\"\n    (change with \"--vsys 0 --settingsfile <filename>\")\n", settings),
		fmt.Sprintf("%%2d: VM settings file name specified with --settingsfile: \"%s\"\n", s.settingsfile))
	entry(s.basefolder == "", fmt.Sprintf("%%2d: Suggested VM base folder \"%s\"\n    (change with \"--vsys 0 --basefolder <path>\")\n", st.Config.MachineFolder),
		fmt.Sprintf("%%2d: VM base folder specified with --basefolder: \"%s\"\n", s.basefolder))
	if d.Description != "" || s.description != "" {
		entry(s.description == "", fmt.Sprintf("%%2d: Description \"%s\"\n    (change with \"--vsys 0 --description <desc>\")\n", d.Description),
			fmt.Sprintf("%%2d: Description specified with --description: \"%s\"\n", s.description))
	}
	if d.License != "" {
		switch s.eula {
		case "show":
			outf("%2d: End-user license agreement\n    (accept with \"--vsys 0 --eula accept\"):\n\n%s\n\n", i, d.License)
		case "accept":
			outf("%2d: End-user license agreement (accepted)\n", i)
		default:
			outf("%2d: End-user license agreement\n    (display with \"--vsys 0 --eula show\";\n    accept with \"--vsys 0 --eula accept\")\n", i)
		}
		i++
	}
	entry(s.cpus == 0, fmt.Sprintf("%%2d: Number of CPUs: %d\n    (change with \"--vsys 0 --cpus <n>\")\n", cpus),
		fmt.Sprintf("%%2d: No. of CPUs specified with --cpus: %d\n", s.cpus))
	entry(s.memory == 0, fmt.Sprintf("%%2d: Guest memory: %d MB\n    (change with \"--vsys 0 --memory <MB>\")\n", mem),
		fmt.Sprintf("%%2d: Guest memory specified with --memory: %d MB\n", s.memory))
	for k, n := range d.NICs {
		extra := "type=" + n.Mode
		if d.VBoxMachine {
			extra = fmt.Sprintf("slot=%d;type=%s", k, n.Mode)
		}
		outf("%2d: Network adapter: orig %s, config 3, extra %s\n", i, n.Mode, extra)
		i++
	}
	ctl := i
	ctlIgnored := s.units[ctl] != nil && s.units[ctl].ignore
	if ctlIgnored {
		outf("%2d: SATA controller, type AHCI -- disabled\n", i)
	} else {
		outf("%2d: SATA controller, type AHCI\n    (disable with \"--vsys 0 --unit %d --ignore\")\n", i, i)
	}
	i++
	folder := filepath.Dir(settings)
	type diskPlan struct {
		src, target string
		ignored     bool
	}
	var disks []diskPlan
	for k, dk := range d.Disks {
		target := strings.TrimSuffix(dk.Href, ".gz")
		if toVDI {
			target = strings.TrimSuffix(target, filepath.Ext(target)) + ".vdi"
		}
		for n := 1; fileExistsAt(filepath.Join(folder, target)); n++ {
			ext := filepath.Ext(target)
			target = fmt.Sprintf("%s_%d%s", strings.TrimSuffix(strings.TrimSuffix(dk.Href, ".gz"), ext), n, ext)
		}
		u := s.units[i]
		suffix := fmt.Sprintf("controller=%d;port=%d", ctl, k)
		if oldDiskLines() {
			suffix = fmt.Sprintf("controller=%d;channel=%d", ctl, k)
		}
		switch {
		case u != nil && u.ignore:
			outf("%2d: Hard disk image: source image=%s -- disabled\n", i, dk.Href)
			disks = append(disks, diskPlan{src: dk.Href, ignored: true})
		case u != nil && u.disk != "":
			t := u.disk
			if !filepath.IsAbs(t) && !isUUID(t) {
				t, _ = filepath.Abs(t)
			}
			outf("%2d: Hard disk image specified with --disk: source image=%s, target path=%s, %s\n", i, dk.Href, t, suffix)
			if !oldDiskLines() {
				outf("    (change controller with \"--vsys 0 --unit %d --controller <index>\";\n    change controller port with \"--vsys 0 --unit %d --port <n>\")\n", i, i)
			}
			disks = append(disks, diskPlan{src: dk.Href, target: t})
		default:
			outf("%2d: Hard disk image: source image=%s, target path=%s, %s\n", i, dk.Href, target, suffix)
			if oldDiskLines() {
				outf("    (change target path with \"--vsys 0 --unit %d --disk path\";\n    disable with \"--vsys 0 --unit %d --ignore\")\n", i, i)
			} else {
				outf("    (change target path with \"--vsys 0 --unit %d --disk path\";\n    change controller with \"--vsys 0 --unit %d --controller <index>\";\n    change controller port with \"--vsys 0 --unit %d --port <n>\";\n    disable with \"--vsys 0 --unit %d --ignore\")\n", i, i, i, i)
			}
			disks = append(disks, diskPlan{src: dk.Href, target: target})
		}
		i++
	}
	if d.License != "" && s.eula != "accept" {
		// Error line, but exit 0 and nothing imported (§1.2).
		errLines("Cannot import until the license agreement listed above is accepted.")
		return 0
	}
	if dry {
		return 0
	}
	if toVDI {
		for _, u := range s.units {
			if u.disk != "" {
				errLines("Option --ImportToVDI can not be used together with a manually set target path.")
				return 2
			}
		}
	}
	if keepAll && keepNAT {
		errLines("Code NS_ERROR_INVALID_ARG (0x80070057) - Invalid argument value (extended info not available)")
		errLines("Context: \"ImportMachines(ComSafeArrayAsInParam(options), progress.asOutParam())\" at line 1380 of file VBoxManageAppliance.cpp")
		return 1
	}
	// Where things land (§2.1).
	vmName := suggested
	if s.vmname != "" {
		vmName = s.vmname
	}
	grp := "/"
	if s.group != "" {
		grp = s.group
	}
	if !validGroup(grp) {
		return applianceErr(0, "Appliance import failed", fmt.Sprintf("Invalid machine group '%s'", grp), "NS_ERROR_INVALID_ARG", "handleImportAppliance", 1447)
	}
	baseFolder := st.Config.MachineFolder
	if s.basefolder != "" {
		baseFolder = s.basefolder
	}
	cfgFile := composeMachineFilename(baseFolder, grp, vmName)
	if s.settingsfile != "" {
		cfgFile = s.settingsfile
	}
	vmDir := filepath.Dir(cfgFile)
	// VirtualBox-made OVFs: disks first, then the machine (§2.2).
	var copied []string
	var diskPath string
	copyDisks := func() int {
		for _, dp := range disks {
			if dp.ignored {
				continue
			}
			dst := dp.target
			if !filepath.IsAbs(dst) {
				dst = filepath.Join(vmDir, dst)
			}
			if fileExistsAt(dst) {
				return applianceErr(50, "Appliance import failed", fmt.Sprintf("Could not create the imported medium '%s'.\nVMDK: could not create new file '%s' (VERR_ALREADY_EXISTS)", dst, dst), "VBOX_E_FILE_ERROR", "handleImportAppliance", 1447)
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return applianceErr(50, "Appliance import failed", err.Error(), "VBOX_E_FILE_ERROR", "handleImportAppliance", 1447)
			}
			src, err := app.open(dp.src)
			if err != nil {
				return applianceErr(50, "Appliance import failed", fmt.Sprintf("Could not create the imported medium '%s'.\nVD: error opening '%s' (VERR_FILE_NOT_FOUND)", dst, dp.src), "VBOX_E_FILE_ERROR", "handleImportAppliance", 1447)
			}
			out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err == nil {
				_, err = io.Copy(out, src)
				out.Close()
			}
			src.Close()
			if err != nil {
				return applianceErr(50, "Appliance import failed", fmt.Sprintf("Could not create the imported medium '%s'.\nVMDK: cannot write allocated data block in '%s' (VERR_DISK_FULL)", dst, dst), "VBOX_E_FILE_ERROR", "handleImportAppliance", 1447)
			}
			copied = append(copied, dst)
			if diskPath == "" {
				diskPath = dst
			}
		}
		return 0
	}
	if d.VBoxMachine {
		if c := copyDisks(); c != 0 {
			return c
		}
	}
	if fileExistsAt(cfgFile) {
		return applianceErr(60, "Appliance import failed", fmt.Sprintf("Machine settings file '%s' already exists", cfgFile), "VBOX_E_FILE_ERROR", "handleImportAppliance", 1447)
	}
	if !d.VBoxMachine {
		if c := copyDisks(); c != 0 {
			return c
		}
	}
	var img diskImage
	if diskPath != "" {
		if b, err := os.ReadFile(diskPath); err == nil {
			_ = json.Unmarshal(b, &img)
		}
	}
	vm := &VM{
		Name: vmName, UUID: newUUID(), Groups: []string{grp}, OSType: osDescription(ostype), GuestOSType: img.GuestOSType,
		Description: d.Description, CfgFile: cfgFile, Disk: diskPath, DiskUUID: newUUID(),
		Hardware:  Hardware{CPUs: cpus, MemoryMB: mem, NICs: emptyNICs(), GuestProps: map[string]Prop{}},
		ExtraData: map[string]string{}, Credentials: map[string]string{}, State: "poweroff", StateChanged: now,
		GAVersion: img.GAVersion, GARevision: img.GARevision,
	}
	if strings.HasSuffix(ostype, "_arm64") || strings.EqualFold(d.Arch, "ARM") {
		vm.Arch = "ARM"
	}
	if s.cpus > 0 {
		vm.CPUs = s.cpus
	}
	if s.memory > 0 {
		vm.MemoryMB = s.memory
	}
	for k, u := range img.Credentials {
		vm.Credentials[k] = u
	}
	for k, n := range d.NICs {
		if k >= len(vm.NICs) {
			break
		}
		mode := strings.ToLower(n.Mode)
		if mode != "nat" && mode != "bridged" && mode != "hostonly" && mode != "intnet" {
			mode = "nat"
		}
		mac := newMAC()
		if (keepAll || keepNAT && mode == "nat") && n.MAC != "" {
			mac = n.MAC
		}
		vm.NICs[k] = NIC{Type: mode, MAC: mac, Cable: true, NICType: "82540EM"}
	}
	if err := os.MkdirAll(filepath.Join(vmDir, "Logs"), 0o755); err == nil {
		_ = os.WriteFile(cfgFile, []byte(fmt.Sprintf("<?xml version=\"1.0\"?>\n<!-- fakevbox settings file -->\n<VirtualBox><Machine uuid=\"{%s}\" name=\"%s\"/></VirtualBox>\n", vm.UUID, vm.Name)), 0o600)
	}
	// The manifest is compared after the data was copied (§2.3); on a
	// mismatch the machine is unregistered and its settings deleted. The
	// copied disks stay: whether VirtualBox removes them is UNCONFIRMED, and
	// a caller must cope with the worse case.
	if app.mf != nil {
		if msg := verifyManifest(app); msg != "" {
			os.Remove(cfgFile)
			os.RemoveAll(filepath.Join(vmDir, "Logs"))
			return applianceErr(90, "Appliance import failed", msg, "VBOX_E_FILE_ERROR", "handleImportAppliance", 1447)
		}
	}
	st.VMs = append(st.VMs, vm)
	if err := seedGuest(vm); err == nil && img.OSRelease != "" {
		_ = os.WriteFile(filepath.Join(guestRoot(vm.UUID), "etc", "os-release"), []byte(img.OSRelease), 0o644)
	}
	progress()
	outf("Successfully imported the appliance.\n")
	return 0
}

// verifyManifest compares the package's files with its manifest; "" = equal.
func verifyManifest(app *appliance) string {
	entries, err := ovf.ParseManifest(app.mf)
	if err != nil {
		return fmt.Sprintf("Digest mismatch (VERR_MANIFEST_UNSUPPORTED_DIGEST_TYPE): %v", err)
	}
	for _, name := range sortedKeys(entries) {
		want := entries[name]
		r, err := app.open(name)
		if err != nil {
			return fmt.Sprintf("Digest mismatch (VERR_NOT_EQUAL): '%s' not found in the 2nd manifest", name)
		}
		got, err := digestOf(r, want.Alg)
		r.Close()
		if err != nil || !strings.EqualFold(got, want.Hex) {
			return fmt.Sprintf("Digest mismatch (VERR_NOT_EQUAL): Attribute '%s' on '%s' does not match ('%s' vs. '%s')", want.Alg, name, want.Hex, got)
		}
	}
	return ""
}

func digestOf(r io.Reader, alg string) (string, error) { return ovf.DigestFile(r, alg) }

func fileExistsAt(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (st *Store) findName(name string) *VM {
	for _, v := range st.VMs {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// cmdExport: export VM... --output FILE [--options ...] [--manifest] [--vsys N --vmname ...] (§3).
func cmdExport(a []string) int {
	spec := map[string]bool{
		"--output": true, "-o": true, "--legacy09": false, "--ovf09": false, "--ovf10": false, "--ovf20": false, "--opc10": false,
		"--manifest": false, "--options": true, "--vsys": true, "--vmname": true, "--product": true, "--producturl": true,
		"--vendor": true, "--vendorurl": true, "--version": true, "--description": true, "--eula": true, "--eulafile": true,
	}
	opts, ops, bad := getopt(a, fixedSpec(spec))
	if bad != "" {
		return syntaxError("export", fmt.Sprintf("Unknown option: %s", bad), 2)
	}
	var output string
	outputs := 0
	format := "ovf-1.0"
	manifest, noMACs, noMACsButNAT := false, false, false
	vsys := -1
	names := map[int]string{}
	descriptions := map[int]string{}
	for _, o := range opts {
		switch o.name {
		case "--output", "-o":
			outputs++
			output = o.value
		case "--legacy09", "--ovf09":
			format = "ovf-0.9"
		case "--ovf10":
			format = "ovf-1.0"
		case "--ovf20":
			format = "ovf-2.0"
		case "--manifest":
			manifest = true
		case "--options":
			for _, tok := range strings.Split(o.value, ",") {
				t := strings.ToLower(strings.TrimSpace(tok))
				switch {
				case t != "" && (strings.HasPrefix("manifest", t) || strings.HasPrefix("createmanifest", t)):
					manifest = true
				case t != "" && (strings.HasPrefix("iso", t) || strings.HasPrefix("exportdvdimages", t)):
				case t == "nomacsbutnat" || t == "stripallnonnatmacs":
					noMACsButNAT = true
				case t != "" && (strings.HasPrefix("nomacs", t) || strings.HasPrefix("stripallmacs", t)):
					noMACs = true
				default:
					errLines(fmt.Sprintf("Invalid export options '%s'", o.value))
					return 2
				}
			}
		case "--vsys":
			n, err := strconv.Atoi(o.value)
			if err != nil || n < 0 {
				errLines(fmt.Sprintf("Invalid index %s with -vsys option", o.value))
				return 2
			}
			vsys = n
		default:
			if vsys < 0 {
				errLines(fmt.Sprintf("Option \"%s\" requires preceding --vsys or --cloud option.", o.name))
				return 2
			}
			switch o.name {
			case "--vmname":
				names[vsys] = o.value
			case "--description":
				descriptions[vsys] = o.value
			}
		}
	}
	if len(ops) == 0 {
		return syntaxError("export", "At least one machine must be specified with the export command.", 2)
	}
	if outputs == 0 {
		return syntaxError("export", "Missing --output argument with export command.", 2)
	}
	if outputs > 1 {
		return syntaxError("export", "You can only specify --output once.", 2)
	}
	for n := range names {
		if n >= len(ops) {
			errLines(fmt.Sprintf("Invalid index %d with -vsys option; you specified only %d virtual system(s).", n, len(ops)))
			return 2
		}
	}
	abs, _ := filepath.Abs(output)
	return update(func(st *Store, now time.Time) int {
		var vms []*VM
		for _, op := range ops {
			vm := st.find(op)
			if vm == nil {
				return notFound(op, "FindMachine(Bstr(strMachine).raw(), machine.asOutParam())", 1937, "VBoxManageAppliance.cpp")
			}
			vms = append(vms, vm)
		}
		ext := strings.ToLower(filepath.Ext(abs))
		if ext != ".ovf" && ext != ".ova" {
			return extError("Write(Bstr(strOvfFormat).raw(), ComSafeArrayAsInParam(options), Bstr(pszAbsFilePath).raw(), progress.asOutParam())", 2018)
		}
		if len(vms) > 1 && format == "ovf-0.9" {
			return applianceErr(0, "Appliance write failed", "Cannot export more than one virtual system with OVF 0.9, use OVF 1.0", "VBOX_E_FILE_ERROR", "handleExportAppliance", 2028)
		}
		if len(vms) > 1 {
			fmt.Fprintln(os.Stderr, "fakevbox: export of several machines into one appliance is not implemented")
			return 1
		}
		vm := vms[0]
		if vm.isRunning() {
			// No up-front state check: the VM process holds its disks (§3.4).
			return applianceErr(20, "Appliance write failed", fmt.Sprintf("Medium '%s' is locked for writing by another task", vm.Disk), "VBOX_E_INVALID_OBJECT_STATE", "handleExportAppliance", 2028)
		}
		if ext == ".ova" && fileExistsAt(abs) {
			return applianceErr(0, "Appliance write failed", fmt.Sprintf("Failed to open '%s' for writing (VERR_ALREADY_EXISTS)", abs), "VBOX_E_IPRT_ERROR", "handleExportAppliance", 2028)
		}
		base := strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs))
		name := vm.Name
		if n, ok := names[0]; ok {
			name = n
		}
		img := diskImage{Fake: 1, GAVersion: vm.GAVersion, GARevision: vm.GARevision, GuestOSType: vm.GuestOSType, Credentials: vm.Credentials}
		if b, err := os.ReadFile(filepath.Join(guestRoot(vm.UUID), "etc", "os-release")); err == nil {
			img.OSRelease = string(b)
		}
		diskData, _ := json.MarshalIndent(img, "", "  ")
		diskName := fmt.Sprintf("%s-disk%03d.vmdk", base, 1)
		d := &ovf.Descriptor{Name: name, OSType: osTypeID(vm), Arch: vm.Arch, CPUs: vm.CPUs, MemoryMB: vm.MemoryMB, VBoxMachine: true,
			Description: descriptions[0], Disks: []ovf.Disk{{ID: "vmdisk1", Href: diskName, Format: ovf.FormatStreamVMDK, Capacity: 68719476736}}}
		for _, n := range vm.NICs {
			if n.Type == "none" {
				continue
			}
			mac := n.MAC
			if noMACs || noMACsButNAT && n.Type != "nat" {
				mac = ""
			}
			mode := map[string]string{"nat": "NAT", "bridged": "Bridged", "hostonly": "HostOnly", "intnet": "Internal"}[n.Type]
			d.NICs = append(d.NICs, ovf.NIC{Mode: mode, MAC: mac})
		}
		members := []ovf.Member{{Name: base + ".ovf", Data: d.Marshal()}, {Name: diskName, Data: diskData}}
		alg := ""
		if manifest {
			alg = "SHA1"
			if format == "ovf-2.0" {
				alg = "SHA256"
			}
		}
		if ext == ".ova" {
			if err := ovf.WriteOVA(abs, members, alg); err != nil {
				return applianceErr(50, "Appliance write failed", fmt.Sprintf("Failed to open '%s' for writing (%v)", abs, err), "VBOX_E_IPRT_ERROR", "handleExportAppliance", 2028)
			}
		} else {
			digests := map[string]ovf.Digest{}
			for _, m := range members {
				p := filepath.Join(filepath.Dir(abs), m.Name)
				if err := os.WriteFile(p, m.Data, 0o644); err != nil {
					return applianceErr(50, "Appliance write failed", fmt.Sprintf("Could not create OVF file '%s' (%v)", p, err), "VBOX_E_FILE_ERROR", "handleExportAppliance", 2028)
				}
				sum, _ := ovf.DigestFile(strings.NewReader(string(m.Data)), alg)
				digests[m.Name] = ovf.Digest{Alg: alg, Hex: sum}
			}
			if manifest {
				_ = os.WriteFile(filepath.Join(filepath.Dir(abs), base+".mf"), ovf.FormatManifest(digests), 0o644)
			}
		}
		progress()
		outf("Successfully exported %d machine(s).\n", len(vms))
		return 0
	})
}

// osTypeID turns the stored description back into its id.
func osTypeID(vm *VM) string {
	for id, d := range osTypes {
		if d == vm.OSType {
			return id
		}
	}
	if vm.GuestOSType != "" {
		return vm.GuestOSType
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' {
			return r
		}
		return -1
	}, vm.OSType)
}
