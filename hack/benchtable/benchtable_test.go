package main

import (
	"bytes"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Line
		ok   bool
	}{
		{"BenchmarkSendReceive-2   2000000   93.70 ns/op   0 B/op   0 allocs/op",
			Line{"BenchmarkSendReceive", 2000000, []Metric{{93.7, "ns/op"}, {0, "B/op"}, {0, "allocs/op"}}}, true},
		{"BenchmarkUpdateLatency/durable-16\t2000\t2399570 ns/op\t1.724 p50-ms\t7.669 p99-ms",
			Line{"BenchmarkUpdateLatency/durable", 2000, []Metric{{2399570, "ns/op"}, {1.724, "p50-ms"}, {7.669, "p99-ms"}}}, true},
		{"BenchmarkX 10 1.5e3 ns/op", Line{"BenchmarkX", 10, []Metric{{1500, "ns/op"}}}, true},              // GOMAXPROCS=1: no suffix
		{"BenchmarkSize/n-64/x-4 1 2 ns/op", Line{"BenchmarkSize/n-64/x", 1, []Metric{{2, "ns/op"}}}, true}, // only the last -N goes
		{"Benchmark 1 2 ns/op", Line{"Benchmark", 1, []Metric{{2, "ns/op"}}}, true},
		{"BenchmarkSendReceive", Line{}, false},                                    // name alone (-v)
		{"BenchmarkSendReceive-2 \tnoise printed by the benchmark", Line{}, false}, // name, then output
		{"BenchmarkX 0 2 ns/op", Line{}, false},                                    // no iterations
		{"BenchmarkX 10 2 ns/op 3", Line{}, false},                                 // a value without unit
		{"BenchmarkX 10 NaN ns/op", Line{}, false},                                 // not finite
		{"BenchmarkX 10 +Inf ns/op", Line{}, false},                                // not finite
		{"BenchmarkX 10 2 3", Line{}, false},                                       // a number as unit
		{"Benchmarks are fun 1 2", Line{}, false},                                  // not a name
		{"Benchmarking 10 2 ns/op", Line{}, false},                                 // lower case after the prefix
		{"ok  \tgithub.com/x\t1.2s", Line{}, false},
		{"", Line{}, false},
	} {
		got, ok := ParseLine(tc.in)
		if ok != tc.ok || (ok && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("ParseLine(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParse(t *testing.T) {
	f, err := os.Open("testdata/sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	const m = ModulePath + "/"
	get := func(pkg, name string) *Bench {
		t.Helper()
		b := res.Lookup(m+pkg, name)
		if b == nil {
			t.Fatalf("%s %s not parsed", pkg, name)
		}
		return b
	}
	if v := get("beehive", "BenchmarkSendReceive").Values["ns/op"]; !reflect.DeepEqual(v, []float64{93.7, 97.2, 90.1}) {
		t.Errorf("SendReceive ns/op over -count 3: %v", v)
	}
	if u := get("beehive", "BenchmarkSendReceive").Units; !reflect.DeepEqual(u, []string{"ns/op", "B/op", "allocs/op"}) {
		t.Errorf("units %v", u)
	}
	if v := get("twin/twinmodule", "BenchmarkUpdateLatency/durable").Values["p99-ms"]; !reflect.DeepEqual(v, []float64{7.669}) {
		t.Errorf("custom metric p99-ms: %v", v)
	}
	// The result line after the benchmark's own output is reassembled.
	if v := get("hub/cloudhub", "BenchmarkCloudHub").Values["nodes"]; !reflect.DeepEqual(v, []float64{200}) {
		t.Errorf("CloudHub nodes after interleaved output: %v", v)
	}
	if b := get("examples/edge", "BenchmarkEdgeFootprint"); b.Status != Skipped || b.Reason != "containerd not found (run make test-deps)" {
		t.Errorf("skipped benchmark: %+v", b)
	}
	if b := get("hub/edgehub", "BenchmarkEdgeHubs"); b.Status != Failed || b.Reason != "connect: too many open files" {
		t.Errorf("failed benchmark: %+v", b)
	}
	if !res.PkgFailed[m+"edged"] || !res.PkgFailed[m+"hub/edgehub"] || res.PkgFailed[m+"beehive"] {
		t.Errorf("failed packages %v", res.PkgFailed)
	}
	if len(res.Benches) != 10 {
		var names []string
		for _, b := range res.Benches {
			names = append(names, b.Key.Name)
		}
		t.Errorf("%d benchmarks %v, want 10 (garbage lines make none)", len(res.Benches), names)
	}
}

// TestParseLongLine: a line over the limit is skipped, and parsing goes on after it.
func TestParseLongLine(t *testing.T) {
	in := "pkg: p\n" + strings.Repeat("x", maxLine+10) + "\nBenchmarkA-2 1 5 ns/op\n" + strings.Repeat("y", maxLine*2)
	res, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if b := res.Lookup("p", "BenchmarkA"); b == nil || b.Values["ns/op"][0] != 5 {
		t.Fatalf("after a long line: %+v", res.Benches)
	}
}

func TestVerdict(t *testing.T) {
	lower, higher := atMost(100), atLeast(20000)
	for _, tc := range []struct {
		name  string
		b     Budget
		vals  []float64
		small bool
		want  string
	}{
		{"lower, within", Budget{Bound: lower}, []float64{93.7}, false, "within budget"},
		{"lower, at the limit", Budget{Bound: lower}, []float64{100}, false, "within budget"},
		{"lower, missed", Budget{Bound: lower}, []float64{136}, false, "missed by 36%"},
		{"lower, missed a little", Budget{Bound: atMost(1000)}, []float64{1001}, false, "missed by 0.1%"},
		{"median within, one run over", Budget{Bound: lower}, []float64{90, 99, 130}, false, "within budget (1 of 3 runs over)"},
		{"median over of three", Budget{Bound: lower}, []float64{90, 101, 130}, false, "missed by 1%"},
		{"median of an even count", Budget{Bound: lower}, []float64{90, 100, 104, 200}, false, "missed by 2%"},
		{"zero budget", Budget{Bound: atMost(0)}, []float64{0, 0, 0}, false, "within budget"},
		{"zero budget missed", Budget{Bound: atMost(0)}, []float64{3}, false, "missed (3 > 0)"},
		{"higher, within", Budget{Bound: higher}, []float64{28674}, false, "within budget"},
		{"higher, missed", Budget{Bound: higher}, []float64{18000, 19000, 30000}, false, "missed by 5%"},
		{"higher, far off", Budget{Bound: atLeast(10000)}, []float64{200}, false, "missed by 98%"},
		{"full size only, small run", Budget{Bound: atLeast(10000), FullSizeOnly: true}, []float64{200}, true, "small run (the budget is for the full size)"},
		{"full size only, full run", Budget{Bound: atLeast(10000), FullSizeOnly: true}, []float64{200}, false, "missed by 98%"},
		{"full size only, met in a small run", Budget{Bound: atLeast(10000), FullSizeOnly: true}, []float64{12000}, true, "within budget"},
		{"no bound", Budget{Note: "TestResyncBudget"}, []float64{5}, false, "no budget"},
	} {
		if got := Verdict(tc.b, tc.vals, Options{Small: tc.small}); got != tc.want {
			t.Errorf("%s: Verdict = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestTable runs the sample through the whole program and checks the rows that matter.
func TestTable(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-small", "testdata/sample.txt"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	rows := map[string]string{} // figure → the whole line
	for _, line := range strings.Split(out.String(), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) > 2 {
			rows[strings.TrimSpace(cells[1])] += line
		}
	}
	for figure, want := range map[string][]string{
		"beehive SendSync round trip (SendSync)":                             {"990 ns/op (850–1,070 over 3 runs)", "≤ 1 µs/op", "≈ 4.4 µs", "within budget (1 of 3 runs over)"},
		"twin store: durable updates, batched (UpdateBatch100Durable)":       {"21,000 updates/s (18,000–26,000 over 3 runs)", "≥ 20,000 updates/s", "within budget (1 of 3 runs over)"},
		"MQTT twin update → result, embedded broker (UpdateLatency/durable)": {"7.67 p99-ms", "≤ 5 p99-ms", "missed by 53%"},
		"hub: cloud→edge delivery p99 under load (CloudHub)":                 {"3.2 p99-ms at 1,990 msgs/s", "within budget"},
		"hub: nodes on one cloud process, light edges (CloudHub)":            {"200 nodes", "small run"},
		"hub: delivery p99 to full edge hubs (EdgeHubs)":                     {"FAILED: connect: too many open files"},
		"edge process RSS, idle, all modules (EdgeFootprint)":                {"skipped: containerd not found", `KubeEdge edgecore "minimum 70 MB"`},
		"pod → StartContainer p99, fake runtime, 100 pods (PodStart100)":     {"not run (package FAILED)"},
		"edgemark: connected edge nodes (Edgemark)":                          {"not run"},
		"beehive SendToGroup":                  {"346 ns/op, 0 B/op, 0 allocs/op", "no budget"},
		"twin/twinmodule UpdateLatency/normal": {"852 µs/op, 0.653 p50-ms, 1.93 p99-ms", "no budget"},
		"figure":                               {"measured", "budget", "anchor", "verdict"},
	} {
		line, ok := rows[figure]
		if !ok {
			t.Errorf("no row %q in\n%s", figure, out.String())
			continue
		}
		for _, w := range want {
			if !strings.Contains(line, w) {
				t.Errorf("row %q lacks %q:\n%s", figure, w, line)
			}
		}
	}
	// Every line of the table has the same width (aligned columns).
	var width int
	for _, line := range strings.Split(out.String(), "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		if n := len([]rune(line)); width == 0 {
			width = n
		} else if n != width {
			t.Errorf("line of %d runes, want %d: %s", n, width, line)
		}
	}
	if !strings.Contains(out.String(), "23 budget rows: 6 within budget, 1 missed, 15 not run, 1 figure only or small run; 10 benchmarks in 6 packages") {
		t.Errorf("summary: %s", out.String()[strings.LastIndex(out.String(), "\n\n"):])
	}
	if code := run([]string{"testdata/missing.txt"}, nil, &out, &errOut); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
	if code := run([]string{"-nope"}, nil, &out, &errOut); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
}

// TestBudgets keeps the data table sane: every row names a benchmark and a unit, no row twice, a limit
// is finite and not negative, and the rows DESIGN.md's budgets need are there.
func TestBudgets(t *testing.T) {
	seen := map[[3]string]bool{}
	for _, b := range Budgets() {
		k := [3]string{b.Pkg, b.Name, b.Unit}
		if seen[k] {
			t.Errorf("row %v twice", k)
		}
		seen[k] = true
		if !isBenchName(b.Name) || b.Unit == "" || b.What == "" {
			t.Errorf("row %+v: name, unit or description missing", b)
		}
		if b.Bound.Set && (b.Bound.Limit < 0 || math.IsInf(b.Bound.Limit, 0)) {
			t.Errorf("row %+v: limit", b)
		}
	}
	for _, k := range [][3]string{
		{"beehive", "BenchmarkSendReceive", "ns/op"}, {"beehive", "BenchmarkSendReceive", "allocs/op"},
		{"beehive", "BenchmarkSendSync", "ns/op"}, {"twin", "BenchmarkUpdateBatch100Durable", "updates/s"},
		{"twin", "BenchmarkSetReportedDurable", "updates/s"}, {"twin/twinmodule", "BenchmarkUpdateLatency/durable", "p99-ms"},
		{"edged", "BenchmarkPodStart100", "p99-ms"}, {"examples/edgemark", "BenchmarkEdgemark", "nodes"},
		{"examples/edgemark", "BenchmarkEdgemark", "p99-ms"}, {"examples/edge", "BenchmarkEdgeFootprint", "binary-MB"},
		{"examples/edge", "BenchmarkEdgeFootprint", "rss-idle-MB"}, {"examples/edge", "BenchmarkEdgeFootprint", "rss-loaded-MB"},
	} {
		if !seen[k] {
			t.Errorf("no budget row %v", k)
		}
	}
}

func TestFormatNum(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 93.7: "93.7", 93.749: "93.7", 0.00123456: "0.00123", 1.07: "1.07", 850: "850", 999.6: "1,000",
		26412.4: "26,412", 1234567: "1,234,567", -1500: "-1,500", 12.5: "12.5",
	} {
		if got := formatNum(v); got != want {
			t.Errorf("formatNum(%v) = %q, want %q", v, got, want)
		}
	}
}
