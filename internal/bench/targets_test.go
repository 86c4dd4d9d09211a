package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWriteTargets checks the summary below the table: each target counts
// only the cells it applies to, and names each miss with its figure.
func TestWriteTargets(t *testing.T) {
	msr := func(p99 time.Duration, rps float64) result { return result{p50: p99 / 2, p99: p99, rps: rps} }
	cells := []cell{
		{name: "find", conc: 1, procs: 1, gql: msr(300*time.Microsecond, 4000), raw: msr(250*time.Microsecond, 6000)},
		{name: "find", conc: 1, procs: 2, gql: msr(600*time.Microsecond, 3500), raw: msr(300*time.Microsecond, 6000)},
		{name: "find", conc: 16, procs: 1, gql: msr(4*time.Millisecond, 2000), raw: msr(3*time.Millisecond, 6000)},
		{name: "list", conc: 1, procs: 1, gql: msr(16*time.Millisecond, 60), raw: msr(12*time.Millisecond, 80)},
		{name: "list", conc: 16, procs: 1, gql: msr(40*time.Millisecond, 400), raw: msr(30*time.Millisecond, 1000)},
		{name: summaryCase, conc: 1, procs: 1, gql: msr(5*time.Millisecond, 300), raw: msr(4*time.Millisecond, 350)},
		{name: summaryCase, conc: 16, procs: 1, gql: msr(55*time.Millisecond, 600), raw: msr(52*time.Millisecond, 700)},
	}
	var out bytes.Buffer
	writeTargets(&out, cells)
	want := []string{
		"Targets (set for 1,000,000 events):",
		"  p99 under 15.00 ms at concurrency 1: 3 of 4 cells",
		"    missed by list at concurrency 1, procs 1: 16.00 ms",
		"  p99 within 1.5× of the SQL at concurrency 1: 3 of 4 cells",
		"    missed by find at concurrency 1, procs 2: 2.00×",
		"  req/s at least 40% of the SQL's above concurrency 1: 2 of 3 cells",
		"    missed by find at concurrency 16, procs 1: 33%",
		"  30-day summary p99 under 50.00 ms: 1 of 2 cells",
		"    missed by " + summaryCase + " at concurrency 16, procs 1: 55.00 ms, SQL alone 52.00 ms",
	}
	require.Equal(t, want, strings.Split(strings.TrimSpace(out.String()), "\n"))
}
