package synclog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
)

// Limits of the investigation queries.
const (
	// MaxDuplicateRange is the widest period duplicateTickets may scan.
	MaxDuplicateRange = 31 * 24 * time.Hour
	// DefaultDuplicateWindow is the default gap, in minutes, between
	// tickets of one SAME_EMAIL_AND_SUBJECT group.
	DefaultDuplicateWindow = 10
	// MaxDuplicateWindow is the widest such gap, in minutes (one day).
	MaxDuplicateWindow = 1440
	// DefaultDuplicateGroups is how many groups duplicateTickets returns by default.
	DefaultDuplicateGroups = 50
	// MaxDuplicateGroups is the most groups duplicateTickets returns.
	MaxDuplicateGroups = 200
	// DefaultInvestigationWindow is the default half-width, in minutes, of
	// a missing-ticket investigation window.
	DefaultInvestigationWindow = 120
	// MaxInvestigationWindow is the widest half-width, in minutes (7 days).
	MaxInvestigationWindow = 10080
	// MaxInvestigationEvents caps the events an investigation lists.
	MaxInvestigationEvents = 200
	// MaxEmailLength is the longest email address accepted, in characters.
	MaxEmailLength = 254
)

// DuplicateTickets returns groups of successful TICKET_CREATED events that
// look like one request turned into several tickets, newest last ticket
// first. The period comes from rng, or else the last 7 days.
func (s *Service) DuplicateTickets(ctx context.Context, rng *TimeRangeInput, windowMinutes, first *int) ([]*db.DuplicateGroup, error) {
	now := s.Now()
	from, to, _ := Last7Days.Bounds(now)
	if rng != nil {
		f, t, _, err := rng.resolve(now, "range")
		if err != nil {
			return nil, err
		}
		from = f.UTC()
		if t != nil {
			to = t.UTC()
		} else {
			to = now.UTC()
			if !from.Before(to) {
				return nil, apperr.BadInput("range.from", "must be in the past when to is not given")
			}
		}
	}
	if span := to.Sub(from); span > MaxDuplicateRange {
		return nil, apperr.BadInput("range", "the period spans %s; at most %d days are allowed", humanDays(span), int(MaxDuplicateRange.Hours()/24))
	}
	window, err := intArg("windowMinutes", windowMinutes, DefaultDuplicateWindow, 1, MaxDuplicateWindow)
	if err != nil {
		return nil, err
	}
	limit, err := intArg("first", first, DefaultDuplicateGroups, 1, MaxDuplicateGroups)
	if err != nil {
		return nil, err
	}
	return s.Events.DuplicateTickets(ctx, from, to, time.Duration(window)*time.Minute, limit)
}

// intArg returns the value of an optional integer argument, or def when it
// is not given, and checks that it lies in [lo, hi].
func intArg(argument string, v *int, def, lo, hi int) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v < lo || *v > hi {
		return 0, apperr.BadInput(argument, "must be from %d to %d, got %d", lo, hi, *v)
	}
	return *v, nil
}

// MissingTicketVerdict says what the log shows about a missing ticket.
type MissingTicketVerdict string

// The verdicts, as exposed through GraphQL.
const (
	// VerdictTicketCreated: a ticket was created successfully in the window.
	VerdictTicketCreated MissingTicketVerdict = "TICKET_CREATED"
	// VerdictSyncPending: the latest attempt is still queued or in flight.
	VerdictSyncPending MissingTicketVerdict = "SYNC_PENDING"
	// VerdictSyncFailed: the latest attempt failed.
	VerdictSyncFailed MissingTicketVerdict = "SYNC_FAILED"
	// VerdictNoLogEntry: the customer is known but no ticket was logged.
	VerdictNoLogEntry MissingTicketVerdict = "NO_LOG_ENTRY"
	// VerdictUnknownEmail: nothing at all is known about the email.
	VerdictUnknownEmail MissingTicketVerdict = "UNKNOWN_EMAIL"
)

// MissingTicketReport is what the log holds for an email around the time
// a customer says they submitted the contact form.
type MissingTicketReport struct {
	// Email is the investigated email, trimmed and lower-cased.
	Email string
	// From is the window's start, inclusive.
	From time.Time
	// To is the window's end, exclusive.
	To time.Time
	// Verdict is what the log shows.
	Verdict MissingTicketVerdict
	// Explanation says the verdict in words, with what to do next.
	Explanation string
	// Customer is the customer with this email, if any.
	Customer *db.Customer
	// Tickets are the TICKET_CREATED events in the window, oldest first.
	Tickets []*db.SyncEvent
	// Events are the events for the email in the window, oldest first: the
	// latest MaxInvestigationEvents of them.
	Events []*db.SyncEvent
}

