package lab

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestExercisesTable(t *testing.T) {
	base := "name = \"l\"\n[base]\nvm = \"B\"\n[network]\nbridge_adapter = \"eth0\"\nnetwork = \"192.0.2.0/24\"\n" +
		"[[nodes]]\nvm = \"D1\"\nip = \".11\"\nrole = \"db\"\n[[nodes]]\nvm = \"D2\"\nip = \".12\"\nrole = \"db\"\n" +
		"[[nodes]]\nvm = \"D3\"\nip = \".13\"\nrole = \"db\"\n[[nodes]]\nvm = \"W\"\nip = \".21\"\nrole = \"web\"\n" +
		"[[nodes]]\nvm = \"L\"\nip = \".30\"\nrole = \"lb\"\n"
	dir := t.TempDir()
	file := filepath.Join(dir, "lab.toml")
	c, err := Parse(file, []byte(base+"[exercises]\ndir = \"mine\"\nreport_key_file = \"key\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(StateDirEnv, t.TempDir())
	p, err := c.Plan(HostNet{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "exercises dir", p.ExercisesDir, filepath.Join(dir, "mine"))
	eq(t, "report key file", p.ReportKeyFile, filepath.Join(dir, "key"))

	// The key itself never goes in lab.toml, under any name.
	for _, k := range []string{"report_key", "key", "hmac_key"} {
		_, err := Parse("lab.toml", []byte(base+"[exercises]\n"+k+" = \"s3cret-value\"\n"))
		if err == nil || !strings.Contains(err.Error(), "never goes in lab.toml") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: %v", k, err)
		}
	}
	if _, err := Parse("lab.toml", []byte(base+"[exercises]\ndri = \"x\"\n")); err == nil || !strings.Contains(err.Error(), `did you mean "dir"`) {
		t.Errorf("typo: %v", err)
	}
}
