package vbox

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Appliance is the report `import FILE -n` prints (stdout): the disks and
// each virtual system's numbered entries.
type Appliance struct {
	Disks   []ApplianceDisk
	Systems []VirtualSystem
}

// ApplianceDisk is one line of the Disks: block.
type ApplianceDisk struct {
	ID       string
	Capacity int64 // bytes; -1 unknown
	Format   string
	Href     string
}

// VirtualSystem is one "Virtual system N:" block.
type VirtualSystem struct {
	OSType       string // suggested (or given) OS type id, e.g. "RedHat_64", "Oracle9_arm64"
	Name         string // suggested VM name (made unique by VirtualBox: "name 1")
	Group        string
	SettingsFile string
	BaseFolder   string
	CPUs         int
	MemoryMB     int
	NICs         []string // "orig NAT, config 3, extra slot=0;type=NAT"
	HardDisks    []ApplianceHardDisk
	EULA         bool // the appliance carries a licence that must be accepted
}

// ApplianceHardDisk is one "Hard disk image" entry.
type ApplianceHardDisk struct {
	Unit     int // the entry index, for --unit
	Source   string
	Target   string // relative to the machine folder since 6.0
	Disabled bool
}

var (
	vsysRE  = regexp.MustCompile(`^Virtual system (\d+):$`)
	entryRE = regexp.MustCompile(`^\s*(\d+): (.*)$`)
	quoteRE = regexp.MustCompile(`"(.*)"`)
	// Greedy target path: it runs to the last ", " (a path may hold commas).
	diskRE = regexp.MustCompile(`source image=(.+?), target path=(.+), (?:controller=.*)$`)
	numRE  = regexp.MustCompile(`(\d+)`)
)

// ParseImportReport parses the stdout of `import FILE [-n]`.
func ParseImportReport(out string) (*Appliance, error) {
	a := &Appliance{}
	var cur *VirtualSystem
	inDisks := false
	for _, line := range splitLines(out) {
		switch {
		case line == "Disks:":
			inDisks = true
			continue
		case vsysRE.MatchString(line):
			inDisks = false
			a.Systems = append(a.Systems, VirtualSystem{})
			cur = &a.Systems[len(a.Systems)-1]
			continue
		}
		if inDisks {
			f := strings.Split(strings.TrimPrefix(line, "  "), "\t")
			if len(f) >= 5 {
				c, _ := strconv.ParseInt(f[1], 10, 64)
				a.Disks = append(a.Disks, ApplianceDisk{ID: f[0], Capacity: c, Format: f[3], Href: f[4]})
			}
			continue
		}
		m := entryRE.FindStringSubmatch(line)
		if m == nil || cur == nil || strings.HasPrefix(line, "    (") {
			continue
		}
		unit, _ := strconv.Atoi(m[1])
		text := m[2]
		quoted := ""
		if q := quoteRE.FindStringSubmatch(text); q != nil {
			quoted = q[1]
		}
		switch {
		case strings.HasPrefix(text, "Suggested OS type:"), strings.HasPrefix(text, "OS type specified with --ostype:"):
			cur.OSType = quoted
		case strings.HasPrefix(text, "Suggested VM name "), strings.HasPrefix(text, "VM name specified with --vmname:"):
			cur.Name = quoted
		case strings.HasPrefix(text, "Suggested VM group "), strings.HasPrefix(text, "VM group specified with --group:"):
			cur.Group = quoted
		case strings.HasPrefix(text, "Suggested VM settings file name "), strings.HasPrefix(text, "VM settings file name specified with --settingsfile:"):
			cur.SettingsFile = quoted
		case strings.HasPrefix(text, "Suggested VM base folder "), strings.HasPrefix(text, "VM base folder specified with --basefolder:"):
			cur.BaseFolder = quoted
		case strings.HasPrefix(text, "Number of CPUs:"), strings.HasPrefix(text, "No. of CPUs specified with --cpus:"):
			if n := numRE.FindString(text[strings.Index(text, ":"):]); n != "" {
				cur.CPUs, _ = strconv.Atoi(n)
			}
		case strings.HasPrefix(text, "Guest memory"):
			if n := numRE.FindString(text[strings.Index(text, ":"):]); n != "" {
				cur.MemoryMB, _ = strconv.Atoi(n)
			}
		case strings.HasPrefix(text, "Network adapter: "):
			cur.NICs = append(cur.NICs, strings.TrimPrefix(text, "Network adapter: "))
		case strings.HasPrefix(text, "End-user license agreement"):
			cur.EULA = true
		case strings.HasPrefix(text, "Hard disk image"):
			d := ApplianceHardDisk{Unit: unit}
			if dm := diskRE.FindStringSubmatch(text); dm != nil {
				d.Source, d.Target = dm[1], dm[2]
			} else if i := strings.Index(text, "source image="); i >= 0 {
				d.Source = strings.TrimSuffix(text[i+len("source image="):], " -- disabled")
				d.Disabled = strings.HasSuffix(text, " -- disabled")
			}
			cur.HardDisks = append(cur.HardDisks, d)
		}
	}
	if len(a.Systems) == 0 {
		return nil, fmt.Errorf("the import report lists no virtual system (first line %q)", firstLine(out))
	}
	return a, nil
}

