package steps

import (
	"strings"
	"testing"
)

func TestStartVMsRefusesPausedVMWithHint(t *testing.T) {
	f, env := vmtSetup(t)
	if _, _, err := vmtRun(t, env, ModeApply); err != nil {
		t.Fatal(err)
	}
	if r := f.Run("controlvm", "SERVER-ONE", "pause"); r.Code != 0 {
		t.Fatalf("%+v", r)
	}
	_, _, err := vmtRun(t, env, ModeApply)
	if err == nil || !strings.Contains(err.Error(), "SERVER-ONE is paused: resume it (`VBoxManage controlvm SERVER-ONE resume`)") {
		t.Fatalf("err = %v", err)
	}
	if v := f.State().VM("SERVER-ONE"); v.State != "paused" {
		t.Errorf("SERVER-ONE is %s, labctl must leave a paused VM alone", v.State)
	}
}
