package base

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/go-multierror"

	"labctl/vbox"
)

// Want is what the lab expects of its base (lab.toml's [base]).
type Want struct {
	VM       string // base.vm: name or UUID
	Snapshot string // base.snapshot
	Profile  string // base.profile: el8, el9, debian
	File     string // the lab file, for messages
	// VirtualBox, when known already (up's preflight reads it first), is
	// not read again.
	VirtualBox vbox.Version
}

// Level grades one finding.
type Level string

const (
	OK      Level = "ok"
	Warning Level = "warning"
	Problem Level = "error"
)

// Finding is the outcome of one check.
type Finding struct {
	Check   string `json:"check"` // exists, state, architecture, guest-additions, os, linked-clones
	Level   Level  `json:"level"`
	Message string `json:"message"`
}

// Report is what Inspect found, as `base check --json` prints it.
type Report struct {
	VM             string    `json:"vm"`
	UUID           string    `json:"uuid,omitempty"`
	State          string    `json:"state,omitempty"`
	Arch           string    `json:"architecture,omitempty"`       // x86 or ARM
	HostArchs      []string  `json:"host_architectures,omitempty"` // what this VirtualBox runs
	VirtualBox     string    `json:"virtualbox,omitempty"`
	GuestAdditions string    `json:"guest_additions,omitempty"` // "" = never reported
	OS             string    `json:"os,omitempty"`              // what was found, e.g. "el9 (kernel 5.14.0-...el9...)"
	Profile        string    `json:"profile"`
	Findings       []Finding `json:"checks"`
	OK             bool      `json:"ok"` // no finding at level error
}

// Add records a finding made outside this package (`base check` adds the
// probe of the lab's addresses from this computer).
func (r *Report) Add(check string, l Level, format string, a ...any) { r.add(check, l, format, a...) }

func (r *Report) add(check string, l Level, format string, a ...any) {
	r.Findings = append(r.Findings, Finding{Check: check, Level: l, Message: fmt.Sprintf(format, a...)})
	if l == Problem {
		r.OK = false
	}
}

// Err joins the error findings, nil when there are none.
func (r *Report) Err() error {
	var errs *multierror.Error
	for _, f := range r.Findings {
		if f.Level == Problem {
			errs = multierror.Append(errs, errors.New(f.Message))
		}
	}
	if errs == nil {
		return nil
	}
	errs.ErrorFormat = func(es []error) string {
		s := make([]string, len(es))
		for i, e := range es {
			s[i] = e.Error()
		}
		return strings.Join(s, "\n")
	}
	return errs
}

// Warnings lists the warning findings' messages.
func (r *Report) Warnings() []string {
	var w []string
	for _, f := range r.Findings {
		if f.Level == Warning {
			w = append(w, f.Message)
		}
	}
	return w
}

// Summary is one line for a log.
func (r *Report) Summary() string {
	ga := r.GuestAdditions
	if ga == "" {
		ga = "not reported"
	}
	os := r.OS
	if os == "" {
		os = "unknown"
	}
	return fmt.Sprintf("base VM %s: %s, %s (host runs %s), Guest Additions %s, OS %s, profile %s",
		r.VM, r.State, r.Arch, strings.Join(r.HostArchs, ","), ga, os, r.Profile)
}

// Guest properties the checks read; VirtualBox keeps them from the VM's
// last boot, so they are readable with the VM off.
const (
	propGAVersion = "/VirtualBox/GuestAdd/Version"
	propOSRelease = "/VirtualBox/GuestInfo/OS/Release"
)

