package mysqlgr

// Choosing the member to re-bootstrap group replication from after a full
// outage. The MySQL manual is explicit that the last primary is not
// necessarily the most up to date: the group must restart from the member
// whose transaction set contains every other member's. This file is pure
// (no I/O) so the decision is unit-tested over GTID strings.

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// MemberGTID is what the lifecycle reads from one stopped member.
type MemberGTID struct {
	Name        string // node name, for the answer and for errors
	Executed    string // @@GLOBAL.gtid_executed
	Received    string // RECEIVED_TRANSACTION_SET of channel group_replication_applier (certified, maybe unapplied)
	LastPrimary bool   // this member was the primary before the outage (tie-breaker only)
}

// ChooseBootstrap returns the name of the member to bootstrap the group from:
// the one whose GTID set (executed ∪ received) contains every other member's.
// Among several such members (equal sets) it prefers the last primary, then
// the first in the given order. When no member contains all others, the sets
// have diverged and guessing would discard transactions, so it returns an
// error naming what each candidate lacks and how to resolve it.
func ChooseBootstrap(members []MemberGTID) (string, error) {
	if len(members) == 0 {
		return "", fmt.Errorf("choose bootstrap member: no members given")
	}
	sets := make([]GTIDSet, len(members))
	for i, m := range members {
		ex, err := ParseGTIDSet(m.Executed)
		if err != nil {
			return "", fmt.Errorf("choose bootstrap member: %s: gtid_executed: %w", m.Name, err)
		}
		rc, err := ParseGTIDSet(m.Received)
		if err != nil {
			return "", fmt.Errorf("choose bootstrap member: %s: received transaction set: %w", m.Name, err)
		}
		sets[i] = ex.Union(rc)
	}
	best := -1
	for i := range members {
		containsAll := true
		for j := range members {
			if i != j && !sets[i].Contains(sets[j]) {
				containsAll = false
				break
			}
		}
		if !containsAll {
			continue
		}
		if best < 0 || (members[i].LastPrimary && !members[best].LastPrimary) {
			best = i
		}
	}
	if best >= 0 {
		return members[best].Name, nil
	}

	// Divergence: explain, for the member holding the most transactions,
	// what the others have that it lacks.
	cand := 0
	for i := range sets {
		if sets[i].Count() > sets[cand].Count() {
			cand = i
		}
	}
	var lacks []string
	for j := range members {
		if j == cand {
			continue
		}
		if extra := sets[j].Subtract(sets[cand]); !extra.IsEmpty() {
			lacks = append(lacks, fmt.Sprintf("%s has %s", members[j].Name, extra))
		}
	}
	return "", fmt.Errorf("choose bootstrap member: GTID sets diverged, no member holds every transaction "+
		"(%s, which %s lacks). Bootstrapping any member would discard the others' transactions. "+
		"Resolve: inspect the extra GTIDs on their member (mysqlbinlog --include-gtids=...); if they are "+
		"unwanted local changes, re-provision that member (stop mysqld, empty its datadir or re-clone its VM); "+
		"if they must be kept, inject empty transactions for them on %s (SET GTID_NEXT='uuid:n'; BEGIN; COMMIT; "+
		"SET GTID_NEXT='AUTOMATIC') and run labctl up again",
		strings.Join(lacks, "; "), members[cand].Name, members[cand].Name)
}

// GTIDSet is a parsed MySQL GTID set: per source ("uuid" or "uuid:tag") a
// sorted list of disjoint, non-adjacent closed intervals.
type GTIDSet map[string][]gtidInterval

type gtidInterval struct{ lo, hi uint64 }

