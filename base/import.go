package base

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"

	"labctl/internal/ovf"
	"labctl/vbox"
)

// ImportOptions says what to import and as what.
type ImportOptions struct {
	Source      string // an .ova, .ovf or Vagrant .box file, or an http(s) URL of one
	VM          string // the base's name in VirtualBox (the lab's base.vm)
	Snapshot    string // the snapshot to take (the lab's base.snapshot)
	SHA256      string // expected SHA-256 of the file (hex); "" = not checked
	DownloadDir string // where a URL is saved (and resumed from)
	HTTP        *http.Client
	Progress    io.Writer                     // the download's progress bar; nil = none
	Logf        func(format string, a ...any) // one line per stage; nil = quiet
}

// Imported is what Import did.
type Imported struct {
	VM, UUID, Group string
	File            string // the file imported (the download, for a URL)
	SHA256          string
	Vagrant         bool
	OSType          string // the appliance's OS type id
	Arch            string // x86 or ARM
	Manifest        bool   // the package had a manifest, and it matched
	Settings        Settings
}

// RefusedError: Import or Export stopped before changing anything.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

func refused(format string, a ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, a...)}
}

func (o ImportOptions) logf(format string, a ...any) {
	if o.Logf != nil {
		o.Logf(format, a...)
	}
}

