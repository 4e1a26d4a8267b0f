package steps

import (
	"strings"
	"testing"
	"time"

	"labctl/internal/vboxtest"
)

func TestWaitGuestsTimesOutClearly(t *testing.T) {
	_, env := vmtSetup(t, vboxtest.WithGuestAdditionsDelay(time.Hour))
	env.GuestWait = 300 * time.Millisecond
	_, _, err := vmtRun(t, env, ModeApply)
	if err == nil {
		t.Fatal("no timeout")
	}
	if !strings.Contains(err.Error(), "Guest Additions did not start in SQL-ONE within 300ms") ||
		!strings.Contains(err.Error(), "is the base VM's Guest Additions installed") {
		t.Errorf("error: %v", err)
	}
}
