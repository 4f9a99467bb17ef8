package main

import (
	"math"
	"strings"
	"testing"
)

// FuzzParseLine: the line parser never panics; what it accepts is a benchmark name, a positive count and
// finite value/unit pairs, and formatting it back parses to the same. Seeds: testdata/fuzz/FuzzParseLine
// and the lines below.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		"BenchmarkSendReceive-2         \t 2000000\t        93.70 ns/op\t       0 B/op\t       0 allocs/op",
		"BenchmarkUpdateLatency/durable-2   \t    2000\t   2399570 ns/op\t         1.724 p50-ms\t         7.669 p99-ms",
		"BenchmarkDigestDiff1000-2   \t     445\t    515919 ns/op\t  11.93 MB/s\t  302192 B/op\t    2018 allocs/op",
		"BenchmarkCloudHub-2   \tnoise",
		"--- FAIL: BenchmarkEdgeHubs",
		"BenchmarkX 1 1e309 ns/op",
		"BenchmarkX 1 0x1p-2 ns/op",
		"Benchmark\x00 1 2 ns/op",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, ok := ParseLine(s)
		if !ok {
			return
		}
		if !strings.HasPrefix(l.Name, "Benchmark") || l.Iterations <= 0 || len(l.Metrics) == 0 {
			t.Fatalf("ParseLine(%q) accepted %+v", s, l)
		}
		for _, m := range l.Metrics {
			if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) || m.Unit == "" || strings.ContainsAny(m.Unit, " \t\n") {
				t.Fatalf("ParseLine(%q): metric %+v", s, m)
			}
		}
		back, ok := ParseLine(l.Format())
		if !ok || back.Iterations != l.Iterations || len(back.Metrics) != len(l.Metrics) {
			t.Fatalf("ParseLine(%q) = %+v; its Format %q parses to %+v, %v", s, l, l.Format(), back, ok)
		}
		for i := range l.Metrics {
			if back.Metrics[i] != l.Metrics[i] {
				t.Fatalf("round trip of %q: %+v, then %+v", s, l.Metrics, back.Metrics)
			}
		}
	})
}

// FuzzParse: the whole-output parser never panics or fails on arbitrary input.
func FuzzParse(f *testing.F) {
	f.Add("pkg: p\nBenchmarkA-2\tnoise\n  10  5 ns/op\n--- FAIL: BenchmarkB\n    x_test.go:1: why\nFAIL\tp\t1s\n")
	f.Add("BenchmarkA\n    a_test.go:3: skip\n--- SKIP: BenchmarkA\n")
	f.Fuzz(func(t *testing.T, s string) {
		res, err := Parse(strings.NewReader(s))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		for _, b := range res.Benches {
			for _, u := range b.Units {
				if len(b.Values[u]) == 0 {
					t.Fatalf("%+v: unit %q without values", b, u)
				}
			}
		}
		_ = Build(res, Budgets(), Options{})
	})
}
