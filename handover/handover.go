// Package handover is what labctl tells the user a lab is for: where
// WordPress and its admin page are, who logs in and where that password is
// kept, where the MySQL VIP is and which member is the primary, and what to
// run next. `up` prints it at the end; `labctl info` prints it any time.
package handover

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"labctl/guest"
	"labctl/lab"
	"labctl/mysqlgr"
	"labctl/steps"
)

// PrimaryWait bounds the read of the current primary.
const PrimaryWait = 3 * time.Second

// Info is the hand-over. Its JSON is `labctl info --json`.
type Info struct {
	Lab               string `json:"lab"`
	Seat              int    `json:"seat,omitempty"` // classroom seat; 0 = the lab as written
	WordPressURL      string `json:"wordpress_url"`
	AdminURL          string `json:"admin_url"`
	AdminUser         string `json:"admin_user"`
	AdminPasswordFile string `json:"admin_password_file"`
	AdminPasswordKey  string `json:"admin_password_key"`
	AdminPassword     string `json:"admin_password,omitempty"` // only when asked for
	VIP               string `json:"vip"`
	// Network says how the host reaches a lab on a private network (NAT
	// network forwards, host-only); "" when bridged.
	Network string `json:"network,omitempty"`
	// Primary is the group's primary as a DB node saw it; "" when none answered.
	Primary string   `json:"primary"`
	Nodes   []Node   `json:"nodes"`
	Next    []string `json:"next"`
}

// Node is one node's address.
type Node struct {
	VM       string `json:"vm"`
	Hostname string `json:"hostname"`
	Role     string `json:"role"`
	IP       string `json:"ip"`
	SSH      string `json:"ssh"` // where labctl reaches its sshd: ip:22, or the NAT network's forward
}

// Options say what Build may read.
type Options struct {
	Plan *lab.Plan
	// SSH gives a DB node's executor, to ask for the primary; nil = do not ask.
	SSH func(*lab.Node) guest.Executor
	// Secrets hides the lab's secrets in errors; with ShowSecrets the admin
	// password is included.
	Secrets     *lab.Secrets
	ShowSecrets bool
}

// Build gathers the hand-over; the only live read is the primary.
func Build(ctx context.Context, o Options) Info {
	p := o.Plan
	in := Info{
		Lab:               p.Name,
		Seat:              p.Seat,
		AdminUser:         p.AdminUser,
		AdminPasswordFile: filepath.Join(p.StateDir, lab.SecretsFile),
		AdminPasswordKey:  "wordpress_admin",
		VIP:               p.VIP.String(),
		Network:           p.NetworkSummary(),
		Next:              []string{"labctl verify", "labctl snapshot take clean", "labctl status"},
	}
	if lb := p.LB(); lb != nil {
		in.WordPressURL = p.VisitorURL() + "/"
		in.AdminURL = in.WordPressURL + "wp-admin/"
	}
	if o.ShowSecrets && o.Secrets != nil {
		in.AdminPassword = o.Secrets.WordPressAdmin
	}
	for _, n := range p.Nodes {
		in.Nodes = append(in.Nodes, Node{VM: n.VM, Hostname: n.Hostname, Role: string(n.Role), IP: n.IP.String(), SSH: n.SSHAddr()})
	}
	if o.SSH != nil {
		in.Primary = primary(ctx, o)
	}
	return in
}

// primary asks the DB nodes in order until one names the primary.
func primary(ctx context.Context, o Options) string {
	ctx, cancel := context.WithTimeout(ctx, PrimaryWait)
	defer cancel()
	var redact []string
	if o.Secrets != nil {
		redact = o.Secrets.Values()
	}
	for _, n := range o.Plan.DB() {
		host, err := mysqlgr.Root(n.VM, o.SSH(n), redact).PrimaryHost(ctx)
		if err != nil || host == "" {
			continue
		}
		if m := mysqlgr.MemberNode(o.Plan, host); m != nil {
			return m.VM
		}
		return host
	}
	return ""
}

// Print writes the hand-over for a person.
func (in Info) Print(w io.Writer) {
	if in.Seat > 0 {
		fmt.Fprintf(w, "Lab %q (seat %d)\n", in.Lab, in.Seat)
	} else {
		fmt.Fprintf(w, "Lab %q\n", in.Lab)
	}
	if in.WordPressURL != "" {
		fmt.Fprintf(w, "How to reach WordPress: %s\n", in.WordPressURL)
	}
	in.PrintDetails(w)
}

// PrintDetails is Print without the lab name and the WordPress line (up's
// summary has printed those).
func (in Info) PrintDetails(w io.Writer) {
	if in.AdminURL != "" {
		fmt.Fprintf(w, "  admin page:   %s\n", in.AdminURL)
	}
	fmt.Fprintf(w, "  admin user:   %s\n", in.AdminUser)
	if in.AdminPassword != "" {
		fmt.Fprintf(w, "  password:     %s\n", in.AdminPassword)
	} else {
		// Short lines: this is read on an 80-column terminal.
		fmt.Fprintf(w, "  password:     in %s\n", in.AdminPasswordFile)
		fmt.Fprintf(w, "                (key %q); `labctl info --show-secrets` prints it\n", in.AdminPasswordKey)
	}
	where := "primary not known (run `labctl status`)"
	if in.Primary != "" {
		where = "on the primary " + in.Primary
	}
	fmt.Fprintf(w, "  MySQL VIP:    %s, %s\n", in.VIP, where)
	if in.Network != "" {
		// The VIP is an address of the private network: the lab's nodes reach it, the host does not.
		fmt.Fprintf(w, "  network:      %s\n", in.Network)
	}
	fmt.Fprintf(w, "Next: %s\n", strings.Join(in.Next, " · "))
}

// JSON writes the hand-over as indented JSON.
func (in Info) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(in)
}

// Slowest names the n slowest steps that ran, for the end of `up`; "" when
// fewer than two ran.
func Slowest(results []steps.StepResult, n int) string {
	var ran []steps.StepResult
	for _, st := range results {
		if !st.Skipped {
			ran = append(ran, st)
		}
	}
	if len(ran) < 2 {
		return ""
	}
	slices.SortStableFunc(ran, func(a, b steps.StepResult) int { return cmp.Compare(b.Duration, a.Duration) })
	var parts []string
	for _, st := range ran[:min(n, len(ran))] {
		parts = append(parts, fmt.Sprintf("%s %.1fs", st.Name, st.Duration.Seconds()))
	}
	return "Slowest steps: " + strings.Join(parts, ", ")
}

// Complete says the run reached the last step, verify: the lab is whole.
func Complete(results []steps.StepResult) bool {
	for _, st := range results {
		if st.Name == "verify" && !st.Skipped {
			return true
		}
	}
	return false
}
