package bench

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/app"
	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/seed"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// TestRunPrintsEveryQuery runs the benchmark briefly on a small seeded
// database: every query must succeed both ways and appear in the table,
// once per concurrency and GOMAXPROCS, so a schema change that breaks a
// benchmark query fails here first. The process's GOMAXPROCS is restored,
// and the CPU profile is written after every query was profiled.
func TestRunPrintsEveryQuery(t *testing.T) {
	dsn, bdb := dbtest.NewDSN(t)
	ctx := context.Background()
	_, err := seed.Run(ctx, bdb, seed.Options{Events: 5000, Days: 3, Now: time.Now(), Seed: 7})
	require.NoError(t, err)
	u, err := url.Parse(dsn)
	require.NoError(t, err)

	var out bytes.Buffer
	cfg := &config.Config{DatabaseURL: dsn, DBMaxConns: 4, LogLevel: zerolog.Disabled, Introspection: true, ComplexityLimit: 50000}
	procs := runtime.GOMAXPROCS(0)
	profile := filepath.Join(t.TempDir(), "cpu.pprof")
	err = Run(ctx, cfg, Options{Database: strings.TrimPrefix(u.Path, "/"), Concurrency: []int{1, 2}, Procs: []int{1, procs + 1},
		Duration: 30 * time.Millisecond, CPUProfile: profile, Plain: true}, &out)
	require.NoError(t, err, out.String())
	require.Equal(t, procs, runtime.GOMAXPROCS(0), "GOMAXPROCS after the run")
	written, err := os.ReadFile(profile)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(written, []byte{0x1f, 0x8b}), "a gzipped pprof profile")

	progress, rest, found := strings.Cut(out.String(), "p99 ratio")
	require.True(t, found, "a table in:\n%s", out.String())
	table, targets, found := strings.Cut(rest, "\nTargets")
	require.True(t, found, "the targets below the table in:\n%s", out.String())
	for _, line := range []string{"p99 under 15.00 ms at concurrency 1: ", "p99 within 1.5× of the SQL at concurrency 1: ",
		"req/s at least 40% of the SQL's above concurrency 1: ", "30-day summary p99 under 50.00 ms: "} {
		require.Regexp(t, regexp.QuoteMeta(line)+`\d+ of \d+ cells`, targets)
	}
	cases, err := buildCases(ctx, newService(bdb))
	require.NoError(t, err)
	for _, c := range cases {
		require.Contains(t, progress, c.name+";", "profiling progress names each query")
		for _, conc := range []int{1, 2} {
			for _, p := range []int{1, procs + 1} {
				row := regexp.MustCompile(regexp.QuoteMeta(c.name) + fmt.Sprintf(`\s+%d\s+%d\s+[0-9.]+ ms`, conc, p))
				require.Regexp(t, row, table, "a row for %q at concurrency %d and GOMAXPROCS %d", c.name, conc, p)
			}
		}
		main, _, _ := strings.Cut(table, "Plain HTTP")
		require.Equal(t, 4, strings.Count(main, c.name), "rows for %q in:\n%s", c.name, main)
	}
	_, plain, found := strings.Cut(table, "Plain HTTP: the same store calls")
	require.True(t, found, "the plain handlers below the queries in:\n%s", out.String())
	plain, _, _ = strings.Cut(plain, "HTTP alone")
	for _, c := range cases {
		for _, conc := range []int{1, 2} {
			for _, p := range []int{1, procs + 1} {
				row := regexp.MustCompile(regexp.QuoteMeta(c.name) + fmt.Sprintf(`\s+%d\s+%d\s+[0-9.]+ ms\s+[0-9.]+ ms\s+\d+\s+[0-9.]+ ms\s+[0-9.]+ ms\s+\d+\s+[0-9.]+×`, conc, p))
				require.Regexp(t, row, plain, "a plain row for %q at concurrency %d and GOMAXPROCS %d", c.name, conc, p)
			}
		}
	}
	_, floor, found := strings.Cut(table, "HTTP alone: GET /healthz")
	require.True(t, found, "the HTTP floor below the queries in:\n%s", out.String())
	for _, conc := range []int{1, 2} {
		for _, p := range []int{1, procs + 1} {
			row := regexp.MustCompile(fmt.Sprintf(`(?m)^\s+%d\s+%d\s+[0-9.]+ ms\s+[0-9.]+ ms\s+\d+$`, conc, p))
			require.Regexp(t, row, floor, "a floor row at concurrency %d and GOMAXPROCS %d", conc, p)
		}
	}
}

