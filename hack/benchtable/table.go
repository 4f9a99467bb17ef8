package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Row is one line of the table.
type Row struct {
	Figure, Measured, Budget, Anchor, Verdict string
}

// Verdicts, or their beginnings; Tally counts rows by them.
const (
	VerdictWithin  = "within budget"
	VerdictMissed  = "missed"
	VerdictNoLimit = "no budget"
	VerdictNotRun  = "not run"
	VerdictFailed  = "FAILED"
	VerdictSkipped = "skipped"
	VerdictSmall   = "small run"
)

// Options of Build.
type Options struct {
	// Small says the harness ran at a small size: a FullSizeOnly budget is reported as informative.
	Small bool
}

// Build makes the table: one row per budget (in the order given), then one row per other benchmark of
// res with the figures no budget row showed (in the order of the input).
func Build(res *Results, budgets []Budget, opt Options) []Row {
	shown := map[BenchKey]map[string]bool{}
	var rows []Row
	for _, b := range budgets {
		pkg := ModulePath
		if b.Pkg != "" {
			pkg += "/" + b.Pkg
		}
		row := Row{Figure: b.What + " (" + shortName(b.Name) + ")", Budget: budgetText(b), Anchor: b.Anchor}
		bench := res.Lookup(pkg, b.Name)
		if bench == nil {
			bench = res.Lookup("", b.Name) // output without "pkg:" lines
		}
		switch {
		case bench == nil && res.PkgFailed[pkg]:
			row.Verdict = VerdictNotRun + " (package FAILED)"
		case bench == nil:
			row.Verdict = VerdictNotRun
		case bench.Status == Failed:
			row.Verdict = withReason(VerdictFailed, bench.Reason)
		case bench.Status == Skipped:
			row.Verdict = withReason(VerdictSkipped, bench.Reason)
		case len(bench.Values[b.Unit]) == 0:
			row.Verdict = VerdictNotRun + " (no " + b.Unit + " reported)"
		default:
			vals := bench.Values[b.Unit]
			row.Measured = measured(vals, b.Unit)
			if at := bench.Values[b.At]; b.At != "" && len(at) > 0 {
				v, unit := scaled(median(at), b.At)
				row.Measured += " at " + formatNum(v) + " " + unit
			}
			row.Verdict = Verdict(b, vals, opt)
		}
		if bench != nil {
			if shown[bench.Key] == nil {
				shown[bench.Key] = map[string]bool{}
			}
			shown[bench.Key][b.Unit] = true
		}
		rows = append(rows, row)
	}
	for _, bench := range res.Benches {
		var parts []string
		for _, u := range bench.Units {
			if !shown[bench.Key][u] {
				v, unit := scaled(median(bench.Values[u]), u)
				parts = append(parts, formatNum(v)+" "+unit)
			}
		}
		row := Row{Figure: relPkg(bench.Key.Pkg) + " " + shortName(bench.Key.Name), Measured: strings.Join(parts, ", "), Verdict: VerdictNoLimit}
		if len(shown[bench.Key]) > 0 {
			// Its budget rows show its status; list the rest of its figures, if any.
			if len(parts) > 0 {
				rows = append(rows, row)
			}
			continue
		}
		switch bench.Status {
		case Failed:
			row.Verdict = withReason(VerdictFailed, bench.Reason)
		case Skipped:
			row.Verdict = withReason(VerdictSkipped, bench.Reason)
		}
		rows = append(rows, row)
	}
	return rows
}

// Verdict judges the median of vals against b's bound. vals must not be empty.
func Verdict(b Budget, vals []float64, opt Options) string {
	if !b.Bound.Set {
		return VerdictNoLimit
	}
	within := func(v float64) bool {
		if b.Bound.Better == Higher {
			return v >= b.Bound.Limit
		}
		return v <= b.Bound.Limit
	}
	med := median(vals)
	if !within(med) {
		if b.FullSizeOnly && opt.Small {
			return VerdictSmall + " (the budget is for the full size)"
		}
		return missedText(b.Bound, med)
	}
	over := 0
	for _, v := range vals {
		if !within(v) {
			over++
		}
	}
	if over > 0 {
		return fmt.Sprintf("%s (%d of %d runs over)", VerdictWithin, over, len(vals))
	}
	return VerdictWithin
}

func missedText(bd Bound, v float64) string {
	if bd.Limit == 0 {
		op := ">"
		if bd.Better == Higher {
			op = "<"
		}
		return fmt.Sprintf("%s (%s %s 0)", VerdictMissed, formatNum(v), op)
	}
	pct := (v - bd.Limit) / bd.Limit * 100
	if bd.Better == Higher {
		pct = (bd.Limit - v) / bd.Limit * 100
	}
	return fmt.Sprintf("%s by %s%%", VerdictMissed, formatPct(pct))
}

