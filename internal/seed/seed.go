// Package seed loads realistic demo and benchmark data into the HelpScout
// log: customers, HelpScout conversations and the sync events between them,
// including failures with HelpScout-like errors, retries linked to what they
// retried, duplicate tickets and events still pending. Every run of at least
// MinShowcaseEvents events also writes the story of a few showcase
// customers (ShowcaseEmail, ShowcaseFailedEmail) near the end of its period,
// continuing from what the database holds of them, so that fixed addresses
// find recent data in any demo database.
//
// Rows are generated as a stream and loaded with PostgreSQL's COPY, in
// chunks; events are never held in memory, customers and conversations are
// kept until the end, when their final state is known. A run appends to
// whatever the tables hold: event ids, conversation ids, ticket numbers and
// email addresses continue after the existing ones. A run is one
// transaction, so it loads all of its data or none.
//
// Maintaining the secondary indexes row by row costs most of a load. When
// sync_events holds fewer than twice as many rows as a run adds, the run
// drops the tables' non-unique indexes inside its transaction and builds
// them again before committing, which is several times faster; the tables
// are then locked against readers until the run commits. Otherwise they are
// locked against other writers only.
package seed

import (
	"bufio"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"
)

// Options say how much data to create and over which period.
type Options struct {
	// Events is the number of sync_events rows to create, retries and
	// duplicates included.
	Events int
	// Days is the length of the period, ending at Now, that the events
	// are spread over, from 1 to 3660.
	Days int
	// Now is the end of the period; every event occurs before it. Zero
	// means the current time.
	Now time.Time
	// Seed seeds the random generator: the same seed and options on the
	// same database state produce the same data.
	Seed int64
	// Progress, when set, is called about every 50,000 events and once at
	// the end of the events, with the number generated so far and the
	// total. It is called from the goroutine generating rows, never
	// concurrently.
	Progress func(done, total int)
}

// Stats describe what a run loaded.
type Stats struct {
	// Events is the number of sync events created.
	Events int
	// Customers is the number of customers created.
	Customers int
	// Conversations is the number of conversations created.
	Conversations int
	// Failed, Pending, Retries and Duplicates count the events that
	// failed, are still pending, retried an earlier failure, or created
	// a ticket a second time for the same form submission.
	Failed, Pending, Retries, Duplicates int
	// Elapsed is how long the run took.
	Elapsed time.Duration
}

// chunkRows is the number of events per COPY statement. The rollup trigger
// runs once per statement over the rows the statement inserted.
var chunkRows = 200_000

// Default identifiers for an empty database: HelpScout conversation ids
// are large, ticket numbers small.
const (
	firstConversationID = 861_100_000
	firstTicketNumber   = 1000
	firstHelpScoutID    = 412_300_000
	firstFormSubmission = 70_000
)