// TestMeasurePairTakesTurns checks that the two sides alternate in
// slices, ABBA, each getting its share of the time, so that neither is
// measured alone in a quieter or busier spell of the machine.
func TestMeasurePairTakesTurns(t *testing.T) {
	tests := []struct {
		name     string
		d, slice time.Duration
		wantRuns int
		lastIsA  bool
	}{
		{name: "five slices", d: 100 * time.Millisecond, slice: 20 * time.Millisecond, wantRuns: 6, lastIsA: false},
		{name: "uneven last slice", d: 50 * time.Millisecond, slice: 20 * time.Millisecond, wantRuns: 4, lastIsA: false},
		{name: "four slices", d: 80 * time.Millisecond, slice: 20 * time.Millisecond, wantRuns: 5, lastIsA: true},
		{name: "one stretch each", d: 30 * time.Millisecond, slice: 0, wantRuns: 2, lastIsA: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu    sync.Mutex
				order []bool // true for a call of a
			)
			call := func(isA bool) func(context.Context) error {
				return func(context.Context) error {
					mu.Lock()
					order = append(order, isA)
					mu.Unlock()
					return nil
				}
			}
			a, b := call(true), call(false)
			ra, rb, err := measurePair(context.Background(), 1, tt.d, tt.slice, a, b)
			require.NoError(t, err)

			// The warm-up inside measurePair makes 5 calls of a, then 5 of b.
			require.Greater(t, len(order), 10)
			require.Equal(t, []bool{true, true, true, true, true, false, false, false, false, false}, order[:10])
			runs, last := 0, order[10]
			for i, isA := range order[10:] {
				if i == 0 || isA != last {
					runs++
				}
				last = isA
			}
			require.True(t, order[10], "a runs first")
			require.Equal(t, tt.wantRuns, runs, "alternations between the sides")
			require.Equal(t, tt.lastIsA, last)
			require.Positive(t, ra.rps)
			require.Positive(t, rb.rps)
			require.LessOrEqual(t, ra.p50, ra.p99)
			require.LessOrEqual(t, rb.p50, rb.p99)
		})
	}
}

func TestMeasurePairReportsTheFailingSide(t *testing.T) {
	boom := errors.New("boom")
	ok := func(context.Context) error { return nil }
	fail := func(context.Context) error { return boom }
	_, _, err := measurePair(context.Background(), 2, 10*time.Millisecond, 5*time.Millisecond, ok, fail)
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "over SQL")
	_, _, err = measurePair(context.Background(), 2, 10*time.Millisecond, 5*time.Millisecond, fail, ok)
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "over GraphQL")
}

// TestTableWritesEachRowAtOnce checks that a row reaches the output when it
// is written, not at the end of the run, and that the columns line up
// whatever the width of their cells, multi-byte characters included.
func TestTableWritesEachRowAtOnce(t *testing.T) {
	var out bytes.Buffer
	tbl := newTable(&out, []column{{"query", 12}, {"conc", 0}, {"p99 ratio", 0}})
	require.NoError(t, tbl.header())
	require.Equal(t, 1, strings.Count(out.String(), "\n"))
	require.NoError(t, tbl.row("find", "1", "1.70×"))
	require.Equal(t, 2, strings.Count(out.String(), "\n"), "the row is out before the next one is measured")
	require.NoError(t, tbl.row("sync errors", "16", "12.08×"))

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 3)
	for _, l := range lines[1:] {
		require.Equal(t, utf8.RuneCountInString(lines[0]), utf8.RuneCountInString(l), "line %q as wide as the header", l)
	}
	require.True(t, strings.HasSuffix(lines[1], " 1.70×"), lines[1])
	require.True(t, strings.HasPrefix(lines[2], "   sync errors"), lines[2])
}

