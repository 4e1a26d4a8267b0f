package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// liveCopy copies a running machine's writable layer with only a short
// freeze: a bulk copy while it runs, then, frozen, a second pass that
// recopies what changed since the bulk copy began (by ctime, which every
// content or metadata change bumps) and drops what was deleted. VirtualBox
// pauses a VM for `snapshot take` too; this keeps the pause short enough
// for group replication not to expel a frozen member.
func liveCopy(rt *Runtime, src, dst string) (frozenFor time.Duration, err error) {
	begin := time.Now().Add(-time.Second) // ctime granularity margin
	if err := copyTree(src, dst); err != nil {
		return 0, err
	}
	if err := freeze(rt, true); err != nil {
		_ = freeze(rt, false)
		return 0, err
	}
	start := time.Now()
	err = syncChanged(src, dst, begin)
	if ferr := freeze(rt, false); err == nil {
		err = ferr
	}
	return time.Since(start), err
}

// syncChanged makes dst equal to src for entries changed since t.
func syncChanged(src, dst string, since time.Time) error {
	seen := map[string]bool{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		seen[rel] = true
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		var dt syscall.Stat_t
		exists := syscall.Lstat(target, &dt) == nil
		changed := time.Unix(st.Ctim.Sec, st.Ctim.Nsec).After(since)
		if exists && !changed && dt.Mode&syscall.S_IFMT == st.Mode&syscall.S_IFMT {
			return nil
		}
		return copyEntry(p, target, &st, exists && dt.Mode&syscall.S_IFMT == syscall.S_IFDIR && st.Mode&syscall.S_IFMT == syscall.S_IFDIR)
	})
	if err != nil {
		return err
	}
	// Remove what no longer exists in src (deepest first).
	var gone []string
	_ = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dst, p)
		if !seen[rel] {
			gone = append(gone, p)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	for _, g := range gone {
		if err := os.RemoveAll(g); err != nil {
			return err
		}
	}
	return nil
}

// copyEntry copies one file system object with owner, mode, xattrs (overlay
// whiteouts/opaque markers) and times. keepDir: dst is already a directory.
func copyEntry(src, dst string, st *syscall.Stat_t, keepDir bool) error {
	mode := st.Mode & syscall.S_IFMT
	if !keepDir {
		if err := os.RemoveAll(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	perm := os.FileMode(st.Mode & 0o7777)
	switch mode {
	case syscall.S_IFDIR:
		if !keepDir {
			if err := os.Mkdir(dst, 0o700); err != nil {
				return err
			}
		}
	case syscall.S_IFREG:
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
	case syscall.S_IFLNK:
		link, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(link, dst); err != nil {
			return err
		}
		return os.Lchown(dst, int(st.Uid), int(st.Gid))
	case syscall.S_IFCHR, syscall.S_IFBLK, syscall.S_IFIFO, syscall.S_IFSOCK:
		if err := syscall.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s: unsupported file type %o", src, mode)
	}
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if err := os.Chmod(dst, perm); err != nil {
		return err
	}
	return os.Chtimes(dst, time.Unix(st.Atim.Sec, st.Atim.Nsec), time.Unix(st.Mtim.Sec, st.Mtim.Nsec))
}

func copyXattrs(src, dst string) error {
	buf := make([]byte, 64<<10)
	n, err := syscall.Listxattr(src, buf)
	if err != nil {
		if errors.Is(err, syscall.ENOTSUP) {
			return nil
		}
		return err
	}
	val := make([]byte, 64<<10)
	for _, name := range splitNull(buf[:n]) {
		vn, err := syscall.Getxattr(src, name, val)
		if err != nil {
			return fmt.Errorf("%s: xattr %s: %w", src, name, err)
		}
		if err := syscall.Setxattr(dst, name, val[:vn], 0); err != nil {
			return fmt.Errorf("%s: xattr %s: %w", dst, name, err)
		}
	}
	return nil
}

func splitNull(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == 0 {
			if i > start {
				out = append(out, string(b[start:i]))
			}
			start = i + 1
		}
	}
	return out
}
