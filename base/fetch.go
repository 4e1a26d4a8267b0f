package base

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// IsURL reports whether src names an http(s) download rather than a file.
func IsURL(src string) bool {
	u, err := url.Parse(src)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// DownloadName is the file name a URL is saved under.
func DownloadName(raw string) string {
	u, err := url.Parse(raw)
	name := ""
	if err == nil {
		name = path.Base(u.Path)
	}
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < 0x20 {
			return '_'
		}
		return r
	}, name)
	if name == "" || name == "." || name == "/" || name == ".." {
		name = "download"
	}
	return name
}

// Download fetches raw into dir/<name>. It writes dir/<name>.partial and
// renames it when complete; a .partial left by an interrupted run is
// resumed with a Range request (restarted when the server ignores it). A
// complete earlier download is reused. The progress bar goes to bar (nil =
// none). It returns the file's path.
func Download(ctx context.Context, client *http.Client, raw, dir string, bar io.Writer) (string, error) {
	if client == nil {
		client = http.DefaultClient
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("download folder: %w", err)
	}
	final := filepath.Join(dir, DownloadName(raw))
	if st, err := os.Stat(final); err == nil && st.Mode().IsRegular() {
		return final, nil
	}
	partial := final + ".partial"
	var have int64
	if st, err := os.Stat(partial); err == nil {
		have = st.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", raw, err)
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("download %s: %w (run the same command again to resume)", raw, err)
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	total := resp.ContentLength
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		flags |= os.O_APPEND
		if total >= 0 {
			total += have
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		// The partial file already holds everything the server has.
		if err := os.Rename(partial, final); err != nil {
			return "", err
		}
		return final, nil
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC
		have = 0
	default:
		return "", fmt.Errorf("download %s: the server answered %s", raw, resp.Status)
	}
	f, err := os.OpenFile(partial, flags, 0o644)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", raw, err)
	}
	var w io.Writer = f
	if bar != nil {
		pb := progressbar.NewOptions64(total,
			progressbar.OptionSetDescription("downloading "+filepath.Base(final)),
			progressbar.OptionSetWriter(bar),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(bar) }),
		)
		_ = pb.Set64(have)
		defer pb.Exit()
		w = io.MultiWriter(f, pb)
	}
	_, cerr := io.Copy(w, resp.Body)
	if err := f.Close(); cerr == nil {
		cerr = err
	}
	if cerr != nil {
		return "", fmt.Errorf("download %s: %w (the part fetched is kept in %s; run the same command again to resume)", raw, cerr, partial)
	}
	if st, err := os.Stat(partial); err == nil && total >= 0 && st.Size() != total {
		return "", fmt.Errorf("download %s: got %d of %d bytes (kept in %s; run the same command again to resume)", raw, st.Size(), total, partial)
	}
	if err := os.Rename(partial, final); err != nil {
		return "", err
	}
	return final, nil
}

// SHA256File returns the hex SHA-256 of a file.
func SHA256File(ctx context.Context, p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, f}); err != nil {
		return "", fmt.Errorf("checksum %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops a long read when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ErrChecksum: the file is not the one the checksum names.
var ErrChecksum = errors.New("SHA-256 mismatch")
