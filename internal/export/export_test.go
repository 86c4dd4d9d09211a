package export_test

import (
	"context"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
	"github.com/kivalogic/helpscout-log/internal/export"
	"github.com/kivalogic/helpscout-log/internal/seed"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// stopOnWrite is a response writer that closes stop when the first bytes
// reach it, as a shutdown that begins while an export streams.
type stopOnWrite struct {
	*httptest.ResponseRecorder
	stop chan struct{}
}

func (w *stopOnWrite) Write(p []byte) (int, error) {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	return w.ResponseRecorder.Write(p)
}

// TestWriteStopped: an export stopped by the shutdown ends its file with a
// row naming how many rows it wrote and the last event, so that nobody
// takes it for a complete export and the rest can be exported again.
func TestWriteStopped(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	_, err := seed.Run(ctx, bdb, seed.Options{Events: 3000, Days: 2, Now: time.Now(), Seed: 9})
	require.NoError(t, err)

	for _, desc := range []bool{true, false} {
		w := &stopOnWrite{ResponseRecorder: httptest.NewRecorder(), stop: make(chan struct{})}
		rows, err := export.Write(ctx, w, db.NewEventStore(bdb), db.EventFilter{}, desc, w.stop)
		require.ErrorIs(t, err, export.ErrStopped)
		require.Greater(t, rows, 0)
		require.Less(t, rows, 3000, "stopped before the end")

		lines := strings.Split(strings.TrimSpace(w.Body.String()), "\n")
		require.Len(t, lines, rows+2, "header, rows and the closing row")
		lastRow := strings.Split(lines[len(lines)-2], ",")
		require.Equal(t, "# export incomplete: the server shut down after "+strconv.Itoa(rows)+
			" rows; the last is event "+lastRow[1]+" at "+lastRow[0]+"; export again from there for the rest", lines[len(lines)-1])
	}

	// A stop before the first row leaves the response untouched.
	stopped := make(chan struct{})
	close(stopped)
	w := httptest.NewRecorder()
	rows, err := export.Write(ctx, w, db.NewEventStore(bdb), db.EventFilter{}, true, stopped)
	require.ErrorIs(t, err, export.ErrStopped)
	require.Zero(t, rows)
	require.Zero(t, w.Body.Len())
}