// Run generates opts.Events sync events with their customers and
// conversations and loads them into the database in one transaction, after
// whatever the tables hold. On error, including a cancelled ctx, nothing is
// loaded. It uses one connection of bdb for the whole run.
func Run(ctx context.Context, bdb *bun.DB, opts Options) (Stats, error) {
	began := time.Now()
	if opts.Events < 0 {
		return Stats{}, fmt.Errorf("invalid number of events %d", opts.Events)
	}
	if opts.Days < 1 || opts.Days > 3660 {
		return Stats{}, fmt.Errorf("invalid number of days %d: must be from 1 to 3660", opts.Days)
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	opts.Now = opts.Now.UTC()
	if opts.Events == 0 {
		return Stats{Elapsed: time.Since(began)}, nil
	}

	conn, err := bdb.Conn(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("error reserving a connection: %w", err)
	}
	stats, err := load(ctx, conn, opts)
	if err != nil {
		// The connection may be in the middle of a COPY or a transaction:
		// discard it, which makes the server roll back.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		_ = conn.Close()
		return Stats{}, err
	}
	if err := conn.Close(); err != nil {
		return Stats{}, fmt.Errorf("error releasing the connection: %w", err)
	}
	stats.Elapsed = time.Since(began)
	return stats, nil
}

// tables are the tables a run writes, in the order it locks them.
var tables = []string{"sync_events", "conversations", "customers"}

// load runs the whole load on conn, in a transaction that the caller
// abandons on error.
func load(ctx context.Context, conn bun.Conn, opts Options) (Stats, error) {
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return Stats{}, fmt.Errorf("error starting the transaction: %w", err)
	}
	// Rebuilding the indexes costs in proportion to the whole table,
	// maintaining them in proportion to the new rows, about three times
	// as much per row.
	var existing int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT FROM sync_events LIMIT ?) AS e",
		2*opts.Events).Scan(&existing); err != nil {
		return Stats{}, fmt.Errorf("error counting existing events: %w", err)
	}
	bulk := existing < 2*opts.Events
	// Keep other writers out until the commit, so that the identifiers
	// read below stay free; dropping indexes needs the tables to itself.
	mode := "SHARE ROW EXCLUSIVE"
	if bulk {
		mode = "ACCESS EXCLUSIVE"
	}
	if _, err := conn.ExecContext(ctx, "LOCK TABLE "+strings.Join(tables, ", ")+" IN "+mode+" MODE"); err != nil {
		return Stats{}, fmt.Errorf("error locking the tables: %w", err)
	}
	b, err := readBases(ctx, conn)
	if err != nil {
		return Stats{}, err
	}
	if b.showcase, err = readShowcase(ctx, conn); err != nil {
		return Stats{}, err
	}
	var rebuild []string
	if bulk {
		for _, table := range tables {
			defs, err := dropIndexes(ctx, conn, table)
			if err != nil {
				return Stats{}, err
			}
			rebuild = append(rebuild, defs...)
		}
	}
	// The triggers that keep ticket_repeats current look up each batch's
	// tickets through indexes that a bulk load has dropped, and through
	// statistics that do not know the rows of this transaction yet: the
	// load notes its tickets once, at the end, instead.
	if _, err := conn.ExecContext(ctx, "ALTER TABLE sync_events DISABLE TRIGGER ticket_repeats_insert, DISABLE TRIGGER ticket_repeats_update"); err != nil {
		return Stats{}, fmt.Errorf("error pausing the ticket repeat triggers: %w", err)
	}
	g := newGenerator(ctx, opts, b)

	for done := 0; done < opts.Events; {
		n := min(chunkRows, opts.Events-done)
		err := copyFrom(ctx, conn, `COPY sync_events (id, occurred_at, type, status, direction, customer_email,
			conversation_id, ticket_number, details, error_code, error_message, http_status, duration_ms,
			attempt, retry_of, source, source_ref, actor) FROM STDIN`,
			func(w io.Writer) error { return g.writeEvents(w, n) })
		if err != nil {
			return Stats{}, fmt.Errorf("error copying events %d to %d: %w", done+1, done+n, err)
		}
		done += n
	}
	if g.stats.Events != opts.Events {
		return Stats{}, fmt.Errorf("generated %d events instead of %d", g.stats.Events, opts.Events)
	}
	err = copyFrom(ctx, conn, `COPY conversations (id, number, subject, status, mailbox_id, mailbox_name,
		assignee, customer_email, created_at, updated_at, first_reply_at) FROM STDIN`, g.writeConversations)
	if err != nil {
		return Stats{}, fmt.Errorf("error copying conversations: %w", err)
	}
	err = copyFrom(ctx, conn, `COPY customers (email, name, helpscout_id, first_synced_at, last_synced_at,
		last_sync_status, last_sync_error_code, last_sync_error, last_event_at) FROM STDIN`, g.writeCustomers)
	if err != nil {
		return Stats{}, fmt.Errorf("error copying customers: %w", err)
	}
	if err := g.updateShowcase(ctx, conn); err != nil {
		return Stats{}, err
	}
	for _, def := range rebuild {
		if _, err := conn.ExecContext(ctx, def); err != nil {
			return Stats{}, fmt.Errorf("error rebuilding an index (%s): %w", def, err)
		}
	}
	if err := noteTicketRepeats(ctx, conn, b.eventID); err != nil {
		return Stats{}, err
	}
	// The ids were set explicitly; move the identity past them.
	if _, err := conn.ExecContext(ctx,
		"SELECT setval(pg_get_serial_sequence('sync_events', 'id'), (SELECT max(id) FROM sync_events))"); err != nil {
		return Stats{}, fmt.Errorf("error advancing the event id sequence: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return Stats{}, fmt.Errorf("error committing: %w", err)
	}
	st := g.stats
	st.Customers = g.newCustomers()
	st.Conversations = len(g.convs)
	return st, nil
}

