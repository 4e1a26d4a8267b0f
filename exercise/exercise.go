// Package exercise runs classroom exercises on a built lab: an exercise
// breaks the lab on purpose (commands on nodes), the student repairs it,
// declarative checks say whether it is repaired, hints help on the way, a
// reference solution proves it can be repaired, and a reset puts the lab
// back on a baseline snapshot with every recorded result cleared.
//
// Exercises are data: one TOML file each, validated as strictly as
// lab.toml. The built-in ones are embedded; an instructor's folder adds to
// or overrides them (Catalog).
package exercise

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Levels an exercise may have, easiest first.
var Levels = []string{"beginner", "intermediate", "advanced"}

// Check types. Command runs a script; the others are typed checks over
// labctl's own readers of the lab.
const (
	CheckCommand   = "command"   // a script on nodes: exit status and output
	CheckGroup     = "group"     // every DB node ONLINE, one PRIMARY, in every member's view
	CheckVIP       = "vip"       // the VIP on the primary and nowhere else
	CheckWordPress = "wordpress" // WordPress 200 through the load balancer, answered by every web node
	CheckRow       = "row"       // a row of labctl_exercise.rows present on every DB node
	CheckService   = "service"   // a service active on nodes
	CheckVerify    = "verify"    // the whole of `labctl verify` passes
)

// CheckTypes lists the check types, for messages.
var CheckTypes = []string{CheckCommand, CheckGroup, CheckVIP, CheckWordPress, CheckRow, CheckService, CheckVerify}

// Services a service check may name; each maps to the profile's unit.
var Services = []string{"mysql", "php-fpm", "nginx", "keepalived", "ssh"}

// Secrets an action may receive on stdin (one line), by name.
var StdinSecrets = []string{"mysql_root", "replication", "wordpress_db"}

// Typed actions: done by labctl's own code instead of a script.
const (
	// DoRebootGroup restarts group replication after a full outage: mysqld
	// started on every DB node, the group bootstrapped from the member whose
	// transactions contain all others', the others rejoined.
	DoRebootGroup = "reboot-group"
)

// Dos lists the typed actions.
var Dos = []string{DoRebootGroup}

// BeforeNote is the row every exercise's start writes on the primary, after
// the baseline snapshot and before the breakage: a row check with no note
// proves no committed write was lost.
const BeforeNote = "before-exercise"

// Exercise is one exercise file, checked.
type Exercise struct {
	Name     string   // name: what the student types
	Title    string   // title: one line
	Level    string   // level: one of Levels
	Profiles []string // profiles: the guest OS profiles it supports
	Scenario string   // scenario: the symptoms, as the student reads them
	Goal     string   // goal: what "repaired" means
	Hints    []string // hints: given one at a time, counted
	Break    []Action // [[break]]: the breakage, in order
	Checks   []Check  // [[check]]: all must pass
	Solution []Action // [[solution]]: the reference fix, in order

	Source string // "built-in" or the file it came from
}

// Supports reports whether the exercise runs on a lab of profile.
func (e *Exercise) Supports(profile string) bool { return slices.Contains(e.Profiles, profile) }

// Action is one step of a breakage or a solution: a script run as root on
// every node the selector names, in lab order, or a typed action.
type Action struct {
	Node   string // node: a selector (see NodeSelector)
	Script string // script: POSIX sh; variables the script uses are set before it
	Stdin  string // stdin: a secret from StdinSecrets, sent as one line
	Do     string // do: a typed action from Dos, instead of node + script
	Pause  int    // pause: seconds to wait after the action (let the lab react)
}

// Check is one condition the repaired lab meets.
type Check struct {
	Name    string // name: what it checks, as the student reads it
	Type    string // type: one of CheckTypes
	Hint    string // hint: printed when it fails
	Node    string // node: selector, for command and service checks
	Script  string // script: for command checks
	Exit    int    // exit: the exit status a command check wants (default 0)
	Output  string // output: a regular expression stdout must match (command)
	Service string // service: one of Services (service checks)
	Note    string // note: the row's note (row checks; default BeforeNote)

	output *regexp.Regexp
}

// nodeSelectorRE is the grammar of node selectors.
var nodeSelectorRE = regexp.MustCompile(`^(primary|secondary[12]|db|web|lb|all|db[1-9]|web[1-9])$`)

// NodeSelector documents the selectors, for messages and the README.
const NodeSelector = `"primary", "secondary1", "secondary2" (the group's members when the exercise started), ` +
	`"db", "web", "lb", "all" (every node of a role, or every node), "db1".."db9", "web1".."web9" (by position in lab.toml)`

// scriptVarRE finds the variables a script uses, to set only those.
var scriptVarRE = regexp.MustCompile(`\$\{?([A-Z][A-Z0-9_]*)`)

// String is how messages name an exercise.
func (e *Exercise) String() string { return fmt.Sprintf("%s (%s)", e.Name, e.Source) }

// profilesText is "el8, el9 and debian".
func profilesText(ps []string) string {
	switch len(ps) {
	case 0:
		return "no profile"
	case 1:
		return ps[0]
	}
	return strings.Join(ps[:len(ps)-1], ", ") + " and " + ps[len(ps)-1]
}
