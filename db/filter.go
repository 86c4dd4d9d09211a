package db

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/internal/apperr"
)

// MinTime and MaxTime bound the times the log takes in filters and
// arguments (MinTime <= t < MaxTime): far beyond any event, and within the
// four-digit years of RFC 3339 in every zone.
var (
	MinTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// CheckTime says why t is outside MinTime to MaxTime, or returns nil.
func CheckTime(t time.Time) error {
	if t.Before(MinTime) || !t.Before(MaxTime) {
		return fmt.Errorf("%s is outside the years %d to %d", t.Format(time.RFC3339), MinTime.Year(), MaxTime.Year()-1)
	}
	return nil
}

// dateLayout is a calendar date, which a time argument may be.
const dateLayout = "2006-01-02"

// ParseTime reads a time argument: RFC 3339 (2026-11-27T09:30:00Z), or a
// date alone (2026-11-27), which means the start of that day in UTC. So a
// range from one date to the next is that whole day, its end excluded. It
// refuses a time outside MinTime to MaxTime. Its errors quote s and name
// no argument: the caller does.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d, derr := time.Parse(dateLayout, s)
		if derr != nil {
			return time.Time{}, fmt.Errorf("%s is neither an RFC 3339 time such as 2026-11-27T09:30:00Z nor a date such as 2026-11-27", apperr.Quote(s))
		}
		t = d
	}
	if err := CheckTime(t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// EventFilter selects sync events. Every set condition must hold; a slice
// matches any of its values. The time range is half-open: From <= t < To.
type EventFilter struct {
	// From is the earliest occurred_at, inclusive; nil means unbounded.
	From *time.Time
	// To is the latest occurred_at, exclusive; nil means unbounded.
	To *time.Time
	// Types, Statuses, Directions and ErrorCodes restrict those columns.
	Types      []EventType
	Statuses   []EventStatus
	Directions []Direction
	ErrorCodes []ErrorCode
	// Search is the one search box; see ParseSearch.
	Search *Search
	// CustomerEmail restricts to one customer, exactly.
	CustomerEmail *string
	// ConversationID restricts to one HelpScout conversation.
	ConversationID *int64
	// Sources restricts to events these sources started. The rollups do
	// not keep the source, so counts and summaries read the events.
	Sources []EventSource
}

// Search is a parsed search-box text.
type Search struct {
	// Email is matched as a case-insensitive substring of customer emails;
	// empty for a ticket number written with #.
	Email string
	// Number, when the text is a number, is matched against event ids,
	// HelpScout conversation ids and ticket numbers, or against ticket
	// numbers alone when TicketOnly.
	Number *int64
	// TicketOnly says the text was a ticket number written as HelpScout
	// shows it, with a leading #.
	TicketOnly bool
	// Emails, when Resolved, are the customer emails that contain Email,
	// looked up beforehand (see CustomerStore.MatchEmails) so that the
	// event query compares with a short list and can walk the email index
	// in order.
	Emails []string
	// Resolved says Emails is complete.
	Resolved bool
	// Direct, for a search not resolved, matches each event's own email
	// rather than going through the customers' emails: cheaper for lists
	// and counts when the text is in a large share of the events (see
	// EventStore.SearchShare), since counting them then reads most of the
	// range anyway. Summaries ignore it. Both match the same events.
	Direct bool
}

// ParseSearch turns a search-box text into a Search: surrounding spaces
// are dropped, the text is lower-cased for email matching, and a number
// also matches ids and ticket numbers. A number with a leading # (#1234,
// as HelpScout shows ticket numbers) matches ticket numbers only. An empty
// text gives nil.
func ParseSearch(text string) *Search {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	if digits, ok := strings.CutPrefix(text, "#"); ok {
		if n, err := strconv.ParseInt(digits, 10, 64); err == nil && n > 0 {
			return &Search{Number: &n, TicketOnly: true}
		}
	}
	s := &Search{Email: strings.ToLower(text)}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil && n > 0 {
		s.Number = &n
	}
	return s
}

// matches reports whether an event with these values is one the search
// finds, as the SQL condition (see addRecordConditions) decides.
func (s *Search) matches(email *string, id int64, conversationID, ticketNumber *int64) bool {
	if s.Email != "" && email != nil && strings.Contains(*email, s.Email) {
		return true
	}
	n := s.Number
	if n == nil {
		return false
	}
	if s.TicketOnly {
		return eqPtr(ticketNumber, *n)
	}
	return id == *n || eqPtr(conversationID, *n) || eqPtr(ticketNumber, *n)
}

// broad reports whether s matches customer emails that were not resolved
// into a list beforehand: too many of them (see Resolved).
func (s *Search) broad() bool { return s != nil && s.Email != "" && !s.Resolved }

// needsRawRows reports whether the filter has conditions that rollups do
// not carry, so that counts must come from the events themselves.
func (f EventFilter) needsRawRows() bool {
	return f.Search != nil || f.CustomerEmail != nil || f.ConversationID != nil || len(f.Sources) > 0
}

// likeEscaper escapes the wildcards of LIKE (and its escape character).
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// likePattern escapes s for a LIKE substring match.
func likePattern(s string) string {
	return "%" + likeEscaper.Replace(s) + "%"
}

// where collects SQL conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return "TRUE"
	}
	return strings.Join(w.conds, " AND ")
}