// TestBenchFlags checks that bad lists of concurrencies or GOMAXPROCS
// values are refused with the flag named, before anything is created.
func TestBenchFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{args: []string{"-concurrency", "1,x"}, want: `-concurrency: "x" is not a positive integer`},
		{args: []string{"-concurrency", "0"}, want: `-concurrency: "0" is not a positive integer`},
		{args: []string{"-procs", "1,,2"}, want: `-procs: "" is not a positive integer`},
		{args: []string{"-procs", "-1"}, want: `-procs: "-1" is not a positive integer`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := Main(context.Background(), unreadEnv(t), tt.args, &out)
			require.EqualError(t, err, tt.want)
		})
	}
}

// unreadEnv is an environment that must not be read: a command refuses a
// bad command line, and answers -h, before it loads the configuration.
func unreadEnv(t *testing.T) func(string) string {
	return func(name string) string {
		t.Errorf("%s read before the command line was checked", name)
		return ""
	}
}

// TestBenchCommandLines: every benchmark command refuses a word left over
// after its flags (which would otherwise stop flag parsing and drop the
// flags after it) and flags it does not define, and answers -h with its
// usage, all before it reads the configuration.
func TestBenchCommandLines(t *testing.T) {
	commands := map[string]func(ctx context.Context, getenv func(string) string, args []string, out io.Writer) error{
		"bench": Main, "bench-sync": Sync, "bench-live": Live,
	}
	tests := []struct {
		command string
		args    []string
		want    string
		usage   bool
	}{
		{command: "bench", args: []string{"7", "-events", "3"},
			want: `bench: unexpected argument "7"; flags come as -name value (see bench -h)`},
		{command: "bench", args: []string{"-events", "3", "7"},
			want: `bench: unexpected argument "7"; flags come as -name value (see bench -h)`},
		{command: "bench", args: []string{"-keep", "false", "-events", "3"},
			want: `bench: unexpected argument "false"; a true-or-false flag takes its value as -keep=false (see bench -h)`},
		{command: "bench", args: []string{"-nope"}, want: "bench: flag provided but not defined: -nope", usage: true},
		{command: "bench", args: []string{"-events", "many"}, want: `bench: invalid value "many" for flag -events: parse error`, usage: true},
		{command: "bench-sync", args: []string{"400"},
			want: `bench-sync: unexpected argument "400"; flags come as -name value (see bench-sync -h)`},
		{command: "bench-sync", args: []string{"-limit"}, want: "bench-sync: flag needs an argument: -limit", usage: true},
		{command: "bench-live", args: []string{"-subscribers", "10", "extra"},
			want: `bench-live: unexpected argument "extra"; flags come as -name value (see bench-live -h)`},
		{command: "bench-live", args: []string{"--rate=x"}, want: `bench-live: invalid value "x" for flag -rate: parse error`, usage: true},
	}
	for _, tt := range tests {
		t.Run(tt.command+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := commands[tt.command](context.Background(), unreadEnv(t), tt.args, &out)
			require.EqualError(t, err, tt.want)
			require.Empty(t, out.String(), "nothing on stdout")
			var ue *app.UsageError
			require.ErrorAs(t, err, &ue)
			var usage bytes.Buffer
			ue.PrintUsage(&usage)
			if tt.usage {
				require.Contains(t, usage.String(), "usage: helpscout-log "+tt.command+" ")
			} else {
				require.Empty(t, usage.String(), "the error says where the usage is")
			}
		})
	}
	for name, command := range commands {
		t.Run(name+" -h", func(t *testing.T) {
			var out bytes.Buffer
			err := command(context.Background(), unreadEnv(t), []string{"-h"}, &out)
			require.ErrorIs(t, err, flag.ErrHelp)
			require.Contains(t, out.String(), "usage: helpscout-log "+name+" ")
			require.Contains(t, out.String(), "-duration")
		})
	}
}
