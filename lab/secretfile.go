package lab

import (
	"fmt"
	"os"
	"runtime"
)

// PasswordFilePath is base.password_file resolved like the plan resolves it
// ("" when the lab asks for the password instead).
func (c *Config) PasswordFilePath() string { return c.hostPath(c.Base.PasswordFile) }

// CheckSecretFile refuses a file that should hold a secret but is missing,
// not a regular file, empty, or readable by group or others (as ssh refuses
// a loose private key). The message names the file and the fix.
func CheckSecretFile(what, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s %s: %w (create it holding only the password, then chmod 600 it)", what, path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s %s is not a regular file", what, path)
	}
	if fi.Size() == 0 {
		return fmt.Errorf("%s %s is empty: put the password in it (one line)", what, path)
	}
	// Windows has no POSIX mode bits to judge (ACLs decide there).
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s %s is readable by others (mode %04o): run `chmod 600 %s`", what, path, fi.Mode().Perm(), path)
	}
	return nil
}
