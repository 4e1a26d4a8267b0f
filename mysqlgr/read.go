package mysqlgr

// Reading the group: one member's own state, its view of the group, and the
// lab-wide judgement "every DB node ONLINE, one PRIMARY".

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"labctl/lab"
)

// Member states and roles as performance_schema reports them.
const (
	Online      = "ONLINE"
	Recovering  = "RECOVERING"
	Offline     = "OFFLINE"
	Error       = "ERROR"
	Unreachable = "UNREACHABLE"

	Primary   = "PRIMARY"
	Secondary = "SECONDARY"
)

// ErrNoAnswer is an empty answer where a row was expected: the client gave
// up without a word, or the executor only records (a plan).
var ErrNoAnswer = errors.New("no answer from mysql")

// Member is one row of the group view.
type Member struct {
	ID    string // MEMBER_ID, the member's server_uuid
	Host  string // MEMBER_HOST: report_host, the node's IP or a hostname
	Port  int    // MEMBER_PORT (0 when unknown)
	State string // ONLINE, RECOVERING, OFFLINE, ERROR, UNREACHABLE
	Role  string // PRIMARY, SECONDARY or empty
	Self  bool   // the row of the member that answered
}

// View is the group as one member sees it.
type View struct{ Members []Member }

// Self is the answering member's own row.
func (v View) Self() (Member, bool) {
	for _, m := range v.Members {
		if m.Self {
			return m, true
		}
	}
	return Member{}, false
}

// Primary is the ONLINE PRIMARY of the view.
func (v View) Primary() (Member, bool) {
	for _, m := range v.Members {
		if m.Role == Primary && m.State == Online {
			return m, true
		}
	}
	return Member{}, false
}

const viewSQL = "SELECT MEMBER_ID, MEMBER_HOST, MEMBER_PORT, MEMBER_STATE, MEMBER_ROLE, MEMBER_ID = @@GLOBAL.server_uuid FROM performance_schema.replication_group_members"

// ParseView reads viewSQL's answer. Lines that are not rows (the client's
// error, or a caller's "not running") make the error; the rows are kept.
func ParseView(out string) (View, error) {
	var v View
	var err error
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, "\t"); len(f) == 6 {
			port, _ := strconv.Atoi(f[2])
			v.Members = append(v.Members, Member{ID: f[0], Host: f[1], Port: port, State: f[3], Role: f[4], Self: f[5] == "1"})
		} else if msg := strings.TrimSpace(line); msg != "" && err == nil {
			err = errors.New(msg)
		}
	}
	return v, err
}

// ReadView reads s's view of the group.
func (s Server) ReadView(ctx context.Context) (View, error) {
	out, err := s.read(ctx, viewSQL)
	if err != nil {
		return View{}, fmt.Errorf("read the group view: %w", err)
	}
	return ParseView(out)
}

// ViewProbe is a shell command printing the group view within seconds, for
// a caller batching it into a larger read-only probe; ParseView reads it.
func ViewProbe(seconds int) string { return probeCommand(viewSQL, seconds) }

// selfSQL reads the member's own role and state; OFFLINE when group
// replication is not running on it.
const selfSQL = `SELECT IFNULL((SELECT MEMBER_ROLE FROM performance_schema.replication_group_members WHERE MEMBER_ID = @@GLOBAL.server_uuid), ''), ` +
	`IFNULL((SELECT MEMBER_STATE FROM performance_schema.replication_group_members WHERE MEMBER_ID = @@GLOBAL.server_uuid), 'OFFLINE')`

// ParseSelf reads selfSQL's answer (its first line) into a Member with
// State and Role. A line that is not the row is the client's error
// ("ERROR 2002 (HY000): ..."); a member whose state is ERROR is a row.
func ParseSelf(out string) (Member, error) {
	line, _, _ := strings.Cut(out, "\n")
	if f := strings.Split(line, "\t"); len(f) == 2 && !strings.HasPrefix(line, "ERROR ") {
		return Member{Role: strings.TrimSpace(f[0]), State: strings.TrimSpace(f[1]), Self: true}, nil
	}
	if msg := strings.TrimSpace(line); msg != "" {
		return Member{}, errors.New(msg)
	}
	return Member{}, ErrNoAnswer
}

// ReadSelf reads s's own state and role.
func (s Server) ReadSelf(ctx context.Context) (Member, error) {
	out, err := s.read(ctx, selfSQL)
	if err != nil {
		return Member{}, fmt.Errorf("read member state: %w", err)
	}
	m, err := ParseSelf(out)
	if err != nil {
		return Member{}, fmt.Errorf("read member state: %w", err)
	}
	return m, nil
}

// SelfProbe is a shell command printing the member's own role and state
// within seconds, for batching into a probe; ParseSelf reads it.
func SelfProbe(seconds int) string { return probeCommand(selfSQL, seconds) }

// Status is everything a member tells of itself that forming the group
// decides on, read in one round trip.
type Status struct {
	UUID          string // @@server_uuid
	GroupName     string // group_replication_group_name ("" when unset)
	State         string
	Role          string
	Executed      string // @@gtid_executed
	Received      string // RECEIVED_TRANSACTION_SET of the applier channel (certified, maybe unapplied)
	RecoveryUser  string // user configured on the recovery channel
	SuperReadOnly bool
	Version       string // @@version
}

