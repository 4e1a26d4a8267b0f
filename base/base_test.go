package base_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"labctl/base"
	"labctl/internal/ovf"
	"labctl/internal/vboxtest"
	"labctl/vbox"
)

var ctx = context.Background()

func setup(t *testing.T, opts ...vboxtest.Option) (*vboxtest.Fake, *vbox.Client) {
	t.Helper()
	f := vboxtest.New(t, opts...)
	return f, vbox.New(vbox.ExecRunner{Path: f.Bin})
}

// alma9 is an EL9 appliance like an instructor's export.
var alma9 = vboxtest.Appliance{Name: "alma9-base", OSType: "RedHat9_64", VBoxMachine: true, GAVersion: "7.0.14", GuestOSType: "RedHat_64",
	OSRelease: "NAME=\"AlmaLinux\"\nID=\"almalinux\"\nVERSION_ID=\"9.4\"\n", Credentials: map[string]string{"root": "fake-alma9-password"}}

// unchanged asserts no VBoxManage call since n could change anything and
// the fake's VMs are what they were.
func unchanged(t *testing.T, f *vboxtest.Fake, n int, before []string) {
	t.Helper()
	for _, a := range f.Argv()[n:] {
		if vboxtest.IsMutating(a) {
			t.Errorf("a refused import/export ran a changing command: %v", a)
		}
	}
	if got := strings.Join(f.State().Names(), ","); got != strings.Join(before, ",") {
		t.Errorf("VMs now %s, were %s", got, strings.Join(before, ","))
	}
}

func importOpts(src string) base.ImportOptions {
	return base.ImportOptions{Source: src, VM: "Alma9", Snapshot: "labctl-base"}
}

func TestImportOVA(t *testing.T) {
	f, vb := setup(t)
	ova := filepath.Join(t.TempDir(), "class-base.ova")
	f.WriteOVA(ova, alma9)
	var logs []string
	o := importOpts(ova)
	o.Logf = func(format string, a ...any) { logs = append(logs, format) }
	res, err := base.Import(ctx, vb, o)
	if err != nil {
		t.Fatal(err)
	}
	v := f.State().VM("Alma9")
	if v == nil {
		t.Fatalf("no VM Alma9 after import: %v", f.State().Names())
	}
	if len(v.Groups) != 1 || v.Groups[0] != base.Group {
		t.Errorf("groups %v, want %s", v.Groups, base.Group)
	}
	if v.NICs[0].MAC == "" || v.NICs[0].MAC == "080027AABBCC" {
		t.Errorf("NIC 1 MAC %q: want a new one", v.NICs[0].MAC)
	}
	if got := v.SnapshotNames(); len(got) != 1 || got[0] != "labctl-base" {
		t.Errorf("snapshots %v", got)
	}
	if res.UUID != v.UUID || !res.Manifest || res.Settings.Profile != "el9" || res.Settings.VM != "Alma9" || res.Settings.User != "" {
		t.Errorf("result %+v", res)
	}
	// The dry run comes first, then one real import with name and group.
	var imports [][]string
	for _, a := range f.Argv() {
		if a[0] == "import" {
			imports = append(imports, a)
		}
	}
	if len(imports) != 2 || imports[0][len(imports[0])-1] != "-n" ||
		strings.Join(imports[1][2:], " ") != "--vsys 0 --vmname Alma9 --group "+base.Group {
		t.Errorf("import calls %v", imports)
	}
	rep, err := base.Inspect(ctx, vb, base.Want{VM: "Alma9", Snapshot: "labctl-base", Profile: "el9"})
	if err != nil || !rep.OK {
		t.Fatalf("check of the imported base: %v %+v", err, rep)
	}
}

func TestImportVagrantBox(t *testing.T) {
	f, vb := setup(t)
	box := filepath.Join(t.TempDir(), "alma9.box")
	a := alma9
	a.Credentials = map[string]string{"vagrant": "box-password"}
	f.WriteBox(box, a, "")
	res, err := base.Import(ctx, vb, importOpts(box))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Vagrant || res.Settings.User != "vagrant" || res.Settings.SSHUser != "vagrant" || res.Settings.Profile != "el9" {
		t.Errorf("settings %+v", res.Settings)
	}
	if f.State().VM("Alma9") == nil {
		t.Fatal("not imported")
	}
	if !strings.Contains(res.Settings.TOML(), "user = \"vagrant\"\nssh_user = \"vagrant\"\n") {
		t.Errorf("TOML:\n%s", res.Settings.TOML())
	}
}