// InvestigateMissingTicket reports what the log holds for email in
// [at - windowMinutes, at + windowMinutes) and gives a verdict.
func (s *Service) InvestigateMissingTicket(ctx context.Context, email string, at time.Time, windowMinutes *int) (*MissingTicketReport, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return nil, apperr.BadInput("email", "required")
	}
	if !utf8.ValidString(email) {
		return nil, apperr.BadInput("email", "not valid UTF-8")
	}
	if n := utf8.RuneCountInString(email); n > MaxEmailLength {
		return nil, apperr.BadInput("email", "at most %d characters, got %d", MaxEmailLength, n)
	}
	minutes, err := intArg("windowMinutes", windowMinutes, DefaultInvestigationWindow, 1, MaxInvestigationWindow)
	if err != nil {
		return nil, err
	}
	half := time.Duration(minutes) * time.Minute
	from, to := at.UTC().Add(-half), at.UTC().Add(half)
	if now := s.Now().UTC(); !from.Before(now) {
		// Nothing can have been logged yet: a verdict would only mislead.
		return nil, apperr.BadInput("at", "%s is in the future: the window %s to %s has not begun yet",
			at.UTC().Format(time.RFC3339), from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if s.RetentionDays > 0 {
		// Events before the horizon were deleted: an empty window there
		// says nothing about the submission.
		if horizon := s.Now().UTC().AddDate(0, 0, -s.RetentionDays); from.Before(horizon) {
			return nil, apperr.BadInput("at", "the window %s to %s begins before %s: the log keeps the last %d days (RETENTION_DAYS), so it cannot tell what happened then",
				from.Format(time.RFC3339), to.Format(time.RFC3339), horizon.Format(time.RFC3339), s.RetentionDays)
		}
	}
	rep := &MissingTicketReport{Email: email, From: from, To: to}

	c, err := s.Customers.GetByEmail(ctx, email)
	switch {
	case errors.Is(err, db.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		rep.Customer = c
	}
	window := db.EventFilter{CustomerEmail: &email, From: &from, To: &to}
	latest := db.Page{Limit: MaxInvestigationEvents, Desc: true}
	if rep.Events, _, err = s.Events.List(ctx, window, latest); err != nil {
		return nil, err
	}
	slices.Reverse(rep.Events)
	tickets := window
	tickets.Types = []db.EventType{db.EventTicketCreated}
	if rep.Tickets, _, err = s.Events.List(ctx, tickets, db.Page{Limit: MaxInvestigationEvents}); err != nil {
		return nil, err
	}
	// Without a ticket attempt the verdict rests on the window's other
	// attempts that did not succeed, read apart from the list, which a
	// busy customer's successes may fill.
	var unsettled []*db.SyncEvent
	if len(rep.Tickets) == 0 {
		failing := window
		failing.Statuses = []db.EventStatus{db.StatusFailed, db.StatusPending}
		if unsettled, _, err = s.Events.List(ctx, failing, latest); err != nil {
			return nil, err
		}
		slices.Reverse(unsettled)
	}
	known := rep.Customer != nil || len(rep.Events) > 0
	if !known {
		if known, err = s.Events.HasEmail(ctx, email); err != nil {
			return nil, err
		}
	}
	// A failed or pending attempt may have been retried since, perhaps
	// after the window: its operation ended as its latest retry did.
	var unfinished []int64
	for _, list := range [][]*db.SyncEvent{unsettled, rep.Tickets} {
		for _, e := range list {
			if e.Status != db.StatusSuccess {
				unfinished = append(unfinished, e.ID)
			}
		}
	}
	later, err := s.Events.LatestAttempts(ctx, unfinished)
	if err != nil {
		return nil, err
	}
	convs, err := s.ticketConversations(ctx, rep.Tickets, later)
	if err != nil {
		return nil, err
	}
	rep.Verdict, rep.Explanation = verdict(rep, unsettled, known, later, convs)
	return rep, nil
}

// ticketConversations returns the stored conversations that the tickets
// (or their later attempts) created, by id.
func (s *Service) ticketConversations(ctx context.Context, tickets []*db.SyncEvent, later map[int64]*db.SyncEvent) (map[int64]*db.Conversation, error) {
	var ids []int64
	for _, e := range tickets {
		if e.ConversationID != nil {
			ids = append(ids, *e.ConversationID)
		}
	}
	for _, e := range later {
		if e.ConversationID != nil {
			ids = append(ids, *e.ConversationID)
		}
	}
	out := map[int64]*db.Conversation{}
	if len(ids) == 0 {
		return out, nil
	}
	cs, err := s.Conversations.GetMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		out[c.ID] = c
	}
	return out, nil
}

// outcome is how one operation in the window ended: its latest attempt, and
// the attempt in the window it began with.
type outcome struct {
	first, last *db.SyncEvent
}

// outcomes reduces events (oldest first) to one outcome per operation: an
// event that was retried ends as its latest retry, and ticket attempts of
// one form submission are one operation, created when any attempt was. The
// result is ordered by the time of each outcome's latest attempt.
func outcomes(events []*db.SyncEvent, later map[int64]*db.SyncEvent) []outcome {
	var out []outcome
	bySubmission := map[string]int{}
	for _, e := range events {
		o := outcome{first: e, last: e}
		if r, ok := later[e.ID]; ok {
			o.last = r
		}
		if e.Type != db.EventTicketCreated || e.SourceRef == nil {
			out = append(out, o)
			continue
		}
		key := string(e.Source) + "\x00" + *e.SourceRef
		i, seen := bySubmission[key]
		if !seen {
			bySubmission[key] = len(out)
			out = append(out, o)
			continue
		}
		prev := out[i].last
		switch {
		case prev.Status == db.StatusSuccess && o.last.Status != db.StatusSuccess:
			// A created ticket stays the submission's outcome.
		case o.last.Status == db.StatusSuccess && prev.Status != db.StatusSuccess, laterThan(o.last, prev):
			out[i].last = o.last
		}
	}
	slices.SortStableFunc(out, func(a, b outcome) int {
		if laterThan(a.last, b.last) {
			return 1
		}
		if laterThan(b.last, a.last) {
			return -1
		}
		return 0
	})
	return out
}

// laterThan reports whether a comes after b in the log's order.
func laterThan(a, b *db.SyncEvent) bool {
	if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
		return c > 0
	}
	return a.ID > b.ID
}

