package db

import (
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

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
}

// Search is a parsed search-box text.
type Search struct {
	// Email is matched as a case-insensitive substring of customer emails.
	Email string
	// Number, when the text is a number, is matched against event ids,
	// HelpScout conversation ids and ticket numbers.
	Number *int64
	// Emails, when Resolved, are the customer emails that contain Email,
	// looked up beforehand (see CustomerStore.MatchEmails) so that the
	// event query compares with a short list and can walk the email index
	// in order.
	Emails []string
	// Resolved says Emails is complete.
	Resolved bool
}

// ParseSearch turns a search-box text into a Search: surrounding spaces
// are dropped, the text is lower-cased for email matching, and a number
// (with or without a leading #) also matches ids and ticket numbers. An
// empty text gives nil.
func ParseSearch(text string) *Search {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	s := &Search{Email: strings.ToLower(text)}
	digits := strings.TrimPrefix(text, "#")
	if n, err := strconv.ParseInt(digits, 10, 64); err == nil && n > 0 {
		s.Number = &n
		if digits != text {
			s.Email = strings.ToLower(digits)
		}
	}
	return s
}

// needsRawRows reports whether the filter has conditions that rollups do
// not carry, so that counts must come from the events themselves.
func (f EventFilter) needsRawRows() bool {
	return f.Search != nil || f.CustomerEmail != nil || f.ConversationID != nil
}

// likePattern escapes s for a LIKE substring match.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
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
	if s := f.Search; s != nil {
		// The email part goes through the small customers table (trigram
		// index) and comes back as an array, so that the events side stays
		// an index lookup on customer_email.
		emailCond, emailArgs := "customer_email = ANY(ARRAY(SELECT email FROM customers WHERE email LIKE ?))", []any{likePattern(s.Email)}
		if s.Resolved {
			switch len(s.Emails) {
			case 0:
				emailCond, emailArgs = "FALSE", nil
			case 1:
				emailCond, emailArgs = "customer_email = ?", []any{s.Emails[0]}
			default:
				emailCond, emailArgs = "customer_email IN (?)", []any{bun.In(s.Emails)}
			}
		}
		if s.Number == nil {
			w.add(emailCond, emailArgs...)
		} else {
			n := *s.Number
			w.add("("+emailCond+" OR id = ? OR conversation_id = ? OR ticket_number = ?)",
				append(emailArgs, n, n, n)...)
		}
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