func TestImportRefusalsChangeNothing(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, f *vboxtest.Fake, dir string) base.ImportOptions
		want  string
	}{
		{"checksum mismatch", func(t *testing.T, f *vboxtest.Fake, dir string) base.ImportOptions {
			p := filepath.Join(dir, "b.ova")
			f.WriteOVA(p, alma9)
			o := importOpts(p)
			o.SHA256 = strings.Repeat("ab", 32)
			return o
		}, "the file is damaged or not the one handed out"},
		{"corrupted copy (manifest)", func(t *testing.T, f *vboxtest.Fake, dir string) base.ImportOptions {
			p := filepath.Join(dir, "b.ova")
			f.WriteOVA(p, alma9)
			corrupt(t, p, `"fakevboxDisk"`)
			return importOpts(p)
		}, "is damaged: SHA256 digest of b-disk001.vmdk"},
		{"existing VM", func(t *testing.T, f *vboxtest.Fake, dir string) base.ImportOptions {
			p := filepath.Join(dir, "b.ova")
			f.WriteOVA(p, alma9)
			o := importOpts(p)
			o.VM = vboxtest.BaseVM
			return o
		}, `a VM named "AlmaLinux-8.4" already exists`},
		{"x86 appliance on Apple silicon", func(t *testing.T, f *vboxtest.Fake, dir string) base.ImportOptions {
			f.SetHostArch("ARMv8")
			p := filepath.Join(dir, "b.ova")
			f.WriteOVA(p, alma9)
			return importOpts(p)
		}, `runs only arm64 guests`},
		{"arm64 appliance on x86", func(t *testing.T, f *vboxtest.Fake, dir string) base.ImportOptions {
			p := filepath.Join(dir, "b.ova")
			a := alma9
			a.OSType, a.Arch = "RedHat9_arm64", "ARM"
			f.WriteOVA(p, a)
			return importOpts(p)
		}, `runs only x86_64 guests`},
		{"licence", func(t *testing.T, f *vboxtest.Fake, dir string) base.ImportOptions {
			p := filepath.Join(dir, "b.ova")
			a := alma9
			a.License = "You agree to everything."
			f.WriteOVA(p, a)
			return importOpts(p)
		}, "carries a licence agreement"},
		{"not an appliance", func(t *testing.T, f *vboxtest.Fake, dir string) base.ImportOptions {
			p := filepath.Join(dir, "notes.txt")
			os.WriteFile(p, []byte("hello"), 0o644)
			return importOpts(p)
		}, "labctl imports .ova, .ovf and Vagrant .box files"},
		{"OVA that is not a tar", func(t *testing.T, f *vboxtest.Fake, dir string) base.ImportOptions {
			p := filepath.Join(dir, "b.ova")
			os.WriteFile(p, bytes.Repeat([]byte("garbage!"), 200), 0o644)
			return importOpts(p)
		}, "cannot read b.ova as an appliance"},
		{"missing file", func(t *testing.T, f *vboxtest.Fake, dir string) base.ImportOptions {
			return importOpts(filepath.Join(dir, "absent.ova"))
		}, "cannot read"},
		{"box for another provider", func(t *testing.T, f *vboxtest.Fake, dir string) base.ImportOptions {
			p := filepath.Join(dir, "b.box")
			f.WriteBox(p, alma9, "libvirt")
			return importOpts(p)
		}, `for provider "libvirt"`},
		{"VirtualBox cannot read it", func(t *testing.T, f *vboxtest.Fake, dir string) base.ImportOptions {
			p := filepath.Join(dir, "b.ova")
			a := alma9
			a.DiskFormat = "http://example.invalid/unknown-format"
			f.WriteOVA(p, a)
			return importOpts(p)
		}, "VirtualBox cannot read b.ova: VBoxManage import"},
		{"leftover machine folder", func(t *testing.T, f *vboxtest.Fake, dir string) base.ImportOptions {
			p := filepath.Join(dir, "b.ova")
			f.WriteOVA(p, alma9)
			os.MkdirAll(filepath.Join(f.Home, "VirtualBox VMs", "labctl-bases", "Alma9"), 0o755)
			return importOpts(p)
		}, "already exists (left by an earlier import?)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, vb := setup(t)
			o := c.setup(t, f, t.TempDir())
			before, n := f.State().Names(), len(f.Argv())
			var fileBefore []byte
			if st, err := os.Stat(o.Source); err == nil && st.Mode().IsRegular() {
				fileBefore, _ = os.ReadFile(o.Source)
			}
			_, err := base.Import(ctx, vb, o)
			var r *base.RefusedError
			if !errors.As(err, &r) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a refusal containing %q", err, c.want)
			}
			if fileBefore != nil {
				if now, _ := os.ReadFile(o.Source); !bytes.Equal(now, fileBefore) {
					t.Error("the user's file was changed or removed")
				}
			}
			unchanged(t, f, n, before)
		})
	}
}

