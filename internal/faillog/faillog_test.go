package faillog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/internal/faillog"
)

// TestRun logs two runs of failures, each ended by a success, and a
// success without failures, and reads back the lines.
func TestRun(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	var r faillog.Run
	boom := errors.New("connection refused")

	r.Succeeded(&log).Msg("works again")
	for range 3 {
		r.Failed(&log, zerolog.ErrorLevel).Err(boom).Msg("polling failed")
	}
	require.Equal(t, 3, r.Failures())
	r.Succeeded(&log).Msg("works again")
	r.Succeeded(&log).Msg("works again")
	r.Failed(&log, zerolog.WarnLevel).Err(boom).Msg("polling failed")
	r.Succeeded(&log).Msg("works again")
	require.Zero(t, r.Failures())

	type line struct {
		Level    string   `json:"level"`
		Message  string   `json:"message"`
		Error    string   `json:"error"`
		Failures *int     `json:"failures"`
		After    *float64 `json:"after"`
	}
	var got []line
	for _, s := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var l line
		require.NoError(t, json.Unmarshal([]byte(s), &l), s)
		got = append(got, l)
	}
	n := func(v int) *int { return &v }
	want := []struct {
		level, message string
		failures       *int
		after          bool
	}{
		{"error", "polling failed", nil, false},
		{"debug", "polling failed", n(2), false},
		{"debug", "polling failed", n(3), false},
		{"info", "works again", n(3), true},
		{"warn", "polling failed", nil, false},
		{"info", "works again", n(1), true},
	}
	require.Len(t, got, len(want))
	for i, w := range want {
		require.Equal(t, w.level, got[i].Level, "line %d", i)
		require.Equal(t, w.message, got[i].Message, "line %d", i)
		require.Equal(t, w.failures, got[i].Failures, "line %d", i)
		require.Equal(t, w.after, got[i].After != nil, "line %d", i)
		if w.level != "info" {
			require.Equal(t, "connection refused", got[i].Error, "line %d", i)
		}
	}
}
