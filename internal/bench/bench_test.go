package bench

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/seed"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// TestRunPrintsEveryQuery runs the benchmark briefly on a small seeded
// database: every query must succeed both ways and appear in the table,
// so a schema change that breaks a benchmark query fails here first.
func TestRunPrintsEveryQuery(t *testing.T) {
	dsn, bdb := dbtest.NewDSN(t)
	ctx := context.Background()
	_, err := seed.Run(ctx, bdb, seed.Options{Events: 5000, Days: 3, Now: time.Now(), Seed: 7})
	require.NoError(t, err)
	u, err := url.Parse(dsn)
	require.NoError(t, err)

	var out bytes.Buffer
	cfg := &config.Config{DatabaseURL: dsn, DBMaxConns: 4, LogLevel: zerolog.Disabled, Introspection: true, ComplexityLimit: 50000}
	err = Run(ctx, cfg, Options{Database: strings.TrimPrefix(u.Path, "/"), Concurrency: []int{1, 2}, Duration: 30 * time.Millisecond}, &out)
	require.NoError(t, err, out.String())

	cases, err := buildCases(ctx, newService(bdb))
	require.NoError(t, err)
	for _, c := range cases {
		require.Equal(t, 2, strings.Count(out.String(), c.name), "one row per concurrency for %q in:\n%s", c.name, out.String())
	}
	require.Contains(t, out.String(), "p99 ratio")
}
