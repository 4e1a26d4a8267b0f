package steps

// Loaded-configuration stamps. A configuration written but never loaded
// (a run killed between its upload and the reload) reads as current on
// disk while the service runs the old one. So an Apply that (re)loads a
// service (nginx, php-fpm, keepalived) last writes a stamp of the files it
// loaded, and its Check compares that with the files it wants.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"labctl/guest"
)

// stampDir holds the stamps on a guest.
const stampDir = "/var/lib/labctl"

// loadedStamp is the stamp of files: their paths and contents. Files that
// hold a secret (wp-config.php, read afresh by every request anyway) are
// left out: no digest of a secret lies on the guest.
func loadedStamp(env *Env, files []guest.File) string {
	h := sha256.New()
	for _, f := range files {
		if holdsSecret(env, f) {
			continue
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f.Path, len(f.Content))
		h.Write(f.Content)
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

func holdsSecret(env *Env, f guest.File) bool {
	for _, v := range env.Secrets.Values() {
		if v != "" && bytes.Contains(f.Content, []byte(v)) {
			return true
		}
	}
	return false
}

// stampProbe reads the stamp named name.
func stampProbe(name string) webProbe {
	return webProbe{"loaded " + name, "cat " + guest.Quote(stampDir+"/"+name)}
}

// stampDiffs says so when the stamp named name is not that of files.
func stampDiffs(env *Env, facts map[string]string, name, what string, files []guest.File) []string {
	if facts["loaded "+name] == loadedStamp(env, files) {
		return nil
	}
	return []string{what + " has not loaded the current configuration (an earlier run stopped before reloading it)"}
}

// stampScript writes the stamp named name of files (the end of an apply script).
func stampScript(env *Env, name string, files []guest.File) string {
	return fmt.Sprintf("install -d -m 0755 %s\nprintf '%%s\\n' %s >%s\n",
		guest.Quote(stampDir), loadedStamp(env, files), guest.Quote(stampDir+"/"+name))
}