// Import brings an appliance in as the lab's base VM: the file is
// downloaded (for a URL) and checked (the given SHA-256, then its manifest)
// before VirtualBox reads it with `import -n`; an existing VM of that name,
// an appliance for another CPU architecture, a licence to accept or a
// leftover machine folder stop it with nothing changed. The VM is imported
// into Group with new MAC addresses and its snapshot taken; any failure
// from the import on removes what was created, so no half-imported VM stays.
func Import(ctx context.Context, api VBox, o ImportOptions) (*Imported, error) {
	if o.VM == "" {
		return nil, errors.New("import: no VM name given")
	}
	if o.Snapshot == "" {
		o.Snapshot = "labctl-base"
	}
	res := &Imported{VM: o.VM, Group: Group}

	// 1. The file.
	file := o.Source
	downloaded := false
	if IsURL(o.Source) {
		dir := o.DownloadDir
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "labctl-downloads")
		}
		o.logf("downloading %s to %s", o.Source, dir)
		p, err := Download(ctx, o.HTTP, o.Source, dir, o.Progress)
		if err != nil {
			return nil, err
		}
		file, downloaded = p, true
	} else {
		abs, err := filepath.Abs(file)
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(abs)
		if err != nil {
			return nil, refused("cannot read %s: %v", o.Source, err)
		}
		if !st.Mode().IsRegular() {
			return nil, refused("%s is not a file", o.Source)
		}
		file = abs
	}
	res.File = file
	sum, err := SHA256File(ctx, file)
	if err != nil {
		return nil, err
	}
	res.SHA256 = sum
	if o.SHA256 != "" && !strings.EqualFold(o.SHA256, sum) {
		note := ""
		if downloaded {
			// The download is labctl's own copy: a re-run fetches it afresh.
			os.Remove(file)
			note = " (the download was removed)"
		}
		return nil, &RefusedError{Reason: fmt.Sprintf("%v: %s has SHA-256 %s, but %s was expected: the file is damaged or not the one handed out%s; nothing was imported",
			ErrChecksum, filepath.Base(file), sum, strings.ToLower(o.SHA256), note)}
	}
	o.logf("SHA-256 %s  %s", sum, filepath.Base(file))

	// 2. The package and its manifest.
	target := file
	var pkg *ovf.Package
	switch strings.ToLower(filepath.Ext(file)) {
	case ".box":
		res.Vagrant = true
		dir := o.DownloadDir
		if dir == "" {
			dir = os.TempDir()
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("unpack the box: %w", err)
		}
		tmp, err := os.MkdirTemp(dir, ".labctl-box-")
		if err != nil {
			return nil, fmt.Errorf("unpack the box: %w", err)
		}
		defer os.RemoveAll(tmp)
		o.logf("unpacking the Vagrant box")
		if target, err = unpackBox(file, tmp); err != nil {
			return nil, &RefusedError{Reason: err.Error() + "; nothing was imported"}
		}
		pkg, err = ovf.CheckOVF(target)
		if err = packageErr(file, err); err != nil {
			return nil, err
		}
	case ".ova":
		pkg, err = ovf.CheckOVA(file)
		if err = packageErr(file, err); err != nil {
			return nil, err
		}
	case ".ovf":
		pkg, err = ovf.CheckOVF(file)
		if err = packageErr(file, err); err != nil {
			return nil, err
		}
	default:
		return nil, refused("%s is not an appliance: labctl imports .ova, .ovf and Vagrant .box files", filepath.Base(file))
	}
	res.Manifest = pkg.HasManifest
	if pkg.HasManifest {
		o.logf("manifest: every file matches")
	} else if o.SHA256 == "" {
		o.logf("note: %s has no manifest and no --sha256 was given: its contents are not checked", filepath.Base(file))
	}

	// 3. What VirtualBox makes of it, and whether it fits here.
	before, err := api.ListVMs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list VMs: %w", err)
	}
	for _, v := range before {
		if v.Name == o.VM || strings.EqualFold(v.UUID, o.VM) {
			return nil, refused("a VM named %q already exists (%s): nothing was imported; delete it first, or import under another name with --name NAME", o.VM, v.UUID)
		}
	}
	archs, err := api.HostArchitectures(ctx)
	if err != nil {
		return nil, fmt.Errorf("read this VirtualBox's architectures: %w", err)
	}
	o.logf("reading the appliance (VBoxManage import -n)")
	app, err := api.ImportDryRun(ctx, target)
	if err != nil {
		return nil, &RefusedError{Reason: fmt.Sprintf("VirtualBox cannot read %s: %v; nothing was imported", filepath.Base(file), err)}
	}
	if len(app.Systems) != 1 {
		return nil, refused("%s holds %d virtual machines: a base is one; nothing was imported", filepath.Base(file), len(app.Systems))
	}
	vs := app.Systems[0]
	if vs.EULA {
		return nil, refused("%s carries a licence agreement: read it with `VBoxManage import %s -n --vsys 0 --eula show` (labctl does not accept licences for you); nothing was imported", filepath.Base(file), target)
	}
	res.OSType, res.Arch = vs.OSType, ApplianceArch(vs.OSType)
	if msg := ArchMismatch(o.VM, res.Arch, archs); msg != "" {
		return nil, refused("%s (its OS type is %q); nothing was imported", msg, vs.OSType)
	}
	folder := ""
	if vs.BaseFolder != "" {
		folder = filepath.Join(vs.BaseFolder, filepath.FromSlash(strings.TrimPrefix(Group, "/")), SanitiseName(o.VM))
		if _, err := os.Stat(folder); err == nil {
			return nil, refused("the folder %s already exists (left by an earlier import?): remove it, or import under another name with --name NAME; nothing was imported", folder)
		}
	}

	// 4. The import. From here on, a failure removes what it created.
	start := time.Now()
	o.logf("importing as %q into group %s (VBoxManage import; new MAC addresses)", o.VM, Group)
	rollback := func(cause error) error {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		defer cancel()
		var errs *multierror.Error
		after, err := api.ListVMs(rctx)
		if err != nil {
			errs = multierror.Append(errs, fmt.Errorf("list VMs: %w", err))
		}
		known := map[string]bool{}
		for _, v := range before {
			known[v.UUID] = true
		}
		for _, v := range after {
			if v.Name == o.VM && !known[v.UUID] {
				if err := api.Delete(rctx, v.UUID); err != nil {
					errs = multierror.Append(errs, fmt.Errorf("delete the half-imported VM %s: %w", v.UUID, err))
				}
			}
		}
		if folder != "" {
			// The folder did not exist before: what is in it is this import's.
			if err := os.RemoveAll(folder); err != nil {
				errs = multierror.Append(errs, err)
			}
		}
		if err := errs.ErrorOrNil(); err != nil {
			return fmt.Errorf("%w; cleaning up failed too: %v", cause, err)
		}
		return fmt.Errorf("%w; nothing was left behind", cause)
	}
	if _, err := api.Import(ctx, target, vbox.ImportOptions{VMName: o.VM, Group: Group}); err != nil {
		return nil, rollback(fmt.Errorf("import %s: %w", filepath.Base(file), err))
	}
	after, err := api.ListVMs(ctx)
	if err != nil {
		return nil, rollback(fmt.Errorf("list VMs: %w", err))
	}
	known := map[string]bool{}
	for _, v := range before {
		known[v.UUID] = true
	}
	for _, v := range after {
		if v.Name == o.VM && !known[v.UUID] {
			res.UUID = v.UUID
		}
	}
	if res.UUID == "" {
		return nil, rollback(fmt.Errorf("import %s: VirtualBox reported success, but no new VM %q is registered", filepath.Base(file), o.VM))
	}
	o.logf("imported in %s; taking snapshot %q", time.Since(start).Round(time.Second), o.Snapshot)
	if err := api.TakeSnapshot(ctx, res.UUID, o.Snapshot, SnapshotDescription, false); err != nil {
		return nil, rollback(fmt.Errorf("snapshot the imported base: %w", err))
	}
	res.Settings = Settings{VM: o.VM, Profile: DetectOS(vs.OSType, "").Profile()}
	if res.Vagrant {
		// Vagrant's convention: vagrant/vagrant with passwordless sudo.
		res.Settings.User, res.Settings.SSHUser = "vagrant", "vagrant"
	}
	return res, nil
}

