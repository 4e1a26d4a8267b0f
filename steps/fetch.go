package steps

// Fetching the WordPress archive on the host, once: the Env.Fetch seam
// (a plan's shows the source and downloads nothing).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// FetchArchive is the live Env.Fetch: the WordPress tarball from src, a
// host file as is, or a URL downloaded once into cacheDir; a non-empty
// sha256 must match.
func FetchArchive(ctx context.Context, src, sha256sum, cacheDir string) ([]byte, error) {
	file := src
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		sum := sha256.Sum256([]byte(src))
		file = filepath.Join(cacheDir, "wordpress-"+hex.EncodeToString(sum[:8])+".tar.gz")
		if _, err := os.Stat(file); err != nil {
			if err := webDownload(ctx, src, file); err != nil {
				return nil, err
			}
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read WordPress archive: %w (check wordpress_archive in lab.toml)", err)
	}
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return nil, fmt.Errorf("WordPress archive %s is not a .tar.gz file: point wordpress_archive in lab.toml at a WordPress release tarball", file)
	}
	sum := sha256.Sum256(data)
	got := hex.EncodeToString(sum[:])
	if want := strings.ToLower(strings.TrimSpace(sha256sum)); want != "" && want != got {
		return nil, fmt.Errorf("WordPress archive %s has sha256 %s but lab.toml's wordpress_sha256 is %s: fix wordpress_sha256, or delete the file if it is a stale download, and re-run", file, got, want)
	}
	return data, nil
}

// serialFetch is FetchArchive one call at a time, for one run: two web
// nodes do not download the archive at once (the second finds it cached).
func serialFetch() func(ctx context.Context, src, sha256sum, cacheDir string) ([]byte, error) {
	var mu sync.Mutex
	return func(ctx context.Context, src, sha256sum, cacheDir string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		return FetchArchive(ctx, src, sha256sum, cacheDir)
	}
}

// webDownload fetches url into file atomically, so a broken download never
// poses as the cached archive.
func webDownload(ctx context.Context, url, file string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("download WordPress: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("download WordPress from %s: %w (set wordpress_archive in lab.toml to a local tarball when offline)", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download WordPress from %s: HTTP %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("download WordPress: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".download-*")
	if err != nil {
		return fmt.Errorf("download WordPress: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return fmt.Errorf("download WordPress from %s: %w", url, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("download WordPress: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("download WordPress: %w", err)
	}
	return nil
}
