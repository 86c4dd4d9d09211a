package bench_test

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/internal/bench"
	"github.com/kivalogic/helpscout-log/internal/config"
)

// TestLive runs the subscription benchmark small and checks that every
// subscriber received every event. The test binary is its own client
// process (BENCH_LIVE_CLIENT_ARGS). BENCH_LIVE_SIZES (e.g. "100,10000")
// with BENCH_LIVE_DURATION runs the full benchmark instead.
func TestLive(t *testing.T) {
	if args := os.Getenv("BENCH_LIVE_CLIENT_ARGS"); args != "" {
		require.NoError(t, bench.Live(t.Context(), func(string) string { return "" }, strings.Fields(args), os.Stdout))
		return
	}
	opts := bench.LiveOptions{Sizes: []int{10, 40}, Rate: 20, Duration: time.Second, Protocol: "graphql-transport-ws",
		ClientCommand: func(args []string) *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^TestLive$", "-test.count=1")
			cmd.Env = append(os.Environ(), "BENCH_LIVE_CLIENT_ARGS="+strings.Join(args, " "))
			return cmd
		}}
	full := os.Getenv("BENCH_LIVE_SIZES") != ""
	if full {
		opts.Sizes = nil
		for _, s := range strings.Split(os.Getenv("BENCH_LIVE_SIZES"), ",") {
			n, err := strconv.Atoi(s)
			require.NoError(t, err)
			opts.Sizes = append(opts.Sizes, n)
		}
		d, err := time.ParseDuration(os.Getenv("BENCH_LIVE_DURATION"))
		require.NoError(t, err)
		opts.Duration, opts.Rate = d, 10
		if r := os.Getenv("BENCH_LIVE_RATE"); r != "" {
			opts.Rate, err = strconv.ParseFloat(r, 64)
			require.NoError(t, err)
		}
		if p := os.Getenv("BENCH_LIVE_PROTOCOL"); p != "" {
			opts.Protocol = p
		}
	}
	if path := os.Getenv("BENCH_LIVE_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		require.NoError(t, err)
		defer f.Close()
		require.NoError(t, pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	var out bytes.Buffer
	err := bench.RunLive(t.Context(), &config.Config{}, opts, &out)
	t.Log("\n" + out.String())
	require.NoError(t, err)
	if full {
		return
	}
	rows := regexp.MustCompile(`(?m)^\s+(\d+)\s+(\d+)\s+(\d+)/(\d+)\s`).FindAllStringSubmatch(out.String(), -1)
	require.Len(t, rows, 2, "one row per size")
	for _, r := range rows {
		require.Equal(t, r[4], r[3], "every subscriber received every event at %s subscribers", r[1])
	}
}
