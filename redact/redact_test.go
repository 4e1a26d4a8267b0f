package redact

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		in      string
		secrets []string
		want    string
	}{
		{"pw=abc123 again abc123", []string{"abc123"}, "pw=<redacted> again <redacted>"},
		{"nothing here", []string{"abc123"}, "nothing here"},
		{"keep all", []string{""}, "keep all"},
		{"keep all", nil, "keep all"},
		// One secret inside another: the longer one wins.
		{"x=LongSecret-1 y=Secret", []string{"Secret", "LongSecret-1"}, "x=<redacted> y=<redacted>"},
		{"dup dup", []string{"dup", "dup"}, "<redacted> <redacted>"},
	} {
		if got := String(tc.in, tc.secrets...); got != tc.want {
			t.Errorf("String(%q, %q) = %q, want %q", tc.in, tc.secrets, got, tc.want)
		}
	}
}

func TestRedactorSplitAcrossWrites(t *testing.T) {
	secret := "S3cret-Passw0rd_xyz"
	text := "mysql -u root -p" + secret + "\nsecond line " + secret + " end\ntail " + secret
	want := strings.ReplaceAll(text, secret, Placeholder)
	// Every split point, and every pair of split points.
	for i := 0; i <= len(text); i++ {
		for j := i; j <= len(text); j += 3 {
			var out bytes.Buffer
			r := NewWriter(&out, []string{secret})
			for _, part := range []string{text[:i], text[i:j], text[j:]} {
				n, err := r.Write([]byte(part))
				if err != nil || n != len(part) {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if strings.Contains(out.String(), "tail") {
				t.Fatal("unfinished line written before Flush")
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if out.String() != want {
				t.Fatalf("split at %d,%d: got %q, want %q", i, j, out.String(), want)
			}
		}
	}
}

func TestRedactorByteAtATime(t *testing.T) {
	secrets := []string{"alpha-Secret-1", "beta_Secret_2"}
	text := "a alpha-Secret-1 b beta_Secret_2\r\nprogress 10%...alpha-Secret-1\rnext\n"
	var out bytes.Buffer
	r := NewWriter(&out, secrets)
	for i := 0; i < len(text); i++ {
		r.Write([]byte{text[i]})
	}
	r.Flush()
	if got, want := out.String(), String(text, secrets...); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if strings.Contains(out.String(), "Secret") {
		t.Fatal("a secret got through")
	}
}

func TestRedactorLongLineWithoutNewline(t *testing.T) {
	secret := "Very-Secret-Value-42"
	var out bytes.Buffer
	r := NewWriter(&out, []string{secret})
	// More than maxPending bytes with no line end, a secret straddling
	// every chunk boundary.
	chunk := strings.Repeat("x", 4093) + secret[:7]
	var sent strings.Builder
	for sent.Len() < 3*maxPending {
		part := chunk
		if sent.Len() > 0 {
			part = secret[7:] + chunk
		}
		sent.WriteString(part)
		r.Write([]byte(part))
	}
	if out.Len() == 0 {
		t.Error("nothing written although far more than maxPending was buffered")
	}
	if len(r.pending) > maxPending+len(chunk)+len(secret) {
		t.Errorf("buffer grew to %d bytes", len(r.pending))
	}
	r.Write([]byte(secret[7:]))
	sent.WriteString(secret[7:])
	r.Flush()
	if got, want := out.String(), String(sent.String(), secret); got != want {
		t.Fatalf("output differs from Redact of the input (len %d vs %d)", len(got), len(want))
	}
	if strings.Contains(out.String(), secret) {
		t.Fatal("secret got through")
	}
}

func TestRedactorAddSecretsAndConcurrency(t *testing.T) {
	var out safeBuffer
	r := NewWriter(&out, nil)
	r.AddSecrets("", "Late-Secret-9")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				r.Write([]byte("line Late-Secret-9 ok\n"))
			}
		}()
	}
	wg.Wait()
	r.Close()
	s := out.String()
	if strings.Contains(s, "Late-Secret") || strings.Count(s, "line <redacted> ok\n") != 400 {
		t.Fatalf("unexpected output (%d bytes)", len(s))
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