// addDimensions adds the conditions shared by events and rollups.
func (w *where) addDimensions(f EventFilter, errorCodeCol string) {
	if len(f.Types) > 0 {
		w.add("type IN (?)", bun.In(f.Types))
	}
	if len(f.Statuses) > 0 {
		w.add("status IN (?)", bun.In(f.Statuses))
	}
	if len(f.Directions) > 0 {
		w.add("direction IN (?)", bun.In(f.Directions))
	}
	if len(f.ErrorCodes) > 0 {
		w.add(errorCodeCol+" IN (?)", bun.In(f.ErrorCodes))
	}
}

// addRecordConditions adds the conditions only events carry.
func (w *where) addRecordConditions(f EventFilter) {
	if f.CustomerEmail != nil {
		w.add("customer_email = ?", strings.ToLower(*f.CustomerEmail))
	}
	if f.ConversationID != nil {
		w.add("conversation_id = ?", *f.ConversationID)
	}
	if len(f.Sources) > 0 {
		w.add("source IN (?)", bun.In(f.Sources))
	}
	w.addSearch(f.Search, false)
}

// addSearch adds the condition of a search, if any. A broad search (see
// Search.broad) is matched through the customers table and its trigram
// index, so that the events side stays an index lookup on customer_email,
// unless direct, when each event's email is matched itself: the cheaper
// test for rows that are read anyway. Both say the same, since every email
// of the log has its customer row.
func (w *where) addSearch(s *Search, direct bool) {
	if s == nil {
		return
	}
	var conds []string
	var args []any
	if s.Email != "" {
		switch {
		case !s.Resolved && (direct || s.Direct):
			conds = append(conds, "customer_email LIKE ?")
			args = append(args, likePattern(s.Email))
		case !s.Resolved:
			conds = append(conds, "customer_email = ANY(ARRAY(SELECT email FROM customers WHERE email LIKE ?))")
			args = append(args, likePattern(s.Email))
		case len(s.Emails) == 1:
			conds = append(conds, "customer_email = ?")
			args = append(args, s.Emails[0])
		case len(s.Emails) > 1:
			conds = append(conds, "customer_email IN (?)")
			args = append(args, bun.In(s.Emails))
		}
	}
	if n := s.Number; n != nil {
		if s.TicketOnly {
			conds = append(conds, "ticket_number = ?")
			args = append(args, *n)
		} else {
			conds = append(conds, "id = ?", "conversation_id = ?", "ticket_number = ?")
			args = append(args, *n, *n, *n)
		}
	}
	if len(conds) == 0 {
		w.add("FALSE")
	} else {
		w.add("("+strings.Join(conds, " OR ")+")", args...)
	}
}

// eventWhere builds the full condition on sync_events for f.
func eventWhere(f EventFilter) *where {
	w := &where{}
	if f.From != nil {
		w.add("occurred_at >= ?", *f.From)
	}
	if f.To != nil {
		w.add("occurred_at < ?", *f.To)
	}
	w.addDimensions(f, "error_code")
	w.addRecordConditions(f)
	return w
}
