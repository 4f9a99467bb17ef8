package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Metric is one value/unit pair of a benchmark result line: "93.7 ns/op", "1.500 p99-ms".
type Metric struct {
	Value float64
	Unit  string
}

// Line is one parsed benchmark result line of `go test -bench` output.
type Line struct {
	Name       string // without the -GOMAXPROCS suffix: "BenchmarkSendReceive", "BenchmarkSub/x=1"
	Iterations int64
	Metrics    []Metric
}

// maxLine bounds a line of input; longer lines are skipped (go test never writes a result line that
// long, and a log line of a benchmark may be anything).
const maxLine = 1 << 20

// ParseLine parses a benchmark result line: "BenchmarkX-2  <iterations>  <value> <unit> ...". It returns
// ok=false for anything else (log lines, headers, a name printed alone before a benchmark ran, garbage).
// Values must be finite numbers and there must be at least one metric.
func ParseLine(s string) (Line, bool) {
	f := strings.Fields(s)
	if len(f) < 4 || len(f)%2 != 0 || !isBenchName(f[0]) {
		return Line{}, false
	}
	l, ok := parseResult(f[1:])
	if !ok {
		return Line{}, false
	}
	l.Name = trimProcs(f[0])
	return l, true
}

// parseResult parses "<iterations> <value> <unit> ...", the part of a result line after the name.
func parseResult(f []string) (Line, bool) {
	if len(f) < 3 || len(f)%2 != 1 {
		return Line{}, false
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || n <= 0 {
		return Line{}, false
	}
	l := Line{Iterations: n, Metrics: make([]Metric, 0, len(f)/2)}
	for i := 1; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) || !isUnit(f[i+1]) {
			return Line{}, false
		}
		l.Metrics = append(l.Metrics, Metric{Value: v, Unit: f[i+1]})
	}
	return l, true
}

// isBenchName reports whether s looks like a benchmark name: "Benchmark" then an upper-case letter,
// digit or underscore, or nothing ("Benchmark" alone is a valid name), and no control characters.
func isBenchName(s string) bool {
	rest, ok := strings.CutPrefix(s, "Benchmark")
	if !ok {
		return false
	}
	if rest != "" {
		c := rest[0]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '/' || c == '-') {
			return false
		}
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// isUnit reports whether s can be a unit: not a number, and no control characters.
func isUnit(s string) bool {
	if s == "" {
		return false
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// trimProcs removes the "-N" that go test appends to a benchmark's name when GOMAXPROCS is not 1. (With
// GOMAXPROCS=1 there is no suffix, and a sub-benchmark named like "size-64" would lose its "-64": run
// the benchmarks with GOMAXPROCS > 1, as make bench does on any machine with two cores or more.)
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || i == len(name)-1 || strings.IndexByte(name[i:], '/') >= 0 {
		return name
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return name
		}
	}
	return name[:i]
}

// Format writes l back in go test's form (without a -N suffix).
func (l Line) Format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\t%d", l.Name, l.Iterations)
	for _, m := range l.Metrics {
		fmt.Fprintf(&b, "\t%s %s", strconv.FormatFloat(m.Value, 'g', -1, 64), m.Unit)
	}
	return b.String()
}

// BenchKey names a benchmark: its package's import path and its name.
type BenchKey struct {
	Pkg  string
	Name string
}

// Status is what happened to a benchmark.
type Status int

const (
	Ran Status = iota
	Failed
	Skipped
)

// Bench is everything the input says about one benchmark: the values of each unit over its runs
// (-count), in order of appearance, and whether it failed or was skipped (with the reason logged).
type Bench struct {
	Key    BenchKey
	Units  []string             // in order of first appearance
	Values map[string][]float64 // unit → one value per run
	Status Status
	Reason string
}

// Results is a parsed go test -bench output.
type Results struct {
	Benches   []*Bench // in order of first appearance
	byKey     map[BenchKey]*Bench
	PkgFailed map[string]bool // packages whose test binary failed ("FAIL\t<pkg>\t…")
}

// BenchPkgs returns the number of packages with at least one benchmark.
func (r *Results) BenchPkgs() int {
	seen := map[string]bool{}
	for _, b := range r.Benches {
		seen[b.Key.Pkg] = true
	}
	return len(seen)
}

// Lookup returns the benchmark named name in package pkg, or nil.
func (r *Results) Lookup(pkg, name string) *Bench { return r.byKey[BenchKey{pkg, name}] }