// Inspect checks the base VM against the lab and this host, reading at
// once what does not depend on each other. It changes nothing. Findings
// at level error are what would make `up` fail later (or worse, clone VMs
// that cannot start); the error return is for reads that failed.
func Inspect(ctx context.Context, r Reader, want Want) (*Report, error) {
	rep := &Report{VM: want.VM, Profile: want.Profile, OK: true}
	file := want.File
	if file == "" {
		file = "lab.toml"
	}
	info, err := r.Info(ctx, want.VM)
	if errors.Is(err, vbox.ErrNotFound) {
		rep.add("exists", Problem, "the base VM %q is not registered in VirtualBox: import one with `labctl base import FILE|URL`, or set base.vm in %s to a VM from `VBoxManage list vms`", want.VM, file)
		return rep, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the base VM %q: %w", want.VM, err)
	}
	rep.VM, rep.UUID, rep.State = info.Name, info.UUID, string(info.State)
	rep.add("exists", OK, "the base VM %q is registered (%s)", info.Name, info.UUID)

	var (
		wg                sync.WaitGroup
		ver               vbox.Version
		archs             []string
		ga, rel           string
		gaOK, relOK       bool
		vErr, aErr, gaErr error
		relErr            error
	)
	wg.Add(2)
	if ver = want.VirtualBox; ver.Major == 0 {
		wg.Add(1)
		go func() { defer wg.Done(); ver, vErr = r.Version(ctx) }()
	}
	go func() { defer wg.Done(); ga, gaOK, gaErr = r.GuestProperty(ctx, info.UUID, propGAVersion) }()
	go func() { defer wg.Done(); rel, relOK, relErr = r.GuestProperty(ctx, info.UUID, propOSRelease) }()
	if h, ok := r.(hostArchReader); ok {
		wg.Add(1)
		go func() { defer wg.Done(); archs, aErr = h.HostArchitectures(ctx) }()
	} else {
		archs = []string{"x86"}
	}
	wg.Wait()
	var errs *multierror.Error
	for _, e := range []error{vErr, aErr, gaErr, relErr} {
		if e != nil {
			errs = multierror.Append(errs, e)
		}
	}
	if err := errs.ErrorOrNil(); err != nil {
		return nil, fmt.Errorf("read the base VM %q and this VirtualBox: %w", info.Name, err)
	}
	rep.VirtualBox, rep.HostArchs = ver.String(), archs

	checkState(rep, info)
	checkArch(rep, info, archs)
	checkGuestAdditions(rep, info.Name, ga, gaOK, ver)
	if !relOK {
		rel = ""
	}
	checkOS(rep, info, rel, want.Profile, file)
	checkLinkedClones(rep, info, want.Snapshot, file)
	return rep, nil
}

func checkState(rep *Report, info *vbox.VMInfo) {
	switch info.State {
	case vbox.StatePowerOff, vbox.StateAborted:
		rep.add("state", OK, "the base VM is powered off")
	case vbox.StateSaved:
		rep.add("state", Problem, "the base VM %q is saved, not powered off: discard its saved state (`VBoxManage discardstate %q`) or start it and shut it down", info.Name, info.Name)
	default:
		rep.add("state", Problem, "the base VM %q is %s: shut it down first (clones are linked to its disk, which must not change; e.g. `VBoxManage controlvm %q acpipowerbutton`)", info.Name, info.State, info.Name)
	}
}

// Arch is a VM's platform architecture: 7.1 prints platformArchitecture;
// before 7.1 every VM is x86, and the OS type tells an ARM one apart too.
func Arch(info *vbox.VMInfo) string {
	if a := info.Raw["platformArchitecture"]; a != "" {
		return a
	}
	if t := info.Raw["ostype"]; strings.Contains(t, "ARM 64-bit") || strings.HasSuffix(t, "_arm64") {
		return "ARM"
	}
	return "x86"
}

// ApplianceArch is the architecture an appliance's OS type id implies.
func ApplianceArch(osType string) string {
	if strings.HasSuffix(osType, "_arm64") {
		return "ARM"
	}
	return "x86"
}

// hostRuns reports whether VirtualBox's supported architectures include arch.
func hostRuns(archs []string, arch string) bool {
	for _, a := range archs {
		if arch == "x86" && a == "x86" || arch == "ARM" && strings.HasPrefix(a, "ARM") {
			return true
		}
	}
	return false
}

// ArchMismatch explains why a base of arch cannot run here, or is "".
func ArchMismatch(vm, arch string, hostArchs []string) string {
	if hostRuns(hostArchs, arch) {
		return ""
	}
	if arch == "x86" {
		return fmt.Sprintf("the base VM %q is an x86_64 machine, but VirtualBox on this host (arm64, e.g. Apple silicon) runs only arm64 guests: its clones would fail to start with \"The VM session was aborted\". "+
			"Use an arm64 base instead: an AlmaLinux or Rocky Linux 9 for aarch64 (EL8 for arm64 does not boot on Apple CPUs), imported with `labctl base import FILE|URL`, and set base.profile = \"el9\"", vm)
	}
	return fmt.Sprintf("the base VM %q is an arm64 machine, but VirtualBox on this x86_64 host runs only x86_64 guests: use an x86_64 base (e.g. the class's x86_64 export, or an AlmaLinux 8/9 x86_64 box) and import it with `labctl base import FILE|URL`", vm)
}