// packageErr words a failed package check as a refusal.
func packageErr(file string, err error) error {
	var de *ovf.DigestError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &de):
		return refused("%s is damaged: %v (manifest check); nothing was imported — fetch the file again", filepath.Base(file), err)
	case errors.Is(err, ovf.ErrNoDescriptor):
		return refused("%s holds no .ovf descriptor: not an appliance; nothing was imported", filepath.Base(file))
	}
	return refused("cannot read %s as an appliance: %v; nothing was imported", filepath.Base(file), err)
}

// SanitiseName is VirtualBox's machine-folder form of a VM name: characters
// outside [ ()-.0-9A-Za-z_] (and U+00A0..U+D7AF) become '_', as do a
// leading '.', '-' or space and a trailing '.' or space.
func SanitiseName(name string) string {
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

// PrintSettings writes the lab.toml settings this base needs, with what
// the user must still provide.
func (res *Imported) PrintSettings(w io.Writer) {
	fmt.Fprintf(w, "\nlab.toml settings for this base:\n\n%s", res.Settings.TOML())
	if res.Vagrant {
		fmt.Fprintln(w, "# A Vagrant box: log-in vagrant with passwordless sudo; its password is Vagrant's usual one.\n# Put it alone in a 0600 file and set base.password_file to that file.")
	}
	if res.Settings.Profile == "" {
		fmt.Fprintf(w, "# profile: the appliance's OS type %q does not tell; set el8, el9 or debian.\n", res.OSType)
	}
}

// ImportRun is `labctl base import` end to end: import the appliance, check
// the new base against what the lab wants, print the lab.toml settings it
// needs and, with WriteLab, write them into LabFile (comments kept).
type ImportRun struct {
	Options    ImportOptions
	Want       Want   // the lab's expectations; VM and Profile follow the imported base
	LabFile    string // the lab.toml to write with WriteLab
	DefaultLab []byte // the built-in lab.toml, when LabFile does not exist yet
	WriteLab   bool
	Out        io.Writer
}

// Run does the import; a *RefusedError changed nothing.
func (r ImportRun) Run(ctx context.Context, api VBox) error {
	start := time.Now()
	res, err := Import(ctx, api, r.Options)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.Out, "Imported %q (%s) into group %s in %s; snapshot %q taken.\n",
		res.VM, res.UUID, res.Group, time.Since(start).Round(time.Second), r.Options.Snapshot)
	want := r.Want
	want.VM = res.UUID
	if res.Settings.Profile != "" {
		want.Profile = res.Settings.Profile
	}
	if rep, err := Inspect(ctx, api, want); err == nil {
		rep.Print(r.Out)
	}
	res.PrintSettings(r.Out)
	if !r.WriteLab {
		fmt.Fprintln(r.Out, "\n(--write-lab writes them into lab.toml, keeping its comments.)")
		return nil
	}
	if err := WriteLab(r.LabFile, r.DefaultLab, res.Settings); err != nil {
		return fmt.Errorf("the base was imported, but lab.toml was not changed: %w", err)
	}
	fmt.Fprintf(r.Out, "\nWrote these settings into %s (its comments are kept).\n", r.LabFile)
	return nil
}
