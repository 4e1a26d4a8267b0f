package ovf

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDescriptorRoundTrip(t *testing.T) {
	d := &Descriptor{Name: `base "one" & <two>`, OSType: "RedHat9_arm64", Arch: "ARM", CPUs: 2, MemoryMB: 2048, VBoxMachine: true,
		NICs: []NIC{{Mode: "NAT", MAC: "080027AABBCC"}}, Disks: []Disk{{ID: "vmdisk1", Href: "b-disk001.vmdk", Format: FormatStreamVMDK, Capacity: 1 << 30}}}
	got, n, err := Unmarshal(d.Marshal())
	if err != nil || n != 1 {
		t.Fatalf("%v (%d systems)", err, n)
	}
	if !reflect.DeepEqual(got, d) {
		t.Errorf("round trip:\n%+v\n%+v", got, d)
	}
	if _, _, err := Unmarshal([]byte("<Envelope>")); err == nil {
		t.Error("broken XML parsed")
	}
}

func TestOVAManifest(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.ova")
	members := []Member{{Name: "a.ovf", Data: (&Descriptor{Name: "a", CPUs: 1, MemoryMB: 512}).Marshal()}, {Name: "a-disk001.vmdk", Data: []byte("disk bytes")}}
	if err := WriteOVA(p, members, "SHA256"); err != nil {
		t.Fatal(err)
	}
	if err := WriteOVA(p, members, "SHA256"); err == nil {
		t.Error("WriteOVA overwrote a file")
	}
	pkg, err := CheckOVA(p)
	if err != nil || !pkg.HasManifest || strings.Join(pkg.Files, ",") != "a.ovf,a-disk001.vmdk,a.mf" {
		t.Fatalf("%v %+v", err, pkg)
	}
	b, _ := os.ReadFile(p)
	i := strings.Index(string(b), "disk bytes")
	b[i] = 'D'
	bad := filepath.Join(dir, "bad.ova")
	os.WriteFile(bad, b, 0o644)
	var de *DigestError
	if _, err := CheckOVA(bad); !errors.As(err, &de) || de.File != "a-disk001.vmdk" || de.Alg != "SHA256" {
		t.Errorf("corrupted member: %v", err)
	}
	m, err := ParseManifest([]byte("SHA1 (x.ovf) = ABCDEF\r\nSHA256(y.vmdk)= 0123\n"))
	if err != nil || m["x.ovf"] != (Digest{"SHA1", "abcdef"}) || m["y.vmdk"] != (Digest{"SHA256", "0123"}) {
		t.Errorf("%v %v", m, err)
	}
	if _, err := ParseManifest([]byte("nonsense\n")); err == nil {
		t.Error("nonsense manifest parsed")
	}
}