// verdict decides what the report shows. Each ticket attempt in the window
// counts by how its submission ended, retries after the window included: a
// submission still pending or failed wins, since it is the ticket the
// customer misses, then a created ticket; without any ticket attempt, the
// latest unfinished or failed operation of the customer.
//
// unsettled are the window's failed and pending events, oldest first, read
// only when the window holds no ticket attempt.
func verdict(rep *MissingTicketReport, unsettled []*db.SyncEvent, known bool, later map[int64]*db.SyncEvent, convs map[int64]*db.Conversation) (MissingTicketVerdict, string) {
	span := fmt.Sprintf("between %s and %s", rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339))
	var created, open []outcome
	for _, o := range outcomes(rep.Tickets, later) {
		if o.last.Status == db.StatusSuccess {
			created = append(created, o)
		} else {
			open = append(open, o)
		}
	}
	if len(open) == 0 && len(created) > 0 {
		o := created[len(created)-1]
		msg := fmt.Sprintf("A ticket was created for %s at %s", rep.Email, o.last.OccurredAt.UTC().Format(time.RFC3339))
		if o.last.ID != o.first.ID && o.first.Status != db.StatusSuccess {
			msg += fmt.Sprintf(" by event %d, a retry of event %d", o.last.ID, o.first.ID)
		}
		msg += describeTicket(o.last) + "."
		if len(created) > 1 {
			msg += fmt.Sprintf(" %d tickets were created in the window; this is the latest.", len(created))
		}
		var cv *db.Conversation
		if id := o.last.ConversationID; id != nil {
			cv = convs[*id]
		}
		return VerdictTicketCreated, msg + ticketState(cv)
	}
	var others string
	if n := len(created); n > 0 {
		others = fmt.Sprintf(" %d other submission(s) in the window did become tickets, the latest at %s%s.",
			n, created[n-1].last.OccurredAt.UTC().Format(time.RFC3339), describeTicket(created[n-1].last))
	}
	if len(rep.Tickets) == 0 {
		for _, o := range outcomes(unsettled, later) {
			if o.last.Status != db.StatusSuccess {
				open = append(open, o)
			}
		}
	}
	if n := len(open); n > 0 {
		latest := open[n-1].last
		what := fmt.Sprintf("%s event %d at %s", latest.Type, latest.ID, latest.OccurredAt.UTC().Format(time.RFC3339))
		if latest.Status == db.StatusPending {
			return VerdictSyncPending, fmt.Sprintf("No ticket was created yet for %s %s: the latest attempt (%s) is still pending. Check again shortly; if it stays pending, look for HelpScout outages or rate limits.%s", rep.Email, span, what, others)
		}
		code, text := "UNKNOWN", "no message"
		if latest.ErrorCode != nil {
			code = string(*latest.ErrorCode)
		}
		if latest.ErrorMessage != nil && *latest.ErrorMessage != "" {
			text = *latest.ErrorMessage
		}
		next := "Fix the cause, then an Administrator can retry it (retrySync)"
		if latest.ErrorCode != nil && refusedData(*latest.ErrorCode) {
			next = "HelpScout refused the data: an Administrator can retry it with the refused values corrected (retrySync with corrections)"
		}
		return VerdictSyncFailed, fmt.Sprintf("The sync for %s %s failed: the latest attempt (%s) ended with %s: %s. %s, or create the ticket by hand (createTicket).%s", rep.Email, span, what, code, text, next, others)
	}
	if known {
		msg := fmt.Sprintf("No ticket creation was logged for %s %s.", rep.Email, span)
		if n := len(rep.Events); n > 0 {
			msg += fmt.Sprintf(" The %d other event(s) in the window succeeded, or their retries did.", n)
		}
		return VerdictNoLogEntry, msg + " The form submission probably failed before the HelpScout sync: check the website form submission logs, and create the ticket by hand if needed."
	}
	return VerdictUnknownEmail, fmt.Sprintf("No customer and no sync event have ever had the email %s. The customer may have used another address: ask which one, or search by name.", rep.Email)
}