// statusSQL: newlines inside GTID sets are removed so each field stays on one line.
const statusSQL = `SELECT @@GLOBAL.server_uuid,
  IFNULL(@@GLOBAL.group_replication_group_name, ''),
  IFNULL((SELECT MEMBER_STATE FROM performance_schema.replication_group_members WHERE MEMBER_ID = @@GLOBAL.server_uuid), 'OFFLINE'),
  IFNULL((SELECT MEMBER_ROLE FROM performance_schema.replication_group_members WHERE MEMBER_ID = @@GLOBAL.server_uuid), ''),
  REPLACE(@@GLOBAL.gtid_executed, '\n', ''),
  IFNULL((SELECT REPLACE(RECEIVED_TRANSACTION_SET, '\n', '') FROM performance_schema.replication_connection_status WHERE CHANNEL_NAME = 'group_replication_applier'), ''),
  IFNULL((SELECT USER FROM performance_schema.replication_connection_configuration WHERE CHANNEL_NAME = 'group_replication_recovery'), ''),
  @@GLOBAL.super_read_only,
  @@GLOBAL.version;`

// ParseStatus reads statusSQL's answer.
func ParseStatus(out string) (*Status, error) {
	if strings.TrimSpace(out) == "" {
		return nil, ErrNoAnswer
	}
	f := strings.Split(strings.TrimRight(out, "\n"), "\t")
	if len(f) != 9 {
		return nil, fmt.Errorf("unexpected answer %q", out)
	}
	st := &Status{UUID: f[0], GroupName: f[1], State: f[2], Role: f[3], Executed: f[4], Received: f[5],
		RecoveryUser: f[6], SuperReadOnly: f[7] == "1", Version: f[8]}
	if st.GroupName == "NULL" {
		st.GroupName = ""
	}
	return st, nil
}

// ReadStatus reads s's Status.
func (s Server) ReadStatus(ctx context.Context) (*Status, error) {
	out, err := s.read(ctx, statusSQL)
	if err != nil {
		return nil, fmt.Errorf("read member state: %w", err)
	}
	st, err := ParseStatus(out)
	if err != nil {
		return nil, fmt.Errorf("read member state: %w", err)
	}
	return st, nil
}

// PrimaryHost returns the MEMBER_HOST of the ONLINE primary in s's view,
// "" when s sees none.
func (s Server) PrimaryHost(ctx context.Context) (string, error) {
	v, err := s.ReadView(ctx)
	if err != nil {
		return "", fmt.Errorf("find the primary: %w", err)
	}
	if m, ok := v.Primary(); ok {
		return m.Host, nil
	}
	return "", nil
}

// MemberNode maps a MEMBER_HOST (report_host: the node's IP, or a
// hostname) to its DB node, or nil.
func MemberNode(p *lab.Plan, host string) *lab.Node {
	for _, n := range p.DB() {
		if n.IP.String() == host {
			return n
		}
	}
	return p.DB().Find(strings.SplitN(host, ".", 2)[0])
}

// NodeView is one DB node's answer: its view of the group, or why none.
type NodeView struct {
	Node *lab.Node
	View View
	Err  error
}

// UnhealthyError says, per view, why the group is not healthy.
type UnhealthyError struct{ Reasons []string }

func (e *UnhealthyError) Error() string { return strings.Join(e.Reasons, "; ") }

// HealthyPrimary returns the primary of the first view in which every DB
// node of p is an ONLINE member and exactly one is PRIMARY; else an
// *UnhealthyError.
func HealthyPrimary(p *lab.Plan, views []NodeView) (*lab.Node, error) {
	var why []string
	for _, v := range views {
		if v.Err != nil {
			why = append(why, v.Err.Error())
			continue
		}
		online, seen := 0, map[*lab.Node]bool{}
		var primaries []*lab.Node
		for _, m := range v.View.Members {
			n := MemberNode(p, m.Host)
			if n == nil || m.State != Online {
				continue
			}
			online++
			seen[n] = true
			if m.Role == Primary {
				primaries = append(primaries, n)
			}
		}
		if online == len(p.DB()) && len(seen) == online && len(primaries) == 1 {
			return primaries[0], nil
		}
		why = append(why, fmt.Sprintf("%s sees %d of %d members ONLINE and %d primaries", v.Node.VM, online, len(p.DB()), len(primaries)))
	}
	if len(why) == 0 {
		why = append(why, "no DB node answered")
	}
	return nil, &UnhealthyError{why}
}

// NewPrimary is the PRIMARY that an answering, ONLINE member other than old
// reports, itself other than old; nil while there is none.
func NewPrimary(p *lab.Plan, views []NodeView, old *lab.Node) *lab.Node {
	for _, v := range views {
		if v.Node == old || v.Err != nil {
			continue
		}
		if self, ok := v.View.Self(); !ok || self.State != Online {
			continue
		}
		for _, m := range v.View.Members {
			if m.Role == Primary && m.State == Online {
				if n := MemberNode(p, m.Host); n != nil && n != old {
					return n
				}
			}
		}
	}
	return nil
}
