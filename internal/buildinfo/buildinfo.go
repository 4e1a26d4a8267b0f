// Package buildinfo says which labctl this is: the release version stamped
// at build time, else the module version, plus the VCS revision and dirty flag.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set by the release build (-ldflags "-X
// labctl/internal/buildinfo.Version=v1.2.3"); otherwise it comes from the
// module's build info.
var Version = ""

// Info says which labctl this is: version, VCS revision, and whether the
// tree it was built from had uncommitted changes.
type Info struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Dirty    bool   `json:"dirty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// Read reads the running binary's build info.
func Read() Info {
	b := Info{Version: Version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "" {
			b.Version = bi.Main.Version // "v1.2.3" from go install, "(devel)" from a checkout
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Dirty = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	return b
}

// String is the one-line form `labctl --version` prints.
func (b Info) String() string {
	s := "labctl " + b.Version
	if b.Revision != "" {
		rev := b.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " (" + rev
		if b.Dirty {
			s += ", dirty"
		}
		s += ")"
	}
	return fmt.Sprintf("%s %s %s", s, b.Go, b.Platform)
}
