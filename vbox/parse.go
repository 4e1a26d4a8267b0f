package vbox

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Minimum supported VirtualBox release.
const (
	MinMajor = 6
	MinMinor = 1
)

var versionRE = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)`)

// ParseVersion parses `VBoxManage --version` output: "7.0.14r161095",
// distro builds ("6.1.38_Ubuntur153438", "7.0.14_OSEr161095",
// "7.0.14_BETA4r161095"), after any WARNING block the Linux wrapper script
// prints on stdout. Output mentioning vboxdrv means the kernel driver is
// missing: the version is returned with an error wrapping ErrUnusable.
func ParseVersion(out string) (Version, error) {
	var v Version
	lines := splitLines(out)
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		m := versionRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v.Major, _ = strconv.Atoi(m[1])
		v.Minor, _ = strconv.Atoi(m[2])
		v.Build, _ = strconv.Atoi(m[3])
		v.Raw = line
		break
	}
	if strings.Contains(out, "vboxdrv") {
		return v, fmt.Errorf("%w: %s", ErrUnusable, warningText(lines))
	}
	if v.Raw == "" {
		return v, fmt.Errorf("cannot read the VirtualBox version from `VBoxManage --version` output %q", strings.TrimSpace(out))
	}
	return v, nil
}

// warningText condenses the wrapper's first WARNING block into one line.
func warningText(lines []string) string {
	var words []string
	in := false
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "WARNING:") {
			if in {
				break
			}
			in = true
		}
		if in {
			if versionRE.MatchString(t) {
				break
			}
			words = append(words, strings.Fields(t)...)
		}
	}
	if len(words) == 0 {
		return "the vboxdrv kernel driver is not available; run `sudo /sbin/vboxconfig`"
	}
	return strings.Join(words, " ")
}

// String is the numeric version, e.g. "7.0.14".
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Build) }

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// Supported returns nil for 6.1 and newer, else an error wrapping ErrUnsupported.
func (v Version) Supported() error {
	if v.AtLeast(MinMajor, MinMinor) {
		return nil
	}
	return fmt.Errorf("%w: VirtualBox %s is installed, labctl needs %d.%d or newer; upgrade VirtualBox",
		ErrUnsupported, v, MinMajor, MinMinor)
}

var listVMRE = regexp.MustCompile(`^"(.*)" \{([0-9a-fA-F-]+)\}$`)

// ParseListVMs parses `list vms` / `list runningvms`. Names are printed raw
// between quotes, so the match is greedy and the UUID is the last token.
func ParseListVMs(out string) []VM {
	var vms []VM
	for _, line := range splitLines(out) {
		m := listVMRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue // wrapper WARNING lines
		}
		vms = append(vms, VM{Name: m[1], UUID: strings.ToLower(m[2]), Inaccessible: m[1] == "<inaccessible>"})
	}
	return vms
}

// ParseBridgedIfs parses `list bridgedifs` (and `list hostonlyifs`). A new
// interface starts at each Name: line rather than at blank lines, which
// some list formats print in the middle of a block.
func ParseBridgedIfs(out string) []HostIf {
	var ifs []HostIf
	var cur *HostIf
	for _, line := range splitLines(out) {
		label, value, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(label, " ") {
			continue
		}
		value = strings.TrimSpace(value)
		if label == "Name" {
			ifs = append(ifs, HostIf{Name: value})
			cur = &ifs[len(ifs)-1]
			continue
		}
		if cur == nil {
			continue
		}
		switch label {
		case "IPAddress":
			cur.IPAddress = value
		case "NetworkMask":
			cur.NetworkMask = value
		case "HardwareAddress":
			cur.MAC = value
		case "Status":
			cur.Status = value
		case "Wireless":
			cur.Wireless = value == "Yes"
		}
	}
	return ifs
}

// KV is one key=value line of machine-readable output.
type KV struct{ Key, Value string }

// rawKeys are printed with a plain %s, never escaped; unescaping them would
// corrupt names containing backslashes.
func rawKey(k string) bool {
	for _, p := range []string{"bridgeadapter", "hostonlyadapter", "intnet", "natnet", "macaddress",
		"Snapshot", "CurrentSnapshot", "VMStateFile", "Forwarding("} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// ParseMachineReadable parses `showvminfo --machinereadable` (and `snapshot
