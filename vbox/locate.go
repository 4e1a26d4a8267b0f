package vbox

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Locator finds VBoxManage. Its fields are the outside world, so tests can
// replace them; DefaultLocator uses the real ones.
type Locator struct {
	GOOS     string
	Getenv   func(string) string
	LookPath func(string) (string, error)
	// IsFile reports whether path is an existing regular file.
	IsFile func(path string) bool
}

// DefaultLocator looks at this machine.
func DefaultLocator() Locator {
	return Locator{
		GOOS:     runtime.GOOS,
		Getenv:   os.Getenv,
		LookPath: exec.LookPath,
		IsFile: func(p string) bool {
			fi, err := os.Stat(p)
			return err == nil && fi.Mode().IsRegular()
		},
	}
}

// Locate finds VBoxManage on this machine; see Locator.Locate.
func Locate(explicit string) (string, error) { return DefaultLocator().Locate(explicit) }

// Locate returns the VBoxManage to run, in this order: explicit (the
// --vboxmanage flag), PATH, the folders in VBOX_INSTALL_PATH and
// VBOX_MSI_INSTALL_PATH (';'-separated; the Windows installer sets the
// latter and usually leaves PATH alone), then the usual install locations.
// It fails with an error wrapping ErrNotInstalled that says how to proceed.
func (l Locator) Locate(explicit string) (string, error) {
	exe := "VBoxManage"
	if l.GOOS == "windows" {
		exe = "VBoxManage.exe"
	}
	if explicit != "" {
		if !strings.ContainsAny(explicit, `/\`) {
			if p, err := l.LookPath(explicit); err == nil {
				return p, nil
			}
		} else if l.IsFile(explicit) {
			return explicit, nil
		}
		return "", fmt.Errorf("%w: --vboxmanage %q is not an existing file; give the full path of VBoxManage, or leave the flag out to search PATH and the usual install folders", ErrNotInstalled, explicit)
	}
	if p, err := l.LookPath("VBoxManage"); err == nil {
		return p, nil
	}
	var candidates []string
	for _, env := range []string{"VBOX_INSTALL_PATH", "VBOX_MSI_INSTALL_PATH"} {
		for _, dir := range strings.Split(l.Getenv(env), ";") {
			if dir = strings.TrimSpace(dir); dir != "" {
				candidates = append(candidates, l.join(dir, exe))
			}
		}
	}
	candidates = append(candidates, l.usualPaths(exe)...)
	for _, p := range candidates {
		if l.IsFile(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: no VBoxManage on PATH, in VBOX_INSTALL_PATH/VBOX_MSI_INSTALL_PATH or in the usual install folders; install VirtualBox %d.%d or newer or point --vboxmanage at VBoxManage",
		ErrNotInstalled, MinMajor, MinMinor)
}

// usualPaths are where the official packages put VBoxManage.
func (l Locator) usualPaths(exe string) []string {
	switch l.GOOS {
	case "windows":
		var dirs []string
		if pf := l.Getenv("ProgramFiles"); pf != "" {
			dirs = append(dirs, pf)
		}
		drive := l.Getenv("SystemDrive")
		if drive == "" {
			drive = "C:"
		}
		dirs = append(dirs, drive+`\Program Files`, drive+`\Program Files (x86)`)
		var out []string
		for _, d := range dirs {
			out = append(out, l.join(l.join(l.join(d, "Oracle"), "VirtualBox"), exe))
		}
		return out
	case "darwin":
		return []string{"/usr/local/bin/VBoxManage", "/Applications/VirtualBox.app/Contents/MacOS/VBoxManage"}
	default:
		// Oracle's packages, distro packages, and the Windows install seen from WSL.
		return []string{"/usr/bin/VBoxManage", "/usr/local/bin/VBoxManage", "/usr/lib/virtualbox/VBoxManage",
			"/opt/VirtualBox/VBoxManage", "/mnt/c/Program Files/Oracle/VirtualBox/VBoxManage.exe"}
	}
}

// join uses the target OS's separator (tests locate for Windows on Linux).
func (l Locator) join(dir, name string) string {
	sep := "/"
	if l.GOOS == "windows" {
		sep = `\`
	}
	return strings.TrimRight(dir, `/\`) + sep + name
}
