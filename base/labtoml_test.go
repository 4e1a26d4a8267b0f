package base

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEditLabKeepsComments(t *testing.T) {
	embedded, err := os.ReadFile("../lab.toml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := EditLab("lab.toml", embedded, Settings{VM: "Alma9 \"class\"", User: "vagrant", SSHUser: "vagrant", Profile: "el9"})
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, w := range []string{
		"# The VM every node is cloned from, as VirtualBox names it: AlmaLinux 8.4\n",
		"vm = \"Alma9 \\\"class\\\"\"\n",
		"user = \"vagrant\"\n",
		"ssh_user = \"vagrant\"\n",
		"profile = \"el9\"\n",
		"# Guest OS family: \"el8\" (AlmaLinux/Rocky 8), \"el9\" or \"debian\".\n",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("edited lab.toml lacks %q", w)
		}
	}
	// Only the four value lines changed.
	a, b := strings.Split(string(embedded), "\n"), strings.Split(got, "\n")
	if len(a) != len(b) {
		t.Fatalf("line count %d -> %d", len(a), len(b))
	}
	diff := 0
	for i := range a {
		if a[i] != b[i] {
			diff++
		}
	}
	if diff != 4 {
		t.Errorf("%d lines changed, want 4", diff)
	}
}

func TestEditLabAddsKeysAndTable(t *testing.T) {
	const nodes = "\n[[nodes]]\nvm = \"A\"\nip = \"192.0.2.100\"\nrole = \"db\"\n"
	src := "name = \"x\"\n\n[base]\nvm = 'old' # was here\n\n[network]\nnetwork = \"192.0.2.0/24\"\n" + nodes
	out, err := EditLab("lab.toml", []byte(src), Settings{VM: "new", Profile: "debian"})
	if err == nil {
		t.Logf("%s", out)
	}
	// The lab above is not a valid lab (one node): the edit is refused.
	if err == nil || !strings.Contains(err.Error(), "would not be valid") {
		t.Fatalf("err = %v", err)
	}
	embedded, _ := os.ReadFile("../lab.toml")
	noBase := strings.Replace(string(embedded), "[base]\n", "[base_removed_for_test]\n", 1)
	noBase = strings.Replace(noBase, "[base_removed_for_test]\n", "", 1)
	// Drop the [base] keys that now dangle under the top level.
	var keep []string
	for _, l := range strings.Split(noBase, "\n") {
		for _, k := range []string{"vm = \"AlmaLinux-8.4\"", "snapshot = ", "user = ", "password_file = ", "profile = ", "ssh_user = "} {
			if strings.HasPrefix(l, k) {
				l = "# " + l
			}
		}
		keep = append(keep, l)
	}
	out, err = EditLab("lab.toml", []byte(strings.Join(keep, "\n")), Settings{VM: "new", Profile: "debian"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(out), "\n[base]\nvm = \"new\"\nprofile = \"debian\"\n") {
		t.Errorf("no [base] appended:\n%s", out[len(out)-200:])
	}
}

func TestWriteLabStartsFromTheTemplate(t *testing.T) {
	embedded, _ := os.ReadFile("../lab.toml")
	p := filepath.Join(t.TempDir(), "lab.toml")
	if err := WriteLab(p, embedded, Settings{VM: "Alma9", Profile: "el9"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if !strings.Contains(string(b), "vm = \"Alma9\"\n") || !strings.Contains(string(b), "# Folder for this lab's generated passwords") {
		t.Errorf("written:\n%s", b)
	}
	// Existing file: edited in place.
	if err := WriteLab(p, nil, Settings{Profile: "el8"}); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(p)
	if !strings.Contains(string(b), "vm = \"Alma9\"\n") || !strings.Contains(string(b), "profile = \"el8\"\n") {
		t.Errorf("second write:\n%s", b)
	}
}
