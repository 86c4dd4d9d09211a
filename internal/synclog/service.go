package synclog

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/pagination"
)

// Service answers the log's read queries.
type Service struct {
	DB            *bun.DB
	Events        *db.EventStore
	Rollups       *db.RollupStore
	Customers     *db.CustomerStore
	Conversations *db.ConversationStore
	Diag          *db.DiagnosticsStore
	// Now is the clock; tests may replace it.
	Now func() time.Time
	// Version is this build's version, for diagnostics.
	Version string
	// RetentionDays is how many days of events the log keeps, for
	// diagnostics; zero: every event.
	RetentionDays int
}

// New returns a service over bdb.
func New(bdb *bun.DB, version string) *Service {
	return &Service{
		DB:            bdb,
		Events:        db.NewEventStore(bdb),
		Rollups:       db.NewRollupStore(bdb),
		Customers:     db.NewCustomerStore(bdb),
		Conversations: db.NewConversationStore(bdb),
		Diag:          db.NewDiagnosticsStore(bdb),
		Now:           time.Now,
		Version:       version,
	}
}

// EventConnection is a page of sync events. Its total count is computed
// only when asked for.
type EventConnection struct {
	page[*db.SyncEvent]
	total
	// LiveCursor is the live feed's position just before the page was
	// read, encoded; nil when not asked for.
	LiveCursor *string
}

// EventEdge is one event with its cursor.
type EventEdge struct {
	Cursor string
	Node   *db.SyncEvent
}

func eventCursor(e *db.SyncEvent) string {
	return pagination.Encode(pagination.KindEvent, db.KeysetOf(e))
}

// Edges returns the page's events with their cursors.
func (c *EventConnection) Edges() []EventEdge {
	return edges(&c.page, func(cursor string, e *db.SyncEvent) EventEdge { return EventEdge{Cursor: cursor, Node: e} })
}

// SortDirection orders the event list.
type SortDirection string

// The directions.
const (
	SortAsc  SortDirection = "ASC"
	SortDesc SortDirection = "DESC"
)

// EventOrder is the event list's order.
type EventOrder struct {
	Direction SortDirection
}

// EventRead says which costly parts of each event a list reads.
type EventRead struct {
	// Details reads the events' details, the largest column of a row and the
	// costliest to decode; a reader that does not show them leaves them
	// unread.
	Details bool
}

// ListEvents returns a page of the events matching in, within the extra
// store conditions of scope (a customer, a conversation).
func (s *Service) ListEvents(ctx context.Context, in *FilterInput, scope db.EventFilter, args pagination.Args, order *EventOrder, read EventRead) (*EventConnection, error) {
	f, err := in.Resolve(s.Now(), "filter")
	if err != nil {
		return nil, err
	}
	f.CustomerEmail, f.ConversationID = scope.CustomerEmail, scope.ConversationID
	if err := s.ResolveSearch(ctx, &f); err != nil {
		return nil, err
	}
	desc := order == nil || order.Direction != SortAsc
	req, err := pagination.Resolve(pagination.KindEvent, args, desc)
	if err != nil {
		return nil, err
	}
	req.Page.OmitDetails = !read.Details
	events, more, err := s.Events.List(ctx, f, req.Page)
	if err != nil {
		return nil, err
	}
	return &EventConnection{
		page:  newPage(events, req, more, eventCursor),
		total: total{count: func(ctx context.Context) (int64, error) { return s.Rollups.Count(ctx, f) }},
	}, nil
}

