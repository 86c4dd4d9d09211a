package app

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/internal/syncbuf"
)

// TestMigrationProgress: pending migrations are named before they run,
// then reported with the time they have taken at every interval, until
// they are done.
func TestMigrationProgress(t *testing.T) {
	var buf syncbuf.Buffer
	log := zerolog.New(&buf)
	pending := []string{"20261127000012"}
	stop := migrationProgress(log, pending, 5*time.Millisecond)

	lines := func() []map[string]any {
		var out []map[string]any
		sc := bufio.NewScanner(strings.NewReader(buf.String()))
		for sc.Scan() {
			var line map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "log: %s", buf.String())
			out = append(out, line)
		}
		return out
	}
	require.Eventually(t, func() bool { return len(lines()) >= 3 }, 10*time.Second, time.Millisecond, "log: %s", buf.String())
	stop()
	got := lines()
	require.Equal(t, "applying migrations", got[0]["message"])
	require.Equal(t, []any{"20261127000012"}, got[0]["pending"])
	for _, line := range got[1:] {
		require.Equal(t, "still applying migrations (or waiting for the replica that applies them)", line["message"])
		require.Equal(t, []any{"20261127000012"}, line["pending"])
		_, err := time.ParseDuration(line["elapsed"].(string))
		require.NoError(t, err, "elapsed: %v", line["elapsed"])
	}
}