// describeTicket names the HelpScout conversation and ticket of a
// successful TICKET_CREATED event, with its link.
func describeTicket(e *db.SyncEvent) string {
	var msg string
	if e.ConversationID != nil {
		msg += fmt.Sprintf(": HelpScout conversation %d", *e.ConversationID)
	}
	if e.TicketNumber != nil {
		msg += fmt.Sprintf(", ticket #%d", *e.TicketNumber)
	}
	if u := e.HelpScoutURL(); u != nil {
		msg += ", " + *u
	}
	return msg
}

// ticketState says what HelpScout's webhooks have reported of a created
// ticket's conversation since, and what to do; cv is nil when the log
// holds no row for it.
func ticketState(cv *db.Conversation) string {
	const check = " Check the mailbox and assignee in HelpScout; the ticket may have been filed, merged or marked as spam."
	switch {
	case cv == nil:
		return check
	case cv.DeletedAt != nil:
		return fmt.Sprintf(" HelpScout reported the conversation deleted at %s: restore it from HelpScout's trash, or create the ticket again (createTicket).",
			cv.DeletedAt.UTC().Format(time.RFC3339))
	case cv.Placeholder:
		// Only what our own create sent: no webhook about it yet.
		return check
	case cv.FirstReplyAt != nil:
		return fmt.Sprintf(" An agent first replied at %s; the conversation is %s in HelpScout.",
			cv.FirstReplyAt.UTC().Format(time.RFC3339), strings.ToLower(string(cv.Status)))
	case cv.Status == db.ConversationSpam:
		return " HelpScout marked it as spam, with no agent reply reported: if the customer is real, mark it as not spam in HelpScout and answer."
	case cv.Status == db.ConversationClosed:
		return " It is closed in HelpScout with no agent reply reported: check whether it was answered outside HelpScout or closed by mistake."
	case cv.Assignee != nil && *cv.Assignee != "":
		return fmt.Sprintf(" It is assigned to %s and %s in HelpScout, with no agent reply reported yet.", *cv.Assignee, strings.ToLower(string(cv.Status)))
	}
	return fmt.Sprintf(" It is %s and unassigned in HelpScout, with no agent reply reported yet: assign it and answer the customer.", strings.ToLower(string(cv.Status)))
}

// refusedData reports whether an error code means HelpScout refused the
// record itself, which a retry with corrections can fix.
func refusedData(code db.ErrorCode) bool {
	switch code {
	case db.CodeInvalidEmail, db.CodeMissingRequiredField, db.CodeValidationFailed, db.CodeInvalidEncoding:
		return true
	}
	return false
}