// corrupt changes one byte of the member holding marker, keeping the tar valid.
func corrupt(t *testing.T, path, marker string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(marker))
	if i < 0 {
		t.Fatalf("%s not in %s", marker, path)
	}
	b[i+1] ^= 0x20
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A failure after VirtualBox imported leaves no VM and no folder behind.
func TestImportFailureLeavesNothing(t *testing.T) {
	for _, match := range []string{"--vmname Alma9", "take labctl-base"} {
		t.Run(match, func(t *testing.T) {
			f, vb := setup(t)
			ova := filepath.Join(t.TempDir(), "b.ova")
			f.WriteOVA(ova, alma9)
			before := f.State().Names()
			f.AddFault(vboxtest.Fault{Match: match, Kind: "fail", Times: 1, Message: "injected failure"})
			_, err := base.Import(ctx, vb, importOpts(ova))
			if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "nothing was left behind") {
				t.Fatalf("err = %v", err)
			}
			if got := strings.Join(f.State().Names(), ","); got != strings.Join(before, ",") {
				t.Errorf("VMs now %s, were %s", got, strings.Join(before, ","))
			}
			if _, err := os.Stat(filepath.Join(f.Home, "VirtualBox VMs", "labctl-bases", "Alma9")); !os.IsNotExist(err) {
				t.Errorf("machine folder left: %v", err)
			}
			if _, err := os.Stat(ova); err != nil {
				t.Errorf("the user's file: %v", err)
			}
		})
	}
}

// VirtualBox's own manifest check fails after copying the disk (labctl's
// check would have refused first; here it is bypassed through the API).
func TestFakeImportDigestMismatchUnregisters(t *testing.T) {
	f, _ := setup(t)
	ova := filepath.Join(t.TempDir(), "b.ova")
	f.WriteOVA(ova, alma9)
	corrupt(t, ova, `"fakevboxDisk"`)
	r := f.Run("import", ova, "--vsys", "0", "--vmname", "X1")
	if r.Code != 1 || !strings.Contains(r.Stderr, "Digest mismatch (VERR_NOT_EQUAL): Attribute 'SHA256' on 'b-disk001.vmdk' does not match") ||
		!strings.Contains(r.Stderr, "0%...10%") || !strings.Contains(r.Stderr, "VBOX_E_FILE_ERROR") {
		t.Fatalf("%+v", r)
	}
	if f.State().VM("X1") != nil {
		t.Error("VM registered after a digest mismatch")
	}
}

func TestImportDownloadResumes(t *testing.T) {
	f, vb := setup(t)
	src := filepath.Join(t.TempDir(), "served.ova")
	f.WriteOVA(src, alma9)
	data, _ := os.ReadFile(src)
	var mu sync.Mutex
	var ranges []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		http.ServeContent(w, r, "served.ova", time.Now(), bytes.NewReader(data))
	}))
	defer srv.Close()
	dl := t.TempDir()
	half := len(data) / 2
	if err := os.WriteFile(filepath.Join(dl, "class.ova.partial"), data[:half], 0o644); err != nil {
		t.Fatal(err)
	}
	sum, _ := base.SHA256File(ctx, src)
	o := importOpts(srv.URL + "/dl/class.ova")
	o.DownloadDir, o.SHA256 = dl, sum
	var bar bytes.Buffer
	o.Progress = &bar
	res, err := base.Import(ctx, vb, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(ranges) != 1 || ranges[0] != "bytes="+strconv.Itoa(half)+"-" {
		t.Errorf("requests with Range %q, want one resuming at %d", ranges, half)
	}
	got, _ := os.ReadFile(res.File)
	if !bytes.Equal(got, data) || res.SHA256 != sum {
		t.Error("the resumed download differs from the served file")
	}
	if _, err := os.Stat(filepath.Join(dl, "class.ova.partial")); !os.IsNotExist(err) {
		t.Error(".partial left after a complete download")
	}
	if !strings.Contains(bar.String(), "downloading class.ova") {
		t.Errorf("no progress bar: %q", bar.String())
	}
	if f.State().VM("Alma9") == nil {
		t.Error("not imported")
	}
}