func formatPct(p float64) string {
	if p < 10 {
		return strconv.FormatFloat(math.Round(p*10)/10, 'f', -1, 64)
	}
	return strconv.FormatFloat(math.Round(p), 'f', 0, 64)
}

func budgetText(b Budget) string {
	if !b.Bound.Set {
		return b.Note
	}
	op := "≤"
	if b.Bound.Better == Higher {
		op = "≥"
	}
	v, unit := scaled(b.Bound.Limit, b.Unit)
	s := op + " " + formatNum(v) + " " + unit
	if b.FullSizeOnly {
		s += " (full size)"
	}
	return s
}

func withReason(v, reason string) string {
	if reason == "" {
		return v
	}
	const max = 80
	if utf8.RuneCountInString(reason) > max {
		reason = string([]rune(reason)[:max-1]) + "…"
	}
	return v + ": " + reason
}

// measured renders a figure: the median, and the range when the runs differ.
func measured(vals []float64, unit string) string {
	med := median(vals)
	_, u := scaled(med, unit)
	f := func(v float64) string { return formatNum(v * scaleOf(u) / scaleOf(unit)) }
	s := f(med) + " " + u
	lo, hi := slices.Min(vals), slices.Max(vals)
	if len(vals) > 1 && f(lo) != f(hi) {
		s += fmt.Sprintf(" (%s–%s over %d runs)", f(lo), f(hi), len(vals))
	}
	return s
}

// Time units per operation, in nanoseconds; scaled writes ns/op in the largest that keeps v ≥ 1.
var timeUnits = []struct {
	unit string
	ns   float64
}{{"s/op", 1e9}, {"ms/op", 1e6}, {"µs/op", 1e3}, {"ns/op", 1}}

// scaled returns v in a readable unit: ns/op becomes µs/op, ms/op or s/op from 1,000 of each up. Other
// units are returned as they are.
func scaled(v float64, unit string) (float64, string) {
	if unit != "ns/op" {
		return v, unit
	}
	for _, t := range timeUnits {
		if math.Abs(v) >= t.ns {
			return v / t.ns, t.unit
		}
	}
	return v, unit
}

// scaleOf returns how many of a unit one of the scaled unit is worth (1 for units that do not scale).
func scaleOf(unit string) float64 {
	for _, t := range timeUnits {
		if t.unit == unit {
			return 1 / t.ns
		}
	}
	return 1
}

func median(vals []float64) float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// formatNum writes v with three significant digits, and whole numbers from 1,000 up with thousands
// separators: 93.7, 0.00123, 1.07, 850, 26,412.
func formatNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64) // three significant digits
	if math.Abs(r) >= 1000 {
		return groupThousands(strconv.FormatFloat(math.Round(v), 'f', 0, 64))
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

func groupThousands(digits string) string {
	sign := ""
	if strings.HasPrefix(digits, "-") {
		sign, digits = "-", digits[1:]
	}
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}

func shortName(name string) string {
	if s := strings.TrimPrefix(name, "Benchmark"); s != "" {
		return s
	}
	return name
}

func relPkg(pkg string) string {
	switch {
	case pkg == "":
		return "?"
	case pkg == ModulePath:
		return "."
	}
	return strings.TrimPrefix(pkg, ModulePath+"/")
}

// Render writes rows as a Markdown table with aligned columns.
func Render(w io.Writer, rows []Row) error {
	header := Row{"figure", "measured", "budget", "anchor", "verdict"}
	cells := func(r Row) []string {
		return []string{esc(r.Figure), esc(r.Measured), esc(r.Budget), esc(r.Anchor), esc(r.Verdict)}
	}
	width := make([]int, 5)
	all := append([]Row{header}, rows...)
	for _, r := range all {
		for i, c := range cells(r) {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	line := func(cs []string) {
		b.WriteString("|")
		for i, c := range cs {
			b.WriteString(" " + c + strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)) + " |")
		}
		b.WriteString("\n")
	}
	line(cells(header))
	sep := make([]string, 5)
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range rows {
		line(cells(r))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func esc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Tally counts the budget rows (the first n rows) by verdict: within, missed, not run (including failed
// and skipped), figure only or small run.
func Tally(rows []Row, n int) (within, missed, notRun, other int) {
	for _, r := range rows[:min(n, len(rows))] {
		switch {
		case strings.HasPrefix(r.Verdict, VerdictWithin):
			within++
		case strings.HasPrefix(r.Verdict, VerdictMissed):
			missed++
		case strings.HasPrefix(r.Verdict, VerdictNotRun), strings.HasPrefix(r.Verdict, VerdictFailed),
			strings.HasPrefix(r.Verdict, VerdictSkipped):
			notRun++
		default:
			other++
		}
	}
	return
}
