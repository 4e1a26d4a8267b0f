package base

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"labctl/vbox"
)

// ExportOptions says what to export where.
type ExportOptions struct {
	VM    string // the base VM
	File  string // FILE.ova
	Force bool   // replace an existing FILE
}

// Exported is what Export wrote.
type Exported struct {
	File     string // absolute
	SHA256   string
	SumsFile string // FILE.sha256, in `sha256sum -c` form
}

// Export writes the powered-off base as an OVA with a manifest and without
// MAC addresses (every student's import gets fresh ones), then its SHA-256
// to hand out with it. A running base or an existing file (without Force)
// is refused before anything is written; with Force the old file is
// replaced only once the new one is complete.
func Export(ctx context.Context, api VBox, o ExportOptions) (*Exported, error) {
	if !strings.EqualFold(filepath.Ext(o.File), ".ova") {
		return nil, refused("%s: the export is one .ova file (name it like base.ova)", o.File)
	}
	abs, err := filepath.Abs(o.File)
	if err != nil {
		return nil, err
	}
	info, err := api.Info(ctx, o.VM)
	if errors.Is(err, vbox.ErrNotFound) {
		return nil, refused("the base VM %q is not registered in VirtualBox (base.vm in lab.toml); nothing was exported", o.VM)
	}
	if err != nil {
		return nil, fmt.Errorf("read the base VM %q: %w", o.VM, err)
	}
	if info.State != vbox.StatePowerOff && info.State != vbox.StateAborted {
		return nil, refused("the base VM %q is %s: shut it down first, so its disk is consistent (e.g. `VBoxManage controlvm %q acpipowerbutton`); nothing was exported", info.Name, info.State, info.Name)
	}
	if _, err := os.Stat(abs); err == nil && !o.Force {
		return nil, refused("%s already exists: choose another name, or pass --force to replace it", abs)
	}
	if _, err := os.Stat(filepath.Dir(abs)); err != nil {
		return nil, refused("cannot write %s: %v", abs, err)
	}
	// VirtualBox refuses to write over a file, and a failed export must not
	// cost the old one: write into a folder beside it under the final name
	// (VirtualBox names the members after it), then rename.
	tmpDir, err := os.MkdirTemp(filepath.Dir(abs), ".labctl-export-")
	if err != nil {
		return nil, fmt.Errorf("cannot write next to %s: %w", abs, err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, filepath.Base(abs))
	if err := api.Export(ctx, info.UUID, tmp, info.Name); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("export %s: %w", info.Name, err)
	}
	sum, err := SHA256File(ctx, tmp)
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, abs); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	sums := abs + ".sha256"
	if err := os.WriteFile(sums, []byte(sum+"  "+filepath.Base(abs)+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", sums, err)
	}
	return &Exported{File: abs, SHA256: sum, SumsFile: sums}, nil
}