// Event returns one event by its id, or nil when there is none.
func (s *Service) Event(ctx context.Context, id int64) (*db.SyncEvent, error) {
	e, err := s.Events.Get(ctx, id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	return e, err
}

// ParseID parses an id argument.
func ParseID(argument, id string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
	if err != nil || n <= 0 {
		return 0, apperr.BadInput(argument, "%s is not a valid id", apperr.Quote(id))
	}
	return n, nil
}

// Summary returns the summary dashboard of a period. The period comes from
// rng, or else from the filter's range, or else the last 24 hours.
func (s *Service) Summary(ctx context.Context, rng *TimeRangeInput, in *FilterInput, bucket *db.TimeBucket) (*db.Summary, error) {
	now := s.Now()
	if rng != nil && in.hasRange() {
		return nil, apperr.BadInput("range", "give the period in range or in filter, not both")
	}
	// The days of the period and of daily buckets begin at midnight in
	// the zone of range, or else of the filter.
	var zone *string
	zoneArg := "filter.timeZone"
	if in != nil {
		zone = in.TimeZone
	}
	if rng != nil && rng.TimeZone != nil && *rng.TimeZone != "" {
		if zone != nil && *zone != "" && *zone != *rng.TimeZone {
			return nil, apperr.BadInput("range.timeZone", "differs from filter.timeZone (%s): give the time zone once", apperr.Quote(*zone))
		}
		zone, zoneArg = rng.TimeZone, "range.timeZone"
	}
	loc, err := Location(zone, zoneArg)
	if err != nil {
		return nil, err
	}
	f, err := in.Resolve(now, "filter")
	if err != nil {
		return nil, err
	}
	if rng != nil {
		r := *rng
		r.TimeZone = zone
		from, to, _, err := r.resolve(now, "range")
		if err != nil {
			return nil, err
		}
		f.From, f.To = utc(from), utc(to)
	}
	// The period came from range or from the filter.
	prefix := "filter."
	if rng != nil {
		prefix = "range."
	}
	if f.From == nil && f.To == nil {
		from, to, _ := Last24Hours.Bounds(now)
		f.From, f.To = &from, &to
	}
	if f.From == nil {
		return nil, apperr.BadInput(prefix+"from", "a summary needs the start of its period")
	}
	if f.To == nil {
		t := now.UTC()
		if !f.From.Before(t) {
			return nil, apperr.BadInput(prefix+"from", "must be in the past when to is not given")
		}
		f.To = &t
	}
	span := f.To.Sub(*f.From)
	if span > MaxRange {
		return nil, apperr.BadInput("range", "the period spans %s; at most %d days are allowed", humanDays(span), int(MaxRange.Hours()/24))
	}
	b := db.BucketDay
	if span <= 72*time.Hour {
		b = db.BucketHour
	}
	if bucket != nil {
		b = *bucket
		if b == db.BucketHour && span > MaxHourlyRange {
			return nil, apperr.BadInput("bucket", "hourly buckets cover at most %d days; this period spans %s", int(MaxHourlyRange.Hours()/24), humanDays(span))
		}
	}
	if err := s.ResolveSearch(ctx, &f); err != nil {
		return nil, err
	}
	return s.Rollups.Summarize(ctx, f, b, loc)
}

// maxResolvedEmails is how many matching customer emails a search resolves
// into a list before the event query matches them by subquery instead.
const maxResolvedEmails = 100

// Beyond maxResolvedEmails, a search whose text is in directShare or more
// of shareSample events of its range matches each event's own email (see
// db.Search.Direct): counting through the customers' emails then costs
// up to four times as much as reading the range.
const (
	shareSample = 2000
	directShare = 0.2
)

// ResolveSearch looks up the customer emails a search text matches, so
// that the event queries compare with a short list. For a text in more
// emails than that, it samples the newest events of the range to choose
// how the events are matched (db.Search.Direct).
func (s *Service) ResolveSearch(ctx context.Context, f *db.EventFilter) error {
	if f.Search == nil || f.Search.Resolved || f.Search.Email == "" {
		return nil
	}
	emails, complete, err := s.Customers.MatchEmails(ctx, f.Search.Email, maxResolvedEmails)
	if err != nil {
		return err
	}
	if complete {
		f.Search.Emails, f.Search.Resolved = emails, true
		return nil
	}
	share, err := s.Events.SearchShare(ctx, *f, shareSample)
	if err != nil {
		return err
	}
	f.Search.Direct = share >= directShare
	return nil
}
