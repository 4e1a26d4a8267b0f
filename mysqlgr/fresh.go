package mysqlgr

// Fresh answers: what the reads here print on a lab's first `up`, for a
// plan's recorder (guest.Cmd.Fresh). A real server never sees them.

import (
	"context"
	"crypto/sha1"
	"fmt"
	"strings"

	"labctl/guest"
)

// Fresh describes the lab's group as a first `up` forms it: every member
// configured with Group, none started until the step starts it, and the
// first of Hosts bootstrapping (all GTID sets are empty, so ChooseBootstrap
// picks the first member).
type Fresh struct {
	Group string   // group_replication_group_name of every member
	Hosts []string // every member's MEMBER_HOST (report_host), in lab order
	Self  string   // this server's MEMBER_HOST
	// Version is the server's @@version on a fresh node.
	Version string
}

// WithFresh returns s whose reads carry fresh answers from f. Only a server
// made by Root uses them (its executor decides whether to answer with them).
func (s Server) WithFresh(f Fresh) Server {
	if r, ok := s.SQL.(rootRunner); ok {
		r.fresh = &f
		s.SQL = r
	}
	return s
}

// Query runs a read-only statement whose answer steers the caller; fresh is
// what it prints on a fresh lab's member (a plan's recorder answers it).
func (s Server) Query(ctx context.Context, stmt, fresh string) (string, error) {
	if r, ok := s.SQL.(rootRunner); ok {
		return r.run(ctx, stmt, guest.Prints(fresh))
	}
	return s.SQL.SQL(ctx, stmt)
}

// read runs one of this package's reads, with its fresh answer.
func (s Server) read(ctx context.Context, stmt string) (string, error) {
	if r, ok := s.SQL.(rootRunner); ok && r.fresh != nil {
		return r.run(ctx, stmt, r.fresh.answer(stmt))
	}
	return s.SQL.SQL(ctx, stmt)
}

// answer is stmt's answer on the fresh member, given what was sent to it.
func (f *Fresh) answer(stmt string) func([]guest.Cmd) string {
	return func(sent []guest.Cmd) string {
		started, boot := f.started(sent)
		role, state := "", Offline
		if started {
			role, state = Secondary, Online
			if boot {
				role = Primary
			}
		}
		switch stmt {
		case statusSQL:
			return strings.Join([]string{freshUUID(f.Self), f.Group, state, role, "", "", "", "0", f.Version}, "\t") + "\n"
		case selfSQL:
			return role + "\t" + state + "\n"
		case viewSQL:
			if !started {
				return ""
			}
			var b strings.Builder
			for i, h := range f.Hosts {
				switch {
				case h == f.Self:
					fmt.Fprintf(&b, "%s\t%s\t3306\t%s\t%s\t1\n", freshUUID(h), h, state, role)
				case i == 0 && !boot:
					fmt.Fprintf(&b, "%s\t%s\t3306\t%s\t%s\t0\n", freshUUID(h), h, Online, Primary)
				}
			}
			return b.String()
		}
		return ""
	}
}

// started reports whether START GROUP_REPLICATION was sent, and whether
// with the bootstrap flag on.
func (f *Fresh) started(sent []guest.Cmd) (started, boot bool) {
	for _, c := range sent {
		in := string(c.Stdin)
		switch {
		case strings.Contains(in, "STOP GROUP_REPLICATION"):
			started, boot = false, false
		case strings.Contains(in, "START GROUP_REPLICATION"):
			started, boot = true, strings.Contains(in, "group_replication_bootstrap_group = ON")
		}
	}
	return started, boot
}

// freshUUID is a stable, well-formed server_uuid for a member.
func freshUUID(host string) string {
	h := sha1.Sum([]byte("labctl-fresh-server:" + host))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
