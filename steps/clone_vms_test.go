package steps

import (
	"slices"
	"testing"
)

// clone-vms clones without reading the clone back (labctl uses names).
func TestCloneVMsNoReadBack(t *testing.T) {
	f, env := vmtSetup(t)
	if _, out, err := vmtRun(t, env, ModeApply); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	argv := f.Argv()
	for i, a := range argv {
		if a[0] != "clonevm" {
			continue
		}
		name := a[slices.Index(a, "--name")+1]
		for _, b := range argv[i+1:] {
			if b[0] == "setextradata" && b[1] == name {
				break
			}
			if b[0] == "showvminfo" && b[1] == name {
				t.Errorf("%s was read back between clonevm and its tagging", name)
			}
		}
	}
}