var (
	gtidUUIDRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)
	gtidTagRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,31}$`)
)

// ParseGTIDSet parses the text form MySQL prints, e.g.
// "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7,\n5ba1...:1-3", including
// tagged GTIDs of MySQL 8.3+ ("uuid:tag:1-3"). The empty string is the
// empty set.
func ParseGTIDSet(s string) (GTIDSet, error) {
	set := GTIDSet{}
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return set, nil
	}
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			return nil, fmt.Errorf("GTID set %q: empty element", s)
		}
		fields := strings.Split(part, ":")
		uuid := fields[0]
		if !gtidUUIDRe.MatchString(uuid) {
			return nil, fmt.Errorf("GTID set element %q: %q is not a server UUID", part, uuid)
		}
		uuid = canonicalUUID(uuid)
		key := uuid
		intervals := 0
		for _, f := range fields[1:] {
			if f != "" && f[0] >= '0' && f[0] <= '9' {
				iv, err := parseGTIDInterval(f)
				if err != nil {
					return nil, fmt.Errorf("GTID set element %q: %w", part, err)
				}
				set[key] = append(set[key], iv)
				intervals++
				continue
			}
			if !gtidTagRe.MatchString(f) {
				return nil, fmt.Errorf("GTID set element %q: %q is neither an interval nor a tag", part, f)
			}
			key = uuid + ":" + strings.ToLower(f)
		}
		if intervals == 0 {
			return nil, fmt.Errorf("GTID set element %q: no transaction interval", part)
		}
	}
	for k := range set {
		set[k] = normalizeIntervals(set[k])
	}
	return set, nil
}

func canonicalUUID(u string) string {
	u = strings.ToLower(strings.ReplaceAll(u, "-", ""))
	return u[0:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:32]
}

func parseGTIDInterval(f string) (gtidInterval, error) {
	lo, hi, isRange := strings.Cut(f, "-")
	a, err := strconv.ParseUint(lo, 10, 63)
	if err != nil || a == 0 {
		return gtidInterval{}, fmt.Errorf("bad transaction number %q (want 1 or more)", lo)
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 63); err != nil || b < a {
			return gtidInterval{}, fmt.Errorf("bad interval %q (want N-M with M >= N)", f)
		}
	}
	return gtidInterval{a, b}, nil
}

// normalizeIntervals sorts and merges overlapping or adjacent intervals.
func normalizeIntervals(ivs []gtidInterval) []gtidInterval {
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].lo < ivs[j].lo })
	var out []gtidInterval
	for _, iv := range ivs {
		if n := len(out); n > 0 && iv.lo <= out[n-1].hi+1 {
			if iv.hi > out[n-1].hi {
				out[n-1].hi = iv.hi
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// Union returns s ∪ o.
func (s GTIDSet) Union(o GTIDSet) GTIDSet {
	out := GTIDSet{}
	for _, src := range []GTIDSet{s, o} {
		for k, ivs := range src {
			out[k] = append(out[k], ivs...)
		}
	}
	for k := range out {
		out[k] = normalizeIntervals(out[k])
	}
	return out
}

// Contains reports whether every transaction of o is in s (MySQL's GTID_SUBSET(o, s)).
func (s GTIDSet) Contains(o GTIDSet) bool {
	return o.Subtract(s).IsEmpty()
}

// Subtract returns the transactions of s that are not in o (MySQL's GTID_SUBTRACT(s, o)).
func (s GTIDSet) Subtract(o GTIDSet) GTIDSet {
	out := GTIDSet{}
	for k, ivs := range s {
		rest := append([]gtidInterval(nil), ivs...)
		for _, cut := range o[k] {
			var next []gtidInterval
			for _, iv := range rest {
				if cut.hi < iv.lo || cut.lo > iv.hi {
					next = append(next, iv)
					continue
				}
				if iv.lo < cut.lo {
					next = append(next, gtidInterval{iv.lo, cut.lo - 1})
				}
				if iv.hi > cut.hi {
					next = append(next, gtidInterval{cut.hi + 1, iv.hi})
				}
			}
			rest = next
		}
		if len(rest) > 0 {
			out[k] = rest
		}
	}
	return out
}

// IsEmpty reports whether the set holds no transaction.
func (s GTIDSet) IsEmpty() bool {
	for _, ivs := range s {
		if len(ivs) > 0 {
			return false
		}
	}
	return true
}

// Count is the number of transactions in the set.
func (s GTIDSet) Count() uint64 {
	var n uint64
	for _, ivs := range s {
		for _, iv := range ivs {
			n += iv.hi - iv.lo + 1
		}
	}
	return n
}

// String prints the set in MySQL's form, sources sorted, tags after their UUID.
func (s GTIDSet) String() string {
	keys := make([]string, 0, len(s))
	for k, ivs := range s {
		if len(ivs) > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		for _, iv := range s[k] {
			if iv.lo == iv.hi {
				fmt.Fprintf(&b, ":%d", iv.lo)
			} else {
				fmt.Fprintf(&b, ":%d-%d", iv.lo, iv.hi)
			}
		}
	}
	return b.String()
}