func TestImportDownloadChecksumMismatchRemovesOnlyTheDownload(t *testing.T) {
	f, vb := setup(t)
	src := filepath.Join(t.TempDir(), "served.ova")
	f.WriteOVA(src, alma9)
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(src))))
	defer srv.Close()
	dl := t.TempDir()
	o := importOpts(srv.URL + "/served.ova")
	o.DownloadDir, o.SHA256 = dl, strings.Repeat("0", 64)
	before, n := f.State().Names(), len(f.Argv())
	_, err := base.Import(ctx, vb, o)
	if !errors.Is(err, base.ErrChecksum) && !strings.Contains(fmtErr(err), "SHA-256 mismatch") {
		t.Fatalf("err = %v", err)
	}
	if ents, _ := os.ReadDir(dl); len(ents) != 0 {
		t.Errorf("download folder keeps %d entries after a mismatch", len(ents))
	}
	if _, err := os.Stat(src); err != nil {
		t.Error("the served file is gone")
	}
	unchanged(t, f, n, before)
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestExportThenImportRoundTrip(t *testing.T) {
	f, vb := setup(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "class.ova")
	res, err := base.Export(ctx, vb, base.ExportOptions{VM: vboxtest.BaseVM, File: out})
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := ovf.CheckOVA(out)
	if err != nil || !pkg.HasManifest {
		t.Fatalf("exported OVA: %v (manifest %v)", err, pkg != nil && pkg.HasManifest)
	}
	d, _, err := ovf.Unmarshal(pkg.OVF)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range d.NICs {
		if n.MAC != "" {
			t.Errorf("exported with MAC %s", n.MAC)
		}
	}
	if d.Name != vboxtest.BaseVM || strings.Join(pkg.Files, ",") != "class.ovf,class-disk001.vmdk,class.mf" {
		t.Errorf("name %q, members %v", d.Name, pkg.Files)
	}
	sum, _ := base.SHA256File(ctx, out)
	sums, _ := os.ReadFile(out + ".sha256")
	if res.SHA256 != sum || string(sums) != sum+"  class.ova\n" {
		t.Errorf("sha %s, file %s, sums file %q", res.SHA256, sum, sums)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("export left %d entries in the folder, want the OVA and its checksum", len(ents))
	}
	o := importOpts(out)
	o.SHA256 = res.SHA256
	imp, err := base.Import(ctx, vb, o)
	if err != nil {
		t.Fatal(err)
	}
	if imp.Settings.Profile != "el8" && imp.Settings.Profile != "" {
		t.Errorf("profile %q", imp.Settings.Profile)
	}
	if v := f.State().VM("Alma9"); v == nil || v.NICs[0].MAC == f.State().VM(vboxtest.BaseVM).NICs[0].MAC {
		t.Errorf("imported VM %+v: want a new MAC", v)
	}
}

