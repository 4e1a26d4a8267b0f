package ovf

import (
	"archive/tar"
	"bufio"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Digest is one manifest entry.
type Digest struct {
	Alg string // "SHA1", "SHA256", "SHA512", "MD5"
	Hex string // lower case
}

var mfLineRE = regexp.MustCompile(`^(SHA1|SHA256|SHA512|MD5) ?\((.+)\) ?= ?([0-9a-fA-F]+)$`)

// ParseManifest reads .mf text: `SHA256 (file) = hex` lines.
func ParseManifest(data []byte) (map[string]Digest, error) {
	out := map[string]Digest{}
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(strings.TrimSuffix(l, "\r"))
		if l == "" {
			continue
		}
		m := mfLineRE.FindStringSubmatch(l)
		if m == nil {
			return nil, fmt.Errorf("manifest line %d is not `ALG (file) = digest`: %q", i+1, l)
		}
		out[m[2]] = Digest{Alg: m[1], Hex: strings.ToLower(m[3])}
	}
	return out, nil
}

// FormatManifest writes digests one per line, sorted by file name.
func FormatManifest(d map[string]Digest) []byte {
	names := make([]string, 0, len(d))
	for n := range d {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s (%s) = %s\n", d[n].Alg, n, d[n].Hex)
	}
	return []byte(b.String())
}

func newHash(alg string) hash.Hash {
	switch alg {
	case "SHA1":
		return sha1.New()
	case "SHA512":
		return sha512.New()
	case "MD5":
		return md5.New()
	}
	return sha256.New()
}

// DigestError is a file whose digest differs from the manifest's, or a
// manifest entry without its file.
type DigestError struct {
	File      string
	Alg       string
	Want, Got string // Got "" = the file is missing
}

func (e *DigestError) Error() string {
	if e.Got == "" {
		return fmt.Sprintf("%s is listed in the manifest but not in the package", e.File)
	}
	return fmt.Sprintf("%s digest of %s is %s, the manifest says %s", e.Alg, e.File, e.Got, e.Want)
}

// ErrNoDescriptor: an OVA without an .ovf member.
var ErrNoDescriptor = errors.New("the package holds no .ovf descriptor")

// Package is what Check read from an OVA (or an OVF and its siblings).
type Package struct {
	OVFName     string
	OVF         []byte
	HasManifest bool
	Files       []string // members in order
}

// CheckOVA reads an OVA tar once, computing every member's digest, and
// compares them with its manifest (the .mf named after the .ovf, else the
// first .mf). Digests of files without a manifest entry are not checked.
func CheckOVA(path string) (*Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReaderSize(f, 1<<20))
	p := &Package{}
	var mfs []struct {
		name string
		data []byte
	}
	sums := map[string]map[string]string{} // file -> alg -> hex
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s as an OVA (tar): %w", path, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(h.Name, "./")
		p.Files = append(p.Files, name)
		switch strings.ToLower(filepath.Ext(name)) {
		case ".ovf":
			if p.OVF == nil {
				if p.OVF, err = io.ReadAll(io.LimitReader(tr, 64<<20)); err != nil {
					return nil, fmt.Errorf("read %s from %s: %w", name, path, err)
				}
				p.OVFName = name
				sums[name] = digestAll(p.OVF)
				continue
			}
		case ".mf":
			b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			if err != nil {
				return nil, fmt.Errorf("read %s from %s: %w", name, path, err)
			}
			mfs = append(mfs, struct {
				name string
				data []byte
			}{name, b})
			continue
		}
		s, err := digestReader(tr)
		if err != nil {
			return nil, fmt.Errorf("read %s from %s: %w", name, path, err)
		}
		sums[name] = s
	}
	if p.OVF == nil {
		return p, ErrNoDescriptor
	}
	var mf []byte
	want := strings.TrimSuffix(p.OVFName, filepath.Ext(p.OVFName)) + ".mf"
	for _, m := range mfs {
		if m.name == want {
			mf = m.data
		}
	}
	if mf == nil && len(mfs) > 0 {
		mf = mfs[0].data
	}
	if mf == nil {
		return p, nil
	}
	p.HasManifest = true
	return p, compare(mf, sums)
}