// ImportOptions are the per-system settings labctl gives `import`.
type ImportOptions struct {
	VMName string // --vsys 0 --vmname
	Group  string // --vsys 0 --group, e.g. "/labctl-bases"
}

// applianceTimeout bounds import and export: they copy whole disks.
func (c *Client) applianceTimeout() time.Duration { return orDefault(c.ApplianceTimeout, time.Hour) }

// ImportDryRun runs `import FILE -n` and parses its report. Nothing is
// changed; the manifest is not checked (VirtualBox does that only on a
// real import).
func (c *Client) ImportDryRun(ctx context.Context, file string) (*Appliance, error) {
	res, err := c.run(ctx, callOpts{timeout: c.applianceTimeout(), check: func(args []string, r Result) error {
		// An un-accepted licence prints an error line but exits 0 (even
		// with -n): the report is still whole and says EULA.
		if d := diagnose(r); r.ExitCode == 0 && len(d.messages) == 1 && strings.HasPrefix(d.messages[0], "Cannot import until the license agreement") {
			return nil
		}
		return defaultCheck(args, r)
	}}, "import", file, "-n")
	if err != nil {
		return nil, err
	}
	return ParseImportReport(res.Stdout)
}

// Import runs `import FILE --vsys 0 --vmname NAME [--group G]`. The VM gets
// new MAC addresses (no keep* option) and a new UUID; VirtualBox checks the
// manifest at the end and unregisters what it created on any failure.
func (c *Client) Import(ctx context.Context, file string, o ImportOptions) (*Appliance, error) {
	args := []string{"import", file, "--vsys", "0"}
	if o.VMName != "" {
		args = append(args, "--vmname", o.VMName)
	}
	if o.Group != "" {
		args = append(args, "--group", o.Group)
	}
	res, err := c.run(ctx, callOpts{timeout: c.applianceTimeout()}, args...)
	if err != nil {
		return nil, err
	}
	return ParseImportReport(res.Stdout)
}

// Export runs `export VM --output FILE --options manifest,nomacs`: an
// OVF 1.0 appliance with a manifest and without MAC addresses (every
// importer gets fresh ones). vmName, when set, names the exported system.
func (c *Client) Export(ctx context.Context, vm, file, vmName string) error {
	args := []string{"export", vm, "--output", file, "--options", "manifest,nomacs"}
	if vmName != "" {
		args = append(args, "--vsys", "0", "--vmname", vmName)
	}
	_, err := c.run(ctx, callOpts{timeout: c.applianceTimeout()}, args...)
	return err
}

// HostArchitectures runs `list systemproperties` and returns its
// "Supported platform architectures:" list ("x86", "ARMv8"). Before 7.1
// there is no such line and VirtualBox runs x86 guests only.
func (c *Client) HostArchitectures(ctx context.Context) ([]string, error) {
	res, err := c.run(ctx, callOpts{}, "list", "systemproperties")
	if err != nil {
		return nil, err
	}
	return ParseHostArchitectures(res.Stdout), nil
}

// ParseHostArchitectures reads the "Supported platform architectures:" line;
// without one it answers x86 (6.1 and 7.0 know nothing else).
func ParseHostArchitectures(out string) []string {
	for _, l := range splitLines(out) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Supported platform architectures:"); ok {
			var archs []string
			for _, a := range strings.Split(v, ",") {
				if a = strings.TrimSpace(a); a != "" {
					archs = append(archs, a)
				}
			}
			return archs
		}
	}
	return []string{"x86"}
}
