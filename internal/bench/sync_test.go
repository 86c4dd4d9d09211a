package bench

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/config"
)

// TestRunSyncIntake runs the intake half briefly: both measurements
// succeed, appear in the table, and the GraphQL one queued jobs.
func TestRunSyncIntake(t *testing.T) {
	dsn, bdb := dbtest.NewDSN(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	ctx := context.Background()
	var out bytes.Buffer
	cfg := &config.Config{DatabaseURL: dsn, DBMaxConns: 4, LogLevel: zerolog.Disabled, ComplexityLimit: 5000}
	err = RunSync(ctx, cfg, SyncOptions{Database: strings.TrimPrefix(u.Path, "/"), SkipSync: true, Limit: 400,
		Replicas: 1, Workers: 1, Concurrency: 2, IntakeDuration: 100 * time.Millisecond}, &out)
	require.NoError(t, err, out.String())
	for _, want := range []string{"submitContactForm (GraphQL)", "INSERT INTO sync_events (SQL)", "GraphQL / SQL"} {
		require.Contains(t, out.String(), want)
	}
	jobs, err := bdb.NewSelect().Table("sync_jobs").Count(ctx)
	require.NoError(t, err)
	require.Positive(t, jobs)
}

// TestSyncFlags rejects settings that cannot measure anything.
func TestSyncFlags(t *testing.T) {
	cases := [][]string{
		{"-limit", "1"},
		{"-replicas", "0"},
		{"-duration", "1m"},
	}
	for _, args := range cases {
		var out bytes.Buffer
		err := Sync(context.Background(), func(string) string { return "" }, args, &out)
		require.Error(t, err, "%v", args)
	}
}
