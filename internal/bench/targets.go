package bench

import (
	"fmt"
	"io"
	"time"
)

// The figures the benchmark is held to at 1,000,000 events (see the
// README): at concurrency 1 every query's p99 under targetP99 and within
// targetP99Ratio of its SQL; at higher concurrency at least targetRPSRatio
// of the SQL's requests/s; the 30-day summary's p99 under targetSummaryP99.
const (
	targetP99        = 15 * time.Millisecond
	targetP99Ratio   = 1.5
	targetRPSRatio   = 0.40
	targetSummaryP99 = 50 * time.Millisecond
)

// summaryCase names the 30-day summary among the cases.
const summaryCase = "summary, last 30 days"

// cell is one measured row of the table.
type cell struct {
	name        string
	conc, procs int
	gql, raw    result
}

// target is one line of the targets summary: the cells it applies to, and
// how a cell meets it and what a miss shows.
type target struct {
	what    string
	applies func(cell) bool
	meets   func(cell) bool
	miss    func(cell) string
}

// writeTargets prints, below the table, how many cells meet each target,
// naming the cells that miss it with their figures.
func writeTargets(out io.Writer, cells []cell) {
	ratio := func(c cell) float64 { return float64(c.gql.p99) / float64(c.raw.p99) }
	targets := []target{
		{what: fmt.Sprintf("p99 under %s at concurrency 1", ms(targetP99)),
			applies: func(c cell) bool { return c.conc == 1 },
			meets:   func(c cell) bool { return c.gql.p99 < targetP99 },
			miss:    func(c cell) string { return ms(c.gql.p99) }},
		{what: fmt.Sprintf("p99 within %.1f× of the SQL at concurrency 1", targetP99Ratio),
			applies: func(c cell) bool { return c.conc == 1 },
			meets:   func(c cell) bool { return ratio(c) <= targetP99Ratio },
			miss:    func(c cell) string { return fmt.Sprintf("%.2f×", ratio(c)) }},
		{what: fmt.Sprintf("req/s at least %.0f%% of the SQL's above concurrency 1", 100*targetRPSRatio),
			applies: func(c cell) bool { return c.conc > 1 },
			meets:   func(c cell) bool { return c.gql.rps >= targetRPSRatio*c.raw.rps },
			miss:    func(c cell) string { return fmt.Sprintf("%.0f%%", 100*c.gql.rps/c.raw.rps) }},
		{what: fmt.Sprintf("30-day summary p99 under %s", ms(targetSummaryP99)),
			applies: func(c cell) bool { return c.name == summaryCase },
			meets:   func(c cell) bool { return c.gql.p99 < targetSummaryP99 },
			miss:    func(c cell) string { return ms(c.gql.p99) + ", SQL alone " + ms(c.raw.p99) }},
	}
	fmt.Fprintf(out, "\nTargets (set for 1,000,000 events):\n")
	for _, t := range targets {
		n, met := 0, 0
		var misses []string
		for _, c := range cells {
			if !t.applies(c) {
				continue
			}
			n++
			if t.meets(c) {
				met++
				continue
			}
			misses = append(misses, fmt.Sprintf("%s at concurrency %d, procs %d: %s", c.name, c.conc, c.procs, t.miss(c)))
		}
		if n == 0 {
			continue
		}
		fmt.Fprintf(out, "  %s: %d of %d cells\n", t.what, met, n)
		for _, m := range misses {
			fmt.Fprintf(out, "    missed by %s\n", m)
		}
	}
}
