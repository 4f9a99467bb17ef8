// Command benchtable reads `go test -bench` output and prints one table of every figure beside its
// budget (DESIGN.md's "Performance budgets") and its anchor (KubeEdge's figure for the same thing),
// with a verdict: within budget, missed by x %, no budget, or not run. `make bench` runs it on what the
// benchmarks printed.
//
//	go test -run '^$' -bench . -benchmem -count 3 ./... | go run ./hack/benchtable
//	go run ./hack/benchtable [-small] bench.txt [more.txt ...]
//
// The input may hold several packages, -count runs (the table shows the median and the range), -v
// output, custom metrics (b.ReportMetric units such as "p99-ms" or "msgs/s"), failed and skipped
// benchmarks, and any other lines, which are ignored. The budgets are a table in this program
// (budgets.go), one row per benchmark and unit; a budget whose benchmark is absent from the input is
// listed as "not run". Benchmarks without a budget are listed after the budgets, their figures only.
//
// The exit status is 0 when the table was printed (budgets missed included: the table is a report),
// 1 when an input could not be read, 2 for bad usage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchtable", flag.ContinueOnError)
	fs.SetOutput(stderr)
	small := fs.Bool("small", false, "the harness benchmarks ran at a small size: report full-size budgets (10,000 nodes) as informative")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: benchtable [-small] [file ...]   (standard input without files)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var in io.Reader = stdin
	if fs.NArg() > 0 {
		var readers []io.Reader
		for _, name := range fs.Args() {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintln(stderr, "benchtable:", err)
				return 1
			}
			defer f.Close()
			readers = append(readers, f, strings.NewReader("\n")) // in case a file does not end with one
		}
		in = io.MultiReader(readers...)
	}
	res, err := Parse(in)
	if err != nil {
		fmt.Fprintln(stderr, "benchtable: read:", err)
		return 1
	}
	budgets := Budgets()
	rows := Build(res, budgets, Options{Small: *small})
	if err := Render(stdout, rows); err != nil {
		fmt.Fprintln(stderr, "benchtable:", err)
		return 1
	}
	within, missed, notRun, other := Tally(rows, len(budgets))
	fmt.Fprintf(stdout, "\n%d budget rows: %d within budget, %d missed, %d not run, %d figure only or small run; %d benchmarks in %d packages\n",
		len(budgets), within, missed, notRun, other, len(res.Benches), res.BenchPkgs())
	return 0
}
