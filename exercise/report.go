package exercise

// The file a student hands in: which exercise, how many checks and hints,
// the final result and the lab's identity, signed with HMAC-SHA256 when
// the instructor set a key (lab.toml [exercises] report_key_file). The key
// is read from its file and used here only: never printed or logged.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"

	"labctl/lab"
)

// Report results.
const (
	ResultSolved       = "solved"
	ResultNotSolved    = "not solved"
	ResultWithSolve    = "solved with the reference solution"
	ResultNeverChecked = "not checked"
)

// SignatureAlg names the keyed hash.
const SignatureAlg = "HMAC-SHA256"

// Report is the handed-in file.
type Report struct {
	Format    int        `json:"format"` // 1
	Lab       LabID      `json:"lab"`
	Exercise  string     `json:"exercise"`
	Title     string     `json:"title"`
	Started   time.Time  `json:"started"`
	Finished  *time.Time `json:"solved_at,omitempty"` // first passing check
	Attempts  int        `json:"attempts"`
	HintsUsed int        `json:"hints_used"`
	Hints     int        `json:"hints_available"`
	SolveUsed bool       `json:"reference_solution_used"`
	Result    string     `json:"result"`
	Checks    []Event    `json:"checks"`
	Written   time.Time  `json:"written"`
	Signature *Signature `json:"signature,omitempty"`
}

// LabID says which lab the report comes from.
type LabID struct {
	Name      string `json:"name"`
	GroupUUID string `json:"group_replication_group_name"` // generated per lab
	Profile   string `json:"profile"`
	Host      string `json:"host"` // the student's computer
	OS        string `json:"host_os"`
}

// Signature is the keyed hash of the report written without it.
type Signature struct {
	Alg   string `json:"alg"`
	Value string `json:"value"` // hex
}

// BuildReport assembles the report of the exercise in progress.
func BuildReport(env *Env, cat *Catalog) (*Report, error) {
	a, ex, err := current(env, cat)
	if err != nil {
		return nil, err
	}
	events, err := env.Store.Events()
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	r := &Report{
		Format: 1, Exercise: ex.Name, Title: ex.Title, Started: a.Started, Hints: len(ex.Hints),
		Lab:     LabID{Name: env.Plan.Name, Profile: env.Plan.Profile, Host: host, OS: runtime.GOOS},
		Written: env.now().UTC().Truncate(time.Second), Result: ResultNeverChecked,
	}
	if env.Secrets != nil {
		r.Lab.GroupUUID = env.Secrets.GroupName
	}
	for _, ev := range events {
		switch ev.Kind {
		case EventHint:
			r.HintsUsed = max(r.HintsUsed, ev.Hint)
		case EventSolve:
			r.SolveUsed = true
		case EventCheck:
			r.Attempts++
			r.Checks = append(r.Checks, ev)
			r.Result = ResultNotSolved
			if ev.Passed {
				r.Result = ResultSolved
				if r.Finished == nil {
					at := ev.At
					r.Finished = &at
				}
			}
		}
	}
	if r.Result == ResultSolved && r.SolveUsed {
		r.Result = ResultWithSolve
	}
	return r, nil
}

// ReadKey reads the report-signing key from its file: owner-only, at
// least 16 bytes. Errors never quote the file's content.
func ReadKey(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	// The same rule as every secret file of the lab: owner-only, like ssh's keys.
	if err := lab.CheckSecretFile("the report key file (exercises.report_key_file in lab.toml)", path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the report key file: %w", err)
	}
	key := []byte(strings.TrimRight(string(b), "\r\n"))
	if len(key) < 16 {
		return nil, fmt.Errorf("the report key in %s is shorter than 16 characters: use a long random one (e.g. openssl rand -hex 32)", path)
	}
	return key, nil
}

// payload is what is signed: the report without its signature.
func (r *Report) payload() []byte {
	c := *r
	c.Signature = nil
	b, _ := json.Marshal(c)
	return b
}

func mac(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// Sign adds the keyed hash; a nil key leaves the report unsigned.
func (r *Report) Sign(key []byte) {
	r.Signature = nil
	if len(key) == 0 {
		return
	}
	r.Signature = &Signature{Alg: SignatureAlg, Value: hex.EncodeToString(mac(key, r.payload()))}
}

// Write saves the report as indented JSON.
func (r *Report) Write(path string) error {
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

// ErrUnsigned and ErrTampered are verdicts of CheckReport.
var (
	ErrUnsigned = errors.New("the report is not signed")
	ErrTampered = errors.New("the report's signature does not match: it was changed after it was written, or signed with another key")
)

// CheckReport reads a handed-in report and checks its signature with key.
func CheckReport(path string, key []byte) (*Report, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("report %s does not exist", path)
	}
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("report %s is not a labctl exercise report: %v", path, err)
	}
	if len(key) == 0 {
		return &r, errors.New("no report key is set (exercises.report_key_file in lab.toml): cannot check signatures")
	}
	if r.Signature == nil || r.Signature.Value == "" {
		return &r, ErrUnsigned
	}
	got, err := hex.DecodeString(r.Signature.Value)
	if err != nil || r.Signature.Alg != SignatureAlg || !hmac.Equal(got, mac(key, r.payload())) {
		return &r, ErrTampered
	}
	return &r, nil
}