// list --machinereadable`) into ordered key/value pairs. It tolerates every
// quirk of that format: quoted and unquoted values and keys, \" and \\
// escapes, raw unescaped values, values spanning several lines, lines
// without '=' ("Encryption:     disabled", " rec_screen0", wrapper
// warnings), `VRDEClients==0`, `VideoMode="..."@0,0 1` and CRLF.
func ParseMachineReadable(out string) []KV {
	lines := splitLines(out)
	var kvs []KV
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		var key, rest string
		if strings.HasPrefix(line, `"`) {
			end := closingQuote(line, 1)
			if end < 0 || end+1 >= len(line) || line[end+1] != '=' {
				continue
			}
			key, rest = unescape(line[1:end]), line[end+2:]
		} else {
			k, r, ok := strings.Cut(line, "=")
			if !ok || k == "" || strings.HasPrefix(k, " ") {
				continue
			}
			key, rest = k, r
		}
		if !strings.HasPrefix(rest, `"`) {
			kvs = append(kvs, KV{key, rest})
			continue
		}
		// Quoted value: up to the last unescaped quote; when the line has
		// none, the value contains raw newlines and continues below.
		body := rest[1:]
		end := lastQuote(body)
		for end < 0 && i+1 < len(lines) {
			i++
			body += "\n" + lines[i]
			end = lastQuote(body)
		}
		if end >= 0 {
			body = body[:end]
		}
		if !rawKey(key) {
			body = unescape(body)
		}
		kvs = append(kvs, KV{key, body})
	}
	return kvs
}

// closingQuote finds the first unescaped '"' in s at or after from.
func closingQuote(s string, from int) int {
	for j := from; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
}

// lastQuote finds the last '"' in s not escaped by an odd run of backslashes.
func lastQuote(s string) int {
	for j := len(s) - 1; j >= 0; j-- {
		if s[j] != '"' {
			continue
		}
		n := 0
		for k := j - 1; k >= 0 && s[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return j
		}
	}
	return -1
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for j := 0; j < len(s); j++ {
		if s[j] == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
			j++
		}
		b.WriteByte(s[j])
	}
	return b.String()
}

// vmStateTimeLayout is VMStateChangeTime's shape: UTC, nanoseconds, no "Z".
const vmStateTimeLayout = "2006-01-02T15:04:05.999999999"

var (
	nicKeyRE      = regexp.MustCompile(`^nic(\d+)$`)
	snapNameKeyRE = regexp.MustCompile(`^SnapshotName((?:-\d+)*)$`)
)

// ParseVMInfo parses `showvminfo VM --machinereadable`.
func ParseVMInfo(out string) (*VMInfo, error) {
	kvs := ParseMachineReadable(out)
	raw := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		raw[kv.Key] = kv.Value
	}
	if raw["UUID"] == "" {
		return nil, fmt.Errorf("showvminfo output has no UUID (first line %q)", firstLine(out))
	}
	info := &VMInfo{
		Name:        raw["name"],
		UUID:        raw["UUID"],
		CfgFile:     raw["CfgFile"],
		State:       VMState(raw["VMState"]),
		GuestAddVer: raw["GuestAdditionsVersion"],
		Raw:         raw,
	}
	if info.Name == "<inaccessible>" && raw["VMState"] == "" {
		info.Inaccessible = true
		return info, nil
	}
	if g := raw["groups"]; g != "" {
		info.Groups = strings.Split(g, ",")
	}
	if t := strings.TrimSuffix(raw["VMStateChangeTime"], "Z"); t != "" {
		if ts, err := time.ParseInLocation(vmStateTimeLayout, t, time.UTC); err == nil {
			info.StateChanged = ts
		}
	}
	info.CPUs, _ = strconv.Atoi(raw["cpus"])
	info.MemoryMB, _ = strconv.Atoi(raw["memory"])
	info.GuestAddRunLvl, _ = strconv.Atoi(raw["GuestAdditionsRunLevel"])
	_, info.SessionLocked = raw["SessionName"]
	for _, kv := range kvs {
		m := nicKeyRE.FindStringSubmatch(kv.Key)
		if m == nil || kv.Value == "none" {
			continue
		}
		n := m[1]
		slot, _ := strconv.Atoi(n)
		info.NICs = append(info.NICs, NIC{Slot: slot, Type: kv.Value, BridgeAdapter: raw["bridgeadapter"+n], MAC: raw["macaddress"+n],
			NATNetwork: raw["nat-network"+n], HostOnlyAdapter: raw["hostonlyadapter"+n], HostOnlyNet: raw["hostonly-network"+n]})
	}
	sort.Slice(info.NICs, func(a, b int) bool { return info.NICs[a].Slot < info.NICs[b].Slot })
	info.Snapshots = snapshotsFromKVs(kvs, raw)
	return info, nil
}