func checkArch(rep *Report, info *vbox.VMInfo, archs []string) {
	rep.Arch = Arch(info)
	if msg := ArchMismatch(info.Name, rep.Arch, archs); msg != "" {
		rep.add("architecture", Problem, "%s", msg)
		return
	}
	rep.add("architecture", OK, "the base is %s and this VirtualBox runs %s guests", archName(rep.Arch), strings.Join(archs, ", "))
}

func archName(a string) string {
	if a == "ARM" {
		return "arm64"
	}
	return "x86_64"
}

var gaVersionRE = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)`)

func checkGuestAdditions(rep *Report, vm, ga string, ok bool, host vbox.Version) {
	if !ok || ga == "" {
		rep.add("guest-additions", Warning, "the base VM %q has never reported VirtualBox Guest Additions here: labctl needs them in the base image to configure the clones "+
			"(a base imported from an appliance reports them when its first clone boots; otherwise install them, boot the base once and shut it down)", vm)
		return
	}
	rep.GuestAdditions = ga
	m := gaVersionRE.FindStringSubmatch(ga)
	if m == nil {
		rep.add("guest-additions", OK, "Guest Additions %s", ga)
		return
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if host.Major > 0 && (major < host.Major || major == host.Major && minor < host.Minor) {
		rep.add("guest-additions", Warning, "the base VM %q has Guest Additions %s, older than this VirtualBox %s: guest control usually still works; if clones wait forever for their Guest Additions, update them in the base",
			vm, ga, host)
		return
	}
	rep.add("guest-additions", OK, "Guest Additions %s (VirtualBox %s)", ga, host)
}

// GuestOS is what is known of the OS inside a VM.
type GuestOS struct {
	Family  string // "el", "debian"; "" = unknown
	Version int    // 8, 9; 0 = unknown
	From    string // what told
}

// Profile is the lab profile the OS calls for, "" when not known well enough.
func (o GuestOS) Profile() string {
	switch {
	case o.Family == "debian":
		return "debian"
	case o.Family == "el" && (o.Version == 8 || o.Version == 9):
		return "el" + strconv.Itoa(o.Version)
	}
	return ""
}

func (o GuestOS) String() string {
	switch {
	case o.Family == "":
		return "unknown"
	case o.Family == "el" && o.Version > 0:
		return fmt.Sprintf("an EL%d system (AlmaLinux/Rocky/RHEL %d; %s)", o.Version, o.Version, o.From)
	case o.Family == "el":
		return fmt.Sprintf("an Enterprise Linux system (%s)", o.From)
	}
	return fmt.Sprintf("a Debian-family system (%s)", o.From)
}

var (
	elReleaseRE  = regexp.MustCompile(`\.el(\d+)`)
	debReleaseRE = regexp.MustCompile(`-(amd64|arm64|cloud-amd64|cloud-arm64)$|\+deb\d+`)
	// The version is the number right after the name ("RedHat9_64",
	// "Red Hat 9.x (64-bit)"); "_64" is the architecture.
	elTypeRE  = regexp.MustCompile(`(?i)^(red ?hat|oracle(?: ?linux)?|rocky(?: ?linux)?|alma(?: ?linux)?|centos)(?: ?(\d+)(?:\.x|_|\b))?`)
	debTypeRE = regexp.MustCompile(`(?i)^(debian|ubuntu)`)
)

// DetectOS reads the guest OS from the kernel release the Guest Additions
// reported (uname -r: ".el9" is exact) and, failing that, the OS type.
func DetectOS(osType, release string) GuestOS {
	if m := elReleaseRE.FindStringSubmatch(release); m != nil {
		v, _ := strconv.Atoi(m[1])
		return GuestOS{Family: "el", Version: v, From: "kernel " + release}
	}
	if debReleaseRE.MatchString(release) {
		return GuestOS{Family: "debian", From: "kernel " + release}
	}
	if m := elTypeRE.FindStringSubmatch(osType); m != nil {
		v, _ := strconv.Atoi(m[2])
		return GuestOS{Family: "el", Version: v, From: "OS type " + strconv.Quote(osType)}
	}
	if debTypeRE.MatchString(osType) {
		return GuestOS{Family: "debian", From: "OS type " + strconv.Quote(osType)}
	}
	return GuestOS{}
}

// ProfileMismatch explains a profile that does not fit the base's OS, or is "".
func ProfileMismatch(vm string, os GuestOS, profile, file string) string {
	return profileMismatch(fmt.Sprintf("the base VM %q", vm), os, profile, file)
}

// BootedOS checks a booted clone's OS, as its Guest Additions report it
// (GuestOSType), against the profile: the latest point at which a base
// whose OS was not known beforehand (an import never booted here) is
// found not to fit. nil when it fits or cannot be told.
func BootedOS(info *vbox.VMInfo, profile, file string) error {
	os := DetectOS(info.Raw["GuestOSType"], "")
	if msg := profileMismatch(fmt.Sprintf("%s (a clone of the base VM)", info.Name), os, profile, file); msg != "" {
		return errors.New(msg)
	}
	return nil
}

func profileMismatch(who string, os GuestOS, profile, file string) string {
	if profile == "" {
		return "" // no profile asked for: nothing to compare
	}
	fam, ver := profile, 0
	if strings.HasPrefix(profile, "el") {
		fam = "el"
		ver, _ = strconv.Atoi(strings.TrimPrefix(profile, "el"))
	}
	if os.Family == "" || os.Family == fam && (os.Version == 0 || ver == 0 || os.Version == ver) {
		return ""
	}
	fix := os.Profile()
	if fix == "" {
		fix = map[string]string{"el": "el8\" or \"el9", "debian": "debian"}[os.Family]
	}
	return fmt.Sprintf("%s runs %s, but base.profile is %q in %s: set base.profile = \"%s\"", who, os, profile, file, fix)
}

func checkOS(rep *Report, info *vbox.VMInfo, release, profile, file string) {
	osType := info.Raw["ostype"]
	if g := info.Raw["GuestOSType"]; g != "" && release == "" {
		osType = g
	}
	os := DetectOS(osType, release)
	if os.Family == "" {
		rep.add("os", OK, "the OS inside the base is not known yet (OS type %q); it is checked against base.profile %q when the first clone boots", osType, profile)
		return
	}
	rep.OS = os.String()
	if msg := ProfileMismatch(info.Name, os, profile, file); msg != "" {
		rep.add("os", Problem, "%s", msg)
		return
	}
	rep.add("os", OK, "the base runs %s, which fits base.profile %q", os, profile)
}

var imageKeyRE = regexp.MustCompile(`^(.+)-ImageUUID-(\d+)-(\d+)$`)

func checkLinkedClones(rep *Report, info *vbox.VMInfo, snapshot, file string) {
	disks := 0
	for k, v := range info.Raw {
		if imageKeyRE.MatchString(k) && v != "" && v != "none" {
			disks++
		}
	}
	if disks == 0 {
		rep.add("linked-clones", Problem, "the base VM %q has no hard disk attached: linked clones share the base's disk, so it needs one", info.Name)
		return
	}
	var names []string
	for _, s := range info.Snapshots {
		if s.Name == snapshot || strings.EqualFold(s.UUID, snapshot) {
			rep.add("linked-clones", OK, "linked clones possible: snapshot %q exists", snapshot)
			return
		}
		names = append(names, strconv.Quote(s.Name))
	}
	if len(names) > 0 {
		rep.add("linked-clones", Problem, "the base VM %q has no snapshot %q (it has %s): set base.snapshot in %s to one of them", info.Name, snapshot, strings.Join(names, ", "), file)
		return
	}
	rep.add("linked-clones", OK, "linked clones possible: labctl takes snapshot %q of the powered-off base at the first up", snapshot)
}

// Print writes the report for a person: one line per check, marked.
func (rep *Report) Print(w io.Writer) {
	mark := map[Level]string{OK: "✓", Warning: "!", Problem: "✗"}
	fmt.Fprintf(w, "Base VM %s:\n", rep.VM)
	for _, f := range rep.Findings {
		fmt.Fprintf(w, "  %s %-16s %s\n", mark[f.Level], f.Check, f.Message)
	}
	if rep.OK {
		fmt.Fprintln(w, "The base is ready to clone from.")
	} else {
		fmt.Fprintln(w, "Fix the problems marked ✗ before `labctl up`.")
	}
}