// CheckOVF checks an .ovf file's siblings against <base>.mf next to it.
func CheckOVF(path string) (*Package, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := &Package{OVFName: filepath.Base(path), OVF: data}
	mf, err := os.ReadFile(strings.TrimSuffix(path, filepath.Ext(path)) + ".mf")
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	p.HasManifest = true
	entries, err := ParseManifest(mf)
	if err != nil {
		return nil, err
	}
	sums := map[string]map[string]string{}
	for name := range entries {
		f, err := os.Open(filepath.Join(filepath.Dir(path), filepath.FromSlash(name)))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s, err := digestReader(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		sums[name] = s
	}
	return p, compare(mf, sums)
}

func compare(mf []byte, sums map[string]map[string]string) error {
	entries, err := ParseManifest(mf)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d := entries[n]
		got, ok := sums[n]
		if !ok {
			return &DigestError{File: n, Alg: d.Alg, Want: d.Hex}
		}
		if got[d.Alg] != d.Hex {
			return &DigestError{File: n, Alg: d.Alg, Want: d.Hex, Got: got[d.Alg]}
		}
	}
	return nil
}

var algs = []string{"SHA1", "SHA256", "SHA512", "MD5"}

func digestAll(b []byte) map[string]string {
	s, _ := digestReader(strings.NewReader(string(b)))
	return s
}

// digestReader computes every manifest algorithm in one pass.
func digestReader(r io.Reader) (map[string]string, error) {
	hs := make([]hash.Hash, len(algs))
	ws := make([]io.Writer, len(algs))
	for i, a := range algs {
		hs[i] = newHash(a)
		ws[i] = hs[i]
	}
	if _, err := io.Copy(io.MultiWriter(ws...), r); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, a := range algs {
		out[a] = hex.EncodeToString(hs[i].Sum(nil))
	}
	return out, nil
}

// Member is one file to put into an OVA.
type Member struct {
	Name string
	Path string // read from this file, or
	Data []byte // these bytes when Path is ""
}

// WriteOVA writes an OVA: the members in order (the .ovf first), then, when
// alg is not "", <base>.mf with their digests last — VirtualBox's layout.
// The file is created exclusively and removed again on failure.
func WriteOVA(path string, members []Member, alg string) (err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(bw)
	digests := map[string]Digest{}
	for _, m := range members {
		var r io.Reader
		var size int64
		if m.Path != "" {
			src, err := os.Open(m.Path)
			if err != nil {
				return err
			}
			defer src.Close()
			st, err := src.Stat()
			if err != nil {
				return err
			}
			r, size = src, st.Size()
		} else {
			r, size = strings.NewReader(string(m.Data)), int64(len(m.Data))
		}
		if err := tw.WriteHeader(&tar.Header{Name: m.Name, Mode: 0o440, Size: size, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR, Uname: "vboxovf10", Gname: "vbox_v7.0.14r161095", Uid: 10, Gid: 0}); err != nil {
			return err
		}
		h := newHash(alg)
		if _, err := io.Copy(io.MultiWriter(tw, h), r); err != nil {
			return err
		}
		digests[m.Name] = Digest{Alg: alg, Hex: hex.EncodeToString(h.Sum(nil))}
	}
	if alg != "" && len(members) > 0 {
		base := strings.TrimSuffix(members[0].Name, filepath.Ext(members[0].Name))
		mf := FormatManifest(digests)
		if err := tw.WriteHeader(&tar.Header{Name: base + ".mf", Mode: 0o440, Size: int64(len(mf)), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR, Uname: "vboxovf10", Gname: "vbox_v7.0.14r161095", Uid: 10}); err != nil {
			return err
		}
		if _, err := tw.Write(mf); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// ExtractMember copies one member of an OVA to dst (created exclusively).
func ExtractMember(ova, name, dst string) error {
	f, err := os.Open(ova)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReaderSize(f, 1<<20))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return fmt.Errorf("%s has no member %s", ova, name)
		}
		if err != nil {
			return err
		}
		if strings.TrimPrefix(h.Name, "./") != name {
			continue
		}
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, tr); err != nil {
			out.Close()
			os.Remove(dst)
			return err
		}
		return out.Close()
	}
}

// DigestFile returns r's digest with alg ("SHA1", "SHA256", "SHA512", "MD5").
func DigestFile(r io.Reader, alg string) (string, error) {
	h := newHash(alg)
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
