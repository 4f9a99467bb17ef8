package main

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/edgehive/edgehive/internal/testenv"
)

// buildStripped builds the command as `make build` does (go build -tags grpcnotrace -ldflags='-s -w':
// the tag keeps gRPC from linking golang.org/x/net/trace and with it text/template, whose reflection
// stops the linker from dropping unused methods; 4.3 MB of the binary) into a temporary directory and returns the binary's path and size. With symbols too, it also builds an
// unstripped copy (for the size-by-package breakdown) and returns its path as well.
func buildStripped(t testing.TB, symbols bool) (bin string, size int64, syms string) {
	t.Helper()
	gobin := testenv.LookPath(t, "go")
	dir := t.TempDir()
	bin = filepath.Join(dir, "edge")
	if out, err := exec.Command(gobin, "build", "-tags", "grpcnotrace", "-ldflags=-s -w", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags grpcnotrace -ldflags='-s -w': %v\n%s", err, out)
	}
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	if symbols {
		syms = filepath.Join(dir, "edge.syms")
		if out, err := exec.Command(gobin, "build", "-tags", "grpcnotrace", "-o", syms, ".").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	return bin, st.Size(), syms
}

// procMem is a process's memory as /proc shows it, in bytes.
type procMem struct {
	RSS  int64 // VmRSS: resident now
	HWM  int64 // VmHWM: peak resident
	Anon int64 // smaps_rollup Anonymous: heap, stacks, C allocations
	File int64 // Rss minus Anonymous: mapped file pages (the binary's text and data, shared libraries)
}

func (m procMem) String() string {
	return fmt.Sprintf("VmRSS %s (anon %s, file %s), VmHWM %s", fmtMB(m.RSS), fmtMB(m.Anon), fmtMB(m.File), fmtMB(m.HWM))
}

// readProcMem reads pid's VmRSS and VmHWM from /proc/<pid>/status and the anonymous part of its Rss
// from /proc/<pid>/smaps_rollup.
func readProcMem(pid int) (procMem, error) {
	var m procMem
	status, err := readKB(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:", "VmHWM:")
	if err != nil {
		return m, err
	}
	m.RSS, m.HWM = status["VmRSS:"], status["VmHWM:"]
	if m.RSS == 0 {
		return m, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
	}
	rollup, err := readKB(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Rss:", "Anonymous:")
	if err != nil {
		return m, err
	}
	m.Anon = rollup["Anonymous:"]
	m.File = rollup["Rss:"] - m.Anon
	return m, nil
}

// readKB returns the values of the "Name: N kB" lines of a /proc file, in bytes.
func readKB(path string, names ...string) (map[string]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !slices.Contains(names, f[0]) {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", path, sc.Text(), err)
		}
		out[f[0]] = n << 10
	}
	return out, nil
}

// gcLine matches the heap figures of a GODEBUG=gctrace=1 line: "… 4->4->2 MB, 5 MB goal, …".
var gcLine = regexp.MustCompile(`(\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

// lastLiveHeap returns the live heap (MB, as the runtime prints it: 2^20 bytes) after the last GC that
// a gctrace log shows, and how many GCs it shows.
func lastLiveHeap(log []byte) (liveMB int64, gcs int) {
	for _, m := range gcLine.FindAllSubmatch(log, -1) {
		liveMB, _ = strconv.ParseInt(string(m[3]), 10, 64)
		gcs++
	}
	return liveMB, gcs
}

// pkgSize is the bytes of one package (or group of packages) in a binary.
type pkgSize struct {
	Pkg  string
	Size int64
}

// sizeByPackage sums the sizes of the text, read-only data and data symbols of an unstripped binary
// (go tool nm -size) by package: module paths are cut to depth path elements (0: whole import path),
// standard packages to their first element, C symbols (SQLite) grouped as "C (cgo: sqlite3, libc glue)".
// Zero-initialised data (bss) takes no room in the file and is left out. The sizes miss the
// per-function tables (.gopclntab), which grow with text.
func sizeByPackage(t testing.TB, syms string, depth int) ([]pkgSize, int64) {
	t.Helper()
	out, err := exec.Command(testenv.LookPath(t, "go"), "tool", "nm", "-size", syms).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	sums := map[string]int64{}
	var total int64
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || size == 0 {
			continue
		}
		switch f[2] {
		case "T", "t", "R", "r", "D", "d":
		default:
			continue
		}
		name := strings.Join(f[3:], " ")
		if strings.HasSuffix(name, ".memory") && strings.HasPrefix(name, "crypto/internal/fips140/drbg") {
			continue // a 32 MiB zero array, in .noptrbss
		}
		pkg := symbolPackage(name, depth)
		sums[pkg] += size
		total += size
	}
	list := make([]pkgSize, 0, len(sums))
	for p, s := range sums {
		list = append(list, pkgSize{p, s})
	}
	slices.SortFunc(list, func(a, b pkgSize) int { return cmp.Compare(b.Size, a.Size) })
	return list, total
}

// symbolPackage returns the package a symbol belongs to.
func symbolPackage(name string, depth int) string {
	for _, pre := range []string{"go:itab.", "type:.eq.", "type:.hash.", "type:", "go:"} {
		if s, ok := strings.CutPrefix(name, pre); ok {
			name = s
			break
		}
	}
	name = strings.TrimLeft(name, "*[]")
	if !strings.Contains(name, ".") {
		return "C (cgo: sqlite3, libc glue)"
	}
	slash := strings.LastIndexByte(name, '/')
	pkg := name
	if dot := strings.IndexByte(name[slash+1:], '.'); dot >= 0 {
		pkg = name[:slash+1+dot]
	}
	if pkg == "func" || pkg == "string" || strings.HasPrefix(pkg, "struct {") || strings.HasPrefix(pkg, "map") {
		return "(func metadata, type descriptors)"
	}
	if depth > 0 && strings.Contains(strings.SplitN(pkg, "/", 2)[0], ".") {
		if parts := strings.Split(pkg, "/"); len(parts) > depth {
			pkg = strings.Join(parts[:depth], "/")
		}
	}
	return pkg
}
