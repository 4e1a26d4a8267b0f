package vbox

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func fakeLocator(goos string, env map[string]string, path map[string]string, files ...string) Locator {
	set := map[string]bool{}
	for _, f := range files {
		set[f] = true
	}
	return Locator{
		GOOS:   goos,
		Getenv: func(k string) string { return env[k] },
		LookPath: func(name string) (string, error) {
			if p, ok := path[name]; ok {
				return p, nil
			}
			return "", exec.ErrNotFound
		},
		IsFile: func(p string) bool { return set[p] },
	}
}

func TestLocateOrder(t *testing.T) {
	tests := []struct {
		name     string
		l        Locator
		explicit string
		want     string
	}{
		{"explicit path wins over PATH",
			fakeLocator("linux", nil, map[string]string{"VBoxManage": "/usr/bin/VBoxManage"}, "/opt/vbox7/VBoxManage"),
			"/opt/vbox7/VBoxManage", "/opt/vbox7/VBoxManage"},
		{"explicit bare name is looked up on PATH",
			fakeLocator("linux", nil, map[string]string{"vboxmanage": "/usr/bin/vboxmanage"}), "vboxmanage", "/usr/bin/vboxmanage"},
		{"PATH",
			fakeLocator("linux", nil, map[string]string{"VBoxManage": "/usr/bin/VBoxManage"}, "/opt/VirtualBox/VBoxManage"),
			"", "/usr/bin/VBoxManage"},
		{"VBOX_MSI_INSTALL_PATH on Windows (trailing backslash)",
			fakeLocator("windows", map[string]string{"VBOX_MSI_INSTALL_PATH": `D:\Apps\VirtualBox\`}, nil,
				`D:\Apps\VirtualBox\VBoxManage.exe`, `C:\Program Files\Oracle\VirtualBox\VBoxManage.exe`),
			"", `D:\Apps\VirtualBox\VBoxManage.exe`},
		{"VBOX_INSTALL_PATH list, first match",
			fakeLocator("windows", map[string]string{"VBOX_INSTALL_PATH": `C:\nope;E:\VB`, "VBOX_MSI_INSTALL_PATH": `F:\VB\`}, nil,
				`E:\VB\VBoxManage.exe`, `F:\VB\VBoxManage.exe`),
			"", `E:\VB\VBoxManage.exe`},
		{"Windows Program Files",
			fakeLocator("windows", map[string]string{"ProgramFiles": `C:\Program Files`}, nil, `C:\Program Files\Oracle\VirtualBox\VBoxManage.exe`),
			"", `C:\Program Files\Oracle\VirtualBox\VBoxManage.exe`},
		{"Windows without ProgramFiles falls back to SystemDrive",
			fakeLocator("windows", map[string]string{"SystemDrive": "D:"}, nil, `D:\Program Files (x86)\Oracle\VirtualBox\VBoxManage.exe`),
			"", `D:\Program Files (x86)\Oracle\VirtualBox\VBoxManage.exe`},
		{"macOS app bundle",
			fakeLocator("darwin", nil, nil, "/Applications/VirtualBox.app/Contents/MacOS/VBoxManage"),
			"", "/Applications/VirtualBox.app/Contents/MacOS/VBoxManage"},
		{"Linux Oracle package",
			fakeLocator("linux", nil, nil, "/usr/lib/virtualbox/VBoxManage", "/opt/VirtualBox/VBoxManage"),
			"", "/usr/lib/virtualbox/VBoxManage"},
		{"WSL sees the Windows install",
			fakeLocator("linux", nil, nil, "/mnt/c/Program Files/Oracle/VirtualBox/VBoxManage.exe"),
			"", "/mnt/c/Program Files/Oracle/VirtualBox/VBoxManage.exe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.l.Locate(tt.explicit)
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestLocateNotInstalled(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "windows"} {
		_, err := fakeLocator(goos, nil, nil).Locate("")
		if !errors.Is(err, ErrNotInstalled) {
			t.Fatalf("%s: want ErrNotInstalled, got %v", goos, err)
		}
		msg := err.Error()
		for _, hint := range []string{"install VirtualBox 6.1 or newer", "--vboxmanage"} {
			if !strings.Contains(msg, hint) {
				t.Errorf("%s: message lacks %q: %s", goos, hint, msg)
			}
		}
		if strings.Count(msg, ".") > 1 || strings.Contains(msg, "\n") { // "6.1" is the only dot: one sentence
			t.Errorf("want one sentence, got %q", msg)
		}
	}
	_, err := fakeLocator("linux", nil, map[string]string{"VBoxManage": "/usr/bin/VBoxManage"}).Locate("/no/such/VBoxManage")
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), `"/no/such/VBoxManage"`) {
		t.Fatalf("a wrong explicit path must fail, not fall back: %v", err)
	}
}
