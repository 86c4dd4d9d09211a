package db_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
)

// TestParseTime covers the forms a time argument may take and the ones it
// refuses, with what the refusal says.
func TestParseTime(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want time.Time
		err  string // a part of the refusal; "" when accepted
	}{
		{in: "2026-11-27T09:30:00Z", want: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)},
		{in: "2026-11-27T09:30:00.123456789Z", want: time.Date(2026, 11, 27, 9, 30, 0, 123456789, time.UTC)},
		{in: "2026-11-27T09:30:00-06:00", want: time.Date(2026, 11, 27, 15, 30, 0, 0, time.UTC)},
		{in: "2026-11-27", want: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)},
		{in: "1900-01-01", want: db.MinTime},
		{in: "2026-02-30", err: `"2026-02-30" is neither an RFC 3339 time`},
		{in: "2026-11-27T09:30", err: "nor a date such as 2026-11-27"},
		{in: "27.11.2026", err: `"27.11.2026" is neither`},
		{in: "", err: `"" is neither`},
		{in: "1899-12-31", err: "outside the years 1900 to 2999"},
		{in: "3000-01-01", err: "outside the years 1900 to 2999"},
		{in: "2999-12-31T23:59:59-01:00", err: "outside the years 1900 to 2999"},
		{in: strings.Repeat("9", 500), err: "(500 characters)"},
	}
	for _, tc := range cases {
		got, err := db.ParseTime(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, "%q", tc.in)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		require.True(t, tc.want.Equal(got), "%q: got %s, want %s", tc.in, got, tc.want)
	}
}
