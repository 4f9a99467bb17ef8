package edged

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Names inside an atomically written volume directory, as kubelet's: the visible entries are symlinks
// into ..data, itself a symlink to a timestamped directory that is replaced in one rename.
const (
	dataDirName    = "..data"
	newDataDirName = "..data_tmp"
)

// fileProjection is one file of a volume's payload.
type fileProjection struct {
	data []byte
	mode fs.FileMode
}

// writeAtomic makes dir hold exactly payload (relative path → file), so that a reader of dir sees the
// old files or the new ones, never a mix: the files go into a fresh hidden directory, the ..data symlink
// is switched to it by rename, and the visible top-level names are symlinks through ..data. It writes
// nothing and reports false when dir already holds payload.
func writeAtomic(dir string, payload map[string]fileProjection) (changed bool, err error) {
	for p := range payload {
		if err := validatePayloadPath(p); err != nil {
			return false, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	oldTS, _ := os.Readlink(filepath.Join(dir, dataDirName))
	if oldTS != "" && sameContent(filepath.Join(dir, oldTS), payload) {
		return false, nil
	}

	tsDir, err := os.MkdirTemp(dir, "..ts")
	if err != nil {
		return false, err
	}
	if err := os.Chmod(tsDir, 0o755); err != nil {
		return false, err
	}
	for p, f := range payload {
		full := filepath.Join(tsDir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(full, f.data, f.mode); err != nil {
			return false, err
		}
		if err := os.Chmod(full, f.mode); err != nil { // WriteFile's mode is masked by the umask
			return false, err
		}
	}
	tmpLink := filepath.Join(dir, newDataDirName)
	_ = os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(tsDir), tmpLink); err != nil {
		return false, err
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, dataDirName)); err != nil {
		return false, err
	}

	// Visible names: one symlink per top-level entry of the payload.
	want := map[string]bool{}
	for p := range payload {
		want[strings.SplitN(p, "/", 2)[0]] = true
	}
	for top := range want {
		link := filepath.Join(dir, top)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join(dataDirName, top) {
			continue
		}
		_ = os.RemoveAll(link)
		if err := os.Symlink(filepath.Join(dataDirName, top), link); err != nil {
			return true, err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return true, err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == dataDirName || name == filepath.Base(tsDir):
		case strings.HasPrefix(name, ".."):
			_ = os.RemoveAll(filepath.Join(dir, name)) // an older timestamped directory
		case !want[name]:
			_ = os.Remove(filepath.Join(dir, name)) // a key that went away
		}
	}
	return true, nil
}

func validatePayloadPath(p string) error {
	switch {
	case p == "":
		return configErrorf("empty file path in volume")
	case filepath.IsAbs(p):
		return configErrorf("file path %q in volume must be relative", p)
	case strings.HasPrefix(p, ".."):
		return configErrorf("file path %q in volume must not start with '..'", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return configErrorf("file path %q in volume must not contain '..'", p)
		}
	}
	return nil
}

// sameContent reports whether dir holds exactly payload, with the same modes.
func sameContent(dir string, payload map[string]fileProjection) bool {
	seen := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		f, ok := payload[rel]
		if !ok {
			return fs.ErrExist
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm() != f.mode.Perm() {
			return fs.ErrExist
		}
		b, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(b, f.data) {
			return fs.ErrExist
		}
		seen++
		return nil
	})
	return err == nil && seen == len(payload)
}