func (r *Results) bench(pkg, name string) *Bench {
	k := BenchKey{pkg, name}
	b := r.byKey[k]
	if b == nil {
		b = &Bench{Key: k, Values: map[string][]float64{}}
		r.byKey[k] = b
		r.Benches = append(r.Benches, b)
	}
	return b
}

// Parse reads go test -bench output (with or without -v, any -count, several packages one after the
// other, as `go test ./...` prints them) and collects every benchmark's values. Lines it does not know
// are ignored. A benchmark whose name was printed alone and whose results follow on a later line (a
// benchmark that wrote to stdout while it ran, without -v) is reassembled.
func Parse(rd io.Reader) (*Results, error) {
	r := &Results{byKey: map[BenchKey]*Bench{}, PkgFailed: map[string]bool{}}
	br := bufio.NewReaderSize(rd, 64*1024)
	var (
		pkg     string
		pending string // a benchmark name printed without its results yet
		lastLog string // the last indented log line ("    x_test.go:12: message") since pending began
		await   *Bench // a benchmark that failed or skipped whose reason may follow
	)
	for {
		raw, tooLong, err := readLine(br)
		if err != nil && raw == "" {
			if err == io.EOF {
				break
			}
			return r, err
		}
		if tooLong {
			continue
		}
		line := strings.TrimRight(raw, "\r\n")
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimSpace(line[len("pkg: "):])
			pending, lastLog, await = "", "", nil
			continue
		case strings.HasPrefix(line, "FAIL\t") || strings.HasPrefix(line, "ok  \t"):
			f := strings.Fields(line)
			if len(f) >= 2 {
				if f[0] == "FAIL" {
					r.PkgFailed[f[1]] = true
				}
			}
			pending, lastLog, await = "", "", nil
			continue
		case strings.HasPrefix(trimmed, "--- FAIL: ") || strings.HasPrefix(trimmed, "--- SKIP: "):
			name := strings.Fields(trimmed[len("--- FAIL: "):])
			if len(name) == 0 || !isBenchName(name[0]) {
				continue
			}
			b := r.bench(pkg, trimProcs(name[0]))
			if strings.HasPrefix(trimmed, "--- FAIL") {
				b.Status = Failed
			} else if b.Status != Failed {
				b.Status = Skipped
			}
			if b.Reason == "" && pending == b.Key.Name {
				b.Reason = lastLog
			}
			await, pending, lastLog = b, "", ""
			continue
		}
		if l, ok := ParseLine(line); ok {
			r.add(pkg, l)
			pending, lastLog, await = "", "", nil
			continue
		}
		f := strings.Fields(line)
		if len(f) > 0 && isBenchName(f[0]) {
			// A name alone (-v prints it before running), or a name followed by a benchmark's own output.
			pending, lastLog, await = trimProcs(f[0]), "", nil
			continue
		}
		if pending != "" {
			if l, ok := parseResult(f); ok {
				l.Name = pending
				r.add(pkg, l)
				pending, lastLog = "", ""
				continue
			}
		}
		if msg, ok := logMessage(line); ok {
			if await != nil && await.Reason == "" {
				await.Reason = msg
				await = nil
			}
			lastLog = msg
		}
	}
	return r, nil
}

func (r *Results) add(pkg string, l Line) {
	b := r.bench(pkg, l.Name)
	for _, m := range l.Metrics {
		if _, seen := b.Values[m.Unit]; !seen {
			b.Units = append(b.Units, m.Unit)
		}
		b.Values[m.Unit] = append(b.Values[m.Unit], m.Value)
	}
}

// logMessage returns the message of a test log line, "    file_test.go:12: message".
func logMessage(line string) (string, bool) {
	if !strings.HasPrefix(line, "    ") {
		return "", false
	}
	s := strings.TrimSpace(line)
	file, rest, ok := strings.Cut(s, ":")
	if !ok || !strings.HasSuffix(file, ".go") {
		return "", false
	}
	lineNo, msg, ok := strings.Cut(rest, ":")
	if !ok {
		return "", false
	}
	if _, err := strconv.Atoi(lineNo); err != nil {
		return "", false
	}
	return strings.TrimSpace(msg), true
}

// readLine returns the next line of br without its length limit applying to memory: a line over
// maxLine bytes is read to its end, discarded, and reported as tooLong. At the end of the input it
// returns the last (unterminated) line, if any, with a nil error, then "" and io.EOF.
func readLine(br *bufio.Reader) (line string, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > maxLine {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && (len(buf) > 0 || tooLong):
			return string(buf), tooLong, nil
		case err != nil:
			return "", false, err
		}
		return string(buf), tooLong, nil
	}
}
