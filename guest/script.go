package guest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Quote returns s as one single-quoted POSIX shell word.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// firstLine is how errors and logs name a script: its first non-blank,
// non-"set -eu" line, shortened.
func firstLine(script string) string {
	for _, l := range strings.Split(script, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "set -") {
			continue
		}
		if len(l) > 120 {
			l = l[:117] + "..."
		}
		return l
	}
	return "(empty script)"
}

// Upload results printed by UploadScript on its last line.
const (
	uploadChanged   = "labctl-upload: changed"
	uploadUnchanged = "labctl-upload: unchanged"
)

// UploadScript is the script both executors run, with the content on
// stdin, to place f atomically: a temp file in the target folder (so the
// rename cannot cross file systems), sha256 verified, chmod/chown, then
// rename over the target. When content, mode and owner already match it
// only drains stdin and reports "unchanged".
func UploadScript(f File) (string, error) {
	if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
		return "", fmt.Errorf("upload: %q is not a clean absolute file path", f.Path)
	}
	owner := f.Owner
	if owner == "" {
		owner = "root:root"
	}
	if strings.Count(owner, ":") != 1 {
		return "", fmt.Errorf("upload %s: owner %q must be user:group", f.Path, owner)
	}
	mode := f.Mode.Perm()
	if f.Mode&^fs.ModePerm != 0 {
		return "", fmt.Errorf("upload %s: mode %v must be permission bits only", f.Path, f.Mode)
	}
	sum := sha256.Sum256(f.Content)
	return fmt.Sprintf(`set -eu
dst=%s
want=%s
mode=%o
owner=%s
if [ -f "$dst" ] && [ ! -L "$dst" ] &&
	[ "$(sha256sum <"$dst" | cut -d' ' -f1)" = "$want" ] &&
	[ "$(stat -c %%a "$dst")" = "$mode" ] &&
	[ "$(stat -c %%U:%%G "$dst")" = "$owner" ]; then
	cat >/dev/null
	echo '%s'
	exit 0
fi
dir=$(dirname "$dst")
mkdir -p "$dir"
tmp=$(mktemp "$dir/.labctl-upload.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat >"$tmp"
got=$(sha256sum <"$tmp" | cut -d' ' -f1)
if [ "$got" != "$want" ]; then
	echo "upload of $dst corrupted in transit: sha256 $got, want $want" >&2
	exit 1
fi
chmod "$mode" "$tmp"
chown "$owner" "$tmp"
mv -f "$tmp" "$dst"
trap - EXIT
if command -v restorecon >/dev/null 2>&1; then restorecon "$dst" 2>/dev/null || true; fi
echo '%s'
`, Quote(f.Path), hex.EncodeToString(sum[:]), mode, Quote(owner), uploadUnchanged, uploadChanged), nil
}

// uploadResult reads UploadScript's verdict from its output.
func uploadResult(stdout string) (bool, error) {
	out := strings.TrimSpace(stdout)
	switch {
	case strings.HasSuffix(out, uploadChanged):
		return true, nil
	case strings.HasSuffix(out, uploadUnchanged):
		return false, nil
	}
	return false, fmt.Errorf("upload: unexpected output %q", out)
}

// sudoWrap makes a root shell command for a non-root login: sudo -n
// fails at once instead of prompting when the account lacks NOPASSWD.
func sudoWrap(user, shellCmd string) string {
	if user == "" || user == "root" {
		return shellCmd
	}
	return "sudo -n -- " + shellCmd
}

// loader is the fixed program both executors start: it reads exactly $1
// bytes of script from stdin (dd bs=1 never reads past them), then runs the
// script with the rest of stdin as the script's own stdin. One round trip,
// no temp file, nothing of the script on any argv, and a command in the
// script that reads stdin gets the payload (or EOF), never the script's own
// text — the trap of `sh -s`.
const loader = `n=$1; shift; s=$(dd bs=1 count="$n" 2>/dev/null) || exit 125; eval "$s"`

// pidLoader is loader for SSH: it first records its process group in $2
// (sshd starts each command as a session leader), so a cancelled command
// can be killed with its children from a second session — sshd refuses
// "signal" requests for root sessions. The script runs in a subshell so its
// own EXIT traps cannot skip removing the file.
//
// The group is recorded only when it leads its session (as under sshd), so
// a killer can never hit a process group the command merely shares.
const pidLoader = `n=$1; p=$2; shift 2; read -r _ _ _ _ g sid _ </proc/$$/stat && [ "$g" = "$sid" ] && echo "$g" >"$p"; ` +
	`s=$(dd bs=1 count="$n" 2>/dev/null) || { rm -f "$p"; exit 125; }; (eval "$s"); rc=$?; rm -f "$p"; exit $rc`

// loaderArgs is the sh argv (after the program) and the stdin for cmd;
// pidFile != "" selects pidLoader.
func loaderArgs(cmd Cmd, pidFile string) (args []string, stdin []byte) {
	stdin = make([]byte, 0, len(cmd.Script)+len(cmd.Stdin))
	stdin = append(stdin, cmd.Script...)
	stdin = append(stdin, cmd.Stdin...)
	if pidFile != "" {
		return []string{"-c", pidLoader, "labctl", fmt.Sprint(len(cmd.Script)), pidFile}, stdin
	}
	return []string{"-c", loader, "labctl", fmt.Sprint(len(cmd.Script))}, stdin
}