// noteTicketRepeats records in ticket_repeats what the successful tickets
// loaded from event id first on repeat, with the statistics brought up to
// date first (ANALYZE in the transaction counts its own rows), and turns
// the triggers that keep it current back on.
func noteTicketRepeats(ctx context.Context, conn bun.Conn, first int64) error {
	if _, err := conn.ExecContext(ctx, "ANALYZE sync_events"); err != nil {
		return fmt.Errorf("error analysing the events: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT ticket_repeats_note(array(
		SELECT id FROM sync_events WHERE id >= ? AND type = 'TICKET_CREATED' AND status = 'SUCCESS'))`, first); err != nil {
		return fmt.Errorf("error noting repeated tickets: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "ALTER TABLE sync_events ENABLE TRIGGER ticket_repeats_insert, ENABLE TRIGGER ticket_repeats_update"); err != nil {
		return fmt.Errorf("error resuming the ticket repeat triggers: %w", err)
	}
	return nil
}

// dropIndexes drops the indexes of table that enforce no constraint, and
// returns the statements that create them again.
func dropIndexes(ctx context.Context, conn bun.Conn, table string) ([]string, error) {
	rows, err := conn.QueryContext(ctx, `SELECT format('DROP INDEX %I.%I', n.nspname, c.relname), pg_get_indexdef(i.indexrelid)
		FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE i.indrelid = ?::regclass AND i.indisvalid AND NOT i.indisunique AND NOT i.indisprimary
		  AND NOT i.indisexclusion AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)
		ORDER BY c.relname`, table)
	if err != nil {
		return nil, fmt.Errorf("error listing the indexes of %s: %w", table, err)
	}
	var drops, defs []string
	for rows.Next() {
		var drop, def string
		if err := rows.Scan(&drop, &def); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("error listing the indexes of %s: %w", table, err)
		}
		drops, defs = append(drops, drop), append(defs, def)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error listing the indexes of %s: %w", table, err)
	}
	for _, drop := range drops {
		if _, err := conn.ExecContext(ctx, drop); err != nil {
			return nil, fmt.Errorf("error dropping an index of %s: %w", table, err)
		}
	}
	return defs, nil
}

// readBases finds the first identifiers after the existing data.
func readBases(ctx context.Context, conn bun.Conn) (bases, error) {
	var b bases
	err := conn.QueryRowContext(ctx, `SELECT
		greatest((SELECT max(id) FROM sync_events),
			pg_sequence_last_value(pg_get_serial_sequence('sync_events', 'id')::regclass), 0) + 1,
		greatest((SELECT max(id) + 1 FROM conversations), ?),
		greatest((SELECT max(number) + 1 FROM conversations), ?),
		greatest((SELECT max(helpscout_id) + 1 FROM customers), ?),
		coalesce((SELECT max(substring(email FROM '([0-9]{1,15})@')::bigint) FROM customers), 0) + 1`,
		firstConversationID, firstTicketNumber, firstHelpScoutID,
	).Scan(&b.eventID, &b.convID, &b.number, &b.helpscoutID, &b.emailN)
	if err != nil {
		return b, fmt.Errorf("error reading the existing identifiers: %w", err)
	}
	// Form submission ids only need to differ from earlier runs'; each
	// run uses fewer of them than events.
	b.formN = firstFormSubmission + b.eventID - 1
	return b, nil
}

// errCopyEnded is what the generating goroutine sees when COPY stopped
// reading before it finished.
var errCopyEnded = errors.New("copy ended")

// copyFrom runs a COPY ... FROM STDIN statement on conn, fed by write
// running in its own goroutine through a pipe.
func copyFrom(ctx context.Context, conn bun.Conn, query string, write func(io.Writer) error) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(pw, 256<<10)
		err := write(bw)
		if err == nil {
			err = bw.Flush()
		}
		done <- err
		pw.CloseWithError(err) // nil: the reader sees io.EOF
	}()
	_, err := pgdriver.CopyFrom(ctx, conn, pr, query)
	pr.CloseWithError(errCopyEnded) // unblock the writer if COPY stopped early
	werr := <-done
	if werr != nil && !errors.Is(werr, errCopyEnded) {
		return werr // the generator's error explains the failed COPY
	}
	return err
}