func TestExportRefusals(t *testing.T) {
	t.Run("running base", func(t *testing.T) {
		f, vb := setup(t)
		if r := f.Run("startvm", vboxtest.BaseVM, "--type", "headless"); r.Code != 0 {
			t.Fatal(r)
		}
		out := filepath.Join(t.TempDir(), "b.ova")
		n := len(f.Argv())
		_, err := base.Export(ctx, vb, base.ExportOptions{VM: vboxtest.BaseVM, File: out})
		if err == nil || !strings.Contains(err.Error(), "is running: shut it down first") {
			t.Fatalf("err = %v", err)
		}
		for _, a := range f.Argv()[n:] {
			if a[0] == "export" {
				t.Errorf("exported a running base: %v", a)
			}
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Error("file written")
		}
	})
	t.Run("existing file", func(t *testing.T) {
		f, vb := setup(t)
		out := filepath.Join(t.TempDir(), "b.ova")
		os.WriteFile(out, []byte("the instructor's older export"), 0o644)
		n := len(f.Argv())
		_, err := base.Export(ctx, vb, base.ExportOptions{VM: vboxtest.BaseVM, File: out})
		if err == nil || !strings.Contains(err.Error(), "already exists: choose another name, or pass --force") {
			t.Fatalf("err = %v", err)
		}
		if b, _ := os.ReadFile(out); string(b) != "the instructor's older export" {
			t.Error("existing file changed")
		}
		for _, a := range f.Argv()[n:] {
			if a[0] == "export" {
				t.Errorf("export ran: %v", a)
			}
		}
		// A failing export with --force keeps the old file.
		f.AddFault(vboxtest.Fault{Match: "export", Kind: "fail", Times: 1, Message: "Appliance write failed"})
		if _, err := base.Export(ctx, vb, base.ExportOptions{VM: vboxtest.BaseVM, File: out, Force: true}); err == nil {
			t.Fatal("no error from a failed export")
		}
		if b, _ := os.ReadFile(out); string(b) != "the instructor's older export" {
			t.Error("a failed --force export lost the old file")
		}
		if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
			t.Errorf("a failed export left %d entries", len(ents))
		}
		if _, err := base.Export(ctx, vb, base.ExportOptions{VM: vboxtest.BaseVM, File: out, Force: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := ovf.CheckOVA(out); err != nil {
			t.Errorf("--force export: %v", err)
		}
	})
	t.Run("not an ova", func(t *testing.T) {
		_, vb := setup(t)
		if _, err := base.Export(ctx, vb, base.ExportOptions{VM: vboxtest.BaseVM, File: filepath.Join(t.TempDir(), "b.zip")}); err == nil || !strings.Contains(err.Error(), "one .ova file") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no base", func(t *testing.T) {
		_, vb := setup(t)
		if _, err := base.Export(ctx, vb, base.ExportOptions{VM: "nope", File: filepath.Join(t.TempDir(), "b.ova")}); err == nil || !strings.Contains(err.Error(), "is not registered") {
			t.Fatalf("err = %v", err)
		}
	})
}

func finding(rep *base.Report, check string) base.Finding {
	for _, f := range rep.Findings {
		if f.Check == check {
			return f
		}
	}
	return base.Finding{}
}

func TestCheck(t *testing.T) {
	want := base.Want{VM: vboxtest.BaseVM, Snapshot: "labctl-base", Profile: "el8"}
	t.Run("ready", func(t *testing.T) {
		_, vb := setup(t)
		rep, err := base.Inspect(ctx, vb, want)
		if err != nil || !rep.OK || rep.GuestAdditions != "7.0.14" || rep.Arch != "x86" || len(rep.Warnings()) != 0 {
			t.Fatalf("%v %+v", err, rep)
		}
	})
	t.Run("x86 base on Apple silicon", func(t *testing.T) {
		f, vb := setup(t)
		f.SetHostArch("ARMv8")
		rep, _ := base.Inspect(ctx, vb, want)
		fd := finding(rep, "architecture")
		if rep.OK || fd.Level != base.Problem || !strings.Contains(fd.Message, "runs only arm64 guests") || !strings.Contains(fd.Message, `base.profile = "el9"`) {
			t.Fatalf("%+v", rep)
		}
		// And what it prevents: the clone would not start.
		f.Run("snapshot", vboxtest.BaseVM, "take", "s")
		f.Run("clonevm", vboxtest.BaseVM, "--snapshot", "s", "--options", "link", "--name", "c1", "--register")
		r := f.Run("startvm", "c1", "--type", "headless")
		if r.Code != 1 || !strings.Contains(r.Stderr, "The VM session was aborted") {
			t.Errorf("startvm of an x86 clone on ARM: %+v", r)
		}
	})
	t.Run("arm64 base on x86", func(t *testing.T) {
		f, vb := setup(t)
		f.SetHostArch("")
		f.SetVMArch(vboxtest.BaseVM, "ARM")
		rep, _ := base.Inspect(ctx, vb, want)
		if fd := finding(rep, "architecture"); fd.Level != base.Problem || !strings.Contains(fd.Message, "runs only x86_64 guests") {
			t.Fatalf("%+v", rep)
		}
	})
	t.Run("profile does not fit", func(t *testing.T) {
		_, vb := setup(t)
		w := want
		w.Profile = "debian"
		rep, _ := base.Inspect(ctx, vb, w)
		fd := finding(rep, "os")
		if fd.Level != base.Problem || !strings.Contains(fd.Message, `base.profile is "debian"`) || !strings.Contains(fd.Message, "Enterprise Linux") {
			t.Fatalf("%+v", rep)
		}
	})
	t.Run("running base", func(t *testing.T) {
		f, vb := setup(t)
		f.Run("startvm", vboxtest.BaseVM, "--type", "headless")
		rep, _ := base.Inspect(ctx, vb, want)
		if fd := finding(rep, "state"); fd.Level != base.Problem || !strings.Contains(fd.Message, "is running: shut it down first") {
			t.Fatalf("%+v", rep)
		}
	})
	t.Run("old Guest Additions", func(t *testing.T) {
		f, vb := setup(t)
		f.SetVersion("7.1.12r169651")
		rep, _ := base.Inspect(ctx, vb, want)
		if fd := finding(rep, "guest-additions"); fd.Level != base.Warning || !strings.Contains(fd.Message, "Guest Additions 7.0.14, older than this VirtualBox 7.1.12") || !rep.OK {
			t.Fatalf("%+v", rep)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, vb := setup(t)
		w := want
		w.VM = "nope"
		rep, err := base.Inspect(ctx, vb, w)
		if err != nil || rep.OK || !strings.Contains(finding(rep, "exists").Message, "labctl base import") {
			t.Fatalf("%v %+v", err, rep)
		}
	})
	t.Run("other snapshots", func(t *testing.T) {
		f, vb := setup(t)
		f.Run("snapshot", vboxtest.BaseVM, "take", "mine")
		rep, _ := base.Inspect(ctx, vb, want)
		if fd := finding(rep, "linked-clones"); fd.Level != base.Problem || !strings.Contains(fd.Message, `has no snapshot "labctl-base" (it has "mine")`) {
			t.Fatalf("%+v", rep)
		}
	})
}

func TestDetectOS(t *testing.T) {
	for _, c := range []struct{ ostype, release, profile string }{
		{"Red Hat (64-bit)", "4.18.0-305.3.1.el8_4.x86_64", "el8"},
		{"Red Hat (64-bit)", "5.14.0-427.13.1.el9_4.aarch64", "el9"},
		{"RedHat9_64", "", "el9"},
		{"RedHat_64", "", ""},
		{"Oracle_64", "", ""},
		{"Red Hat 9.x (64-bit)", "", "el9"},
		{"Oracle9_arm64", "", "el9"},
		{"Oracle Linux 8.x (64-bit)", "", "el8"},
		{"Red Hat (64-bit)", "", ""},
		{"Debian (64-bit)", "", "debian"},
		{"Other Linux (64-bit)", "6.1.0-18-amd64", "debian"},
		{"Other Linux (64-bit)", "", ""},
	} {
		if got := base.DetectOS(c.ostype, c.release).Profile(); got != c.profile {
			t.Errorf("DetectOS(%q, %q) = %q, want %q", c.ostype, c.release, got, c.profile)
		}
	}
	os := base.DetectOS("Red Hat (64-bit)", "5.14.0-427.el9.x86_64")
	if msg := base.ProfileMismatch("b", os, "el8", "lab.toml"); !strings.Contains(msg, `runs an EL9 system`) || !strings.Contains(msg, `base.profile is "el8" in lab.toml: set base.profile = "el9"`) {
		t.Errorf("mismatch message %q", msg)
	}
}

// An interrupted download keeps what it fetched in .partial and says how to
// resume; nothing is imported.
func TestImportDownloadInterruptedKeepsPartial(t *testing.T) {
	f, vb := setup(t)
	data := bytes.Repeat([]byte("appliance bytes "), 4096)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:len(data)/3]) // the connection drops here
	}))
	defer srv.Close()
	dl := t.TempDir()
	o := importOpts(srv.URL + "/big.ova")
	o.DownloadDir = dl
	before, n := f.State().Names(), len(f.Argv())
	_, err := base.Import(ctx, vb, o)
	if err == nil || !strings.Contains(err.Error(), "run the same command again to resume") {
		t.Fatalf("err = %v", err)
	}
	st, err := os.Stat(filepath.Join(dl, "big.ova.partial"))
	if err != nil || st.Size() != int64(len(data)/3) {
		t.Errorf("partial file: %v (%d bytes)", err, sizeOf(st))
	}
	unchanged(t, f, n, before)
}

func sizeOf(st os.FileInfo) int64 {
	if st == nil {
		return -1
	}
	return st.Size()
}
