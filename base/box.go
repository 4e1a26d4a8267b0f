package base

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// unpackBox extracts a Vagrant box (tar or tar.gz) into dir and returns
// the path of its box.ovf. Only regular files are written, each under dir:
// a box is a download, and its member names are not trusted.
func unpackBox(box, dir string) (string, error) {
	f, err := os.Open(box)
	if err != nil {
		return "", err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	magic, _ := br.Peek(4)
	var r io.Reader = br
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(br)
		if err != nil {
			return "", fmt.Errorf("%s: %w", box, err)
		}
		defer gz.Close()
		r = gz
	case bytes.HasPrefix(magic, []byte("PK")):
		return "", fmt.Errorf("%s is a zip archive: labctl reads tar and tar.gz boxes; unpack it and import its box.ovf", box)
	}
	tr := tar.NewReader(r)
	var meta []byte
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("%s is not a Vagrant box (tar or tar.gz): %w", box, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." || strings.HasPrefix(name, "../") || path.IsAbs(name) || strings.Contains(name, "/") {
			continue // boxes are flat; nothing outside dir
		}
		if name == "metadata.json" {
			if meta, err = io.ReadAll(io.LimitReader(tr, 1<<20)); err != nil {
				return "", fmt.Errorf("%s: %w", box, err)
			}
			continue
		}
		if name == "box.ovf" {
			found = true
		}
		out, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("unpack %s from %s: %w", name, box, err)
		}
	}
	if meta == nil {
		return "", fmt.Errorf("%s has no metadata.json: not a Vagrant box", box)
	}
	var md struct {
		Provider string `json:"provider"`
	}
	if err := json.Unmarshal(meta, &md); err != nil {
		return "", fmt.Errorf("%s: metadata.json: %w", box, err)
	}
	if md.Provider != "virtualbox" {
		return "", fmt.Errorf("%s is a Vagrant box for provider %q: labctl needs one for the virtualbox provider", box, md.Provider)
	}
	if !found {
		return "", errors.New(box + " has no box.ovf: not a VirtualBox Vagrant box")
	}
	return filepath.Join(dir, "box.ovf"), nil
}