// snapshotsFromKVs walks the SnapshotName<suffix> keys; the suffix is the
// 1-based path in the tree, so the parent's suffix drops the last part.
func snapshotsFromKVs(kvs []KV, raw map[string]string) []Snapshot {
	var snaps []Snapshot
	bySuffix := map[string]string{}
	for _, kv := range kvs {
		m := snapNameKeyRE.FindStringSubmatch(kv.Key)
		if m == nil {
			continue
		}
		sfx := m[1]
		s := Snapshot{Name: kv.Value, UUID: raw["SnapshotUUID"+sfx], Description: raw["SnapshotDescription"+sfx]}
		s.Current = s.UUID != "" && s.UUID == raw["CurrentSnapshotUUID"]
		if sfx != "" {
			s.Parent = bySuffix[sfx[:strings.LastIndex(sfx, "-")]]
		}
		bySuffix[sfx] = s.UUID
		snaps = append(snaps, s)
	}
	return snaps
}

var humanSnapRE = regexp.MustCompile(`^(\s*)Name: (.*) \(UUID: ([0-9a-fA-F-]+)\)( \*)?$`)

// ParseSnapshotList parses `snapshot VM list` in either format
// (--machinereadable keys, or the indented human tree). "This machine does
// not have any snapshots" yields an empty list.
func ParseSnapshotList(out string) []Snapshot {
	kvs := ParseMachineReadable(out)
	raw := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		raw[kv.Key] = kv.Value
	}
	if snaps := snapshotsFromKVs(kvs, raw); len(snaps) > 0 {
		return snaps
	}
	var snaps []Snapshot
	var stack []string // UUIDs by depth
	for _, line := range splitLines(out) {
		if m := humanSnapRE.FindStringSubmatch(line); m != nil {
			depth := len(m[1])/3 - 1
			if depth < 0 {
				depth = 0
			}
			if depth > len(stack) {
				depth = len(stack)
			}
			stack = append(stack[:depth], m[3])
			s := Snapshot{Name: m[2], UUID: m[3], Current: m[4] != ""}
			if depth > 0 {
				s.Parent = stack[depth-1]
			}
			snaps = append(snaps, s)
			continue
		}
		if d, ok := strings.CutPrefix(strings.TrimSpace(line), "Description: "); ok && len(snaps) > 0 {
			snaps[len(snaps)-1].Description = d
		}
	}
	return snaps
}

// ParseValue parses `guestproperty get` and `getextradata` output:
// "Value: x" (ok) or "No value set!" (not ok). An empty value cannot be
// told apart from an unset one and is reported as not set.
func ParseValue(out string) (value string, ok bool, err error) {
	for _, line := range splitLines(out) {
		if v, found := strings.CutPrefix(line, "Value: "); found {
			return v, v != "", nil
		}
		if line == "Value:" {
			return "", false, nil
		}
		if strings.TrimSpace(line) == "No value set!" {
			return "", false, nil
		}
	}
	return "", false, fmt.Errorf("unexpected output %q (want \"Value: ...\" or \"No value set!\")", firstLine(out))
}

func firstLine(s string) string {
	for _, l := range splitLines(s) {
		if strings.TrimSpace(l) != "" {
			return l
		}
	}
	return ""
}

// ParseExtraDataList parses `getextradata VM enumerate`: one
// "Key: K, Value: V" line per key (values may hold ", Value: " themselves;
// keys never do). Other lines are an error naming the first of them.
func ParseExtraDataList(out string) (map[string]string, error) {
	m := map[string]string{}
	for _, line := range splitLines(out) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		rest, ok := strings.CutPrefix(line, "Key: ")
		if !ok {
			return nil, fmt.Errorf("unexpected line %q (want \"Key: K, Value: V\")", line)
		}
		k, v, ok := strings.Cut(rest, ", Value: ")
		if !ok {
			return nil, fmt.Errorf("unexpected line %q (want \"Key: K, Value: V\")", line)
		}
		m[k] = v
	}
	return m, nil
}
