package app

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/kivalogic/helpscout-log/internal/config"
)

// TestDriverMessagesInServiceLog: what pgdriver reports on its own (here
// the message it writes when the server ended the listening connection)
// reaches the service's log as a JSON line, not as plain text on stderr.
func TestDriverMessagesInServiceLog(t *testing.T) {
	var buf bytes.Buffer
	NewLogger(&config.Config{LogFormat: "json", LogLevel: zerolog.InfoLevel}, &buf)
	pgdriver.Logger.Printf(context.Background(), "bun: discarding bad listener connection: %s", "FATAL: terminating connection")
	var line map[string]any
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &line), "log: %s", buf.String())
	require.Equal(t, "warn", line["level"])
	require.Equal(t, "pgdriver", line["component"])
	require.Equal(t, "bun: discarding bad listener connection: FATAL: terminating connection", line["message"])
}
