package seed

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
)

// Showcase customers have fixed addresses and a known story that every run
// (of at least MinShowcaseEvents events) writes into its period, placed
// relative to its end: the playground's examples and the README look them
// up, so that they find data in any demo database, the first start's as
// well as one topped up days later.
const (
	// ShowcaseEmail is Alice Smith: created in HelpScout three weeks
	// before the end of the period, a ticket nine days before, customer
	// updates (one, 19 hours before the end, failed on her phone number
	// and was retried by hand), and a contact form two hours before the
	// end that first hit the rate limit and became a ticket on its
	// automatic retry.
	ShowcaseEmail = "alice.smith@example.com"
	// ShowcaseFailedEmail is Bob Turner: a form six hours before the end
	// that became two tickets (a duplicate), and a form 40 minutes before
	// the end, but always on the end's UTC day, that failed with
	// MISSING_REQUIRED_FIELD and was not retried.
	ShowcaseFailedEmail = "bob.turner@example.net"
	// MinShowcaseEvents is the smallest run that includes the showcase
	// customers' events.
	MinShowcaseEvents = 100
)

// ShowcaseEmails returns the addresses of the showcase customers.
func ShowcaseEmails() []string {
	out := make([]string, len(showcasePeople))
	for i, p := range showcasePeople {
		out[i] = p.email
	}
	return out
}

// showcasePerson is a showcase customer as first created.
type showcasePerson struct {
	email, name string
	ref         int64 // customer record id in our system
}

var showcasePeople = []showcasePerson{
	{ShowcaseEmail, "Alice Smith", 501},
	{ShowcaseFailedEmail, "Bob Turner", 502},
}

// showStep is one event of a showcase customer's story.
type showStep struct {
	person int
	// before is how long before the end of the period it happens.
	before time.Duration
	// today, when set, keeps the event within the end's UTC day: it then
	// happens at most half the time since midnight before the end.
	today bool
	// typ is TICKET_CREATED, or a customer sync: CUSTOMER_SYNCED while
	// the customer is not in HelpScout yet, else CUSTOMER_UPDATED.
	typ     db.EventType
	form    int8   // TICKET_CREATED: index into forms
	subject string // TICKET_CREATED
	fields  uint16 // customer sync: bit set of customerFields
	fail    errorInfo
	// of is the index of the step this one retries (retry) or creates a
	// ticket again for (dup); -1 for none.
	of     int
	retry  bool
	manual bool // a retry by an admin
	dup    bool
}

// Bits of customerFields.
const (
	fieldFirstName = 1 << 0
	fieldLastName  = 1 << 1
	fieldPhone     = 1 << 2
	fieldAddress   = 1 << 6
	fieldEmails    = 1 << 8
)

var showcaseScript = []showStep{
	// Alice Smith.
	{person: 0, before: 21 * 24 * time.Hour, typ: db.EventCustomerSynced, of: -1,
		fields: fieldFirstName | fieldLastName | fieldEmails | fieldPhone},
	{person: 0, before: 9*24*time.Hour + 3*time.Hour, typ: db.EventTicketCreated, of: -1,
		form: 0, subject: "Where is my order #48213?"},
	{person: 0, before: 3*24*time.Hour + 5*time.Hour, typ: db.EventCustomerUpdated, of: -1,
		fields: fieldAddress},
	{person: 0, before: 19 * time.Hour, typ: db.EventCustomerUpdated, of: -1,
		fields: fieldPhone, fail: errCustomerInvalid[2]},
	{person: 0, before: 17*time.Hour + 30*time.Minute, of: 3, retry: true, manual: true},
	{person: 0, before: 2*time.Hour + 5*time.Minute, typ: db.EventTicketCreated, of: -1,
		form: 4, subject: "Return label for order #48213", fail: errRateLimited},
	{person: 0, before: 2*time.Hour + 4*time.Minute + 20*time.Second, of: 5, retry: true},
	// Bob Turner.
	{person: 1, before: 6 * time.Hour, typ: db.EventTicketCreated, of: -1,
		form: 2, subject: "I was charged twice"},
	{person: 1, before: 6*time.Hour - 4*time.Second, of: 7, dup: true},
	{person: 1, before: 40 * time.Minute, today: true, typ: db.EventTicketCreated, of: -1,
		form: 2, subject: "Refund request for order #48977", fail: errTicketMissing[1]},
}

// showPlan is a step placed in the period.
type showPlan struct {
	at   int64
	step int
}

// showState is what the generator keeps about the showcase.
type showState struct {
	plan []showPlan
	next int
	// ops and ids are the operation and event id of each step once it
	// ran, for the steps that repeat it.
	ops      []op
	ids      []int64
	attempts []int
	existing int // showcase customers already in the database
}

// existingCustomer is a customer's stored state, read before a run.
type existingCustomer struct {
	email, name                    string
	hsID                           int64
	firstSync, lastSync, lastEvent int64
	statusAt                       int64
	lastStatus                     db.EventStatus
	lastErr                        errorInfo
}

// readShowcase reads the showcase customers that the database holds.
func readShowcase(ctx context.Context, conn queryer) (map[string]existingCustomer, error) {
	rows, err := conn.QueryContext(ctx, `SELECT c.email, coalesce(c.name, ''), coalesce(c.helpscout_id, 0),
		c.first_synced_at, c.last_synced_at, c.last_event_at,
		coalesce(c.last_sync_status, ''), coalesce(c.last_sync_error_code, ''), coalesce(c.last_sync_error, ''),
		(SELECT max(e.occurred_at) FROM sync_events e WHERE e.customer_email = c.email
			AND e.type IN ('TICKET_CREATED', 'CUSTOMER_SYNCED', 'CUSTOMER_UPDATED'))
		FROM customers c WHERE c.email IN (?)`, bun.In(ShowcaseEmails()))
	if err != nil {
		return nil, fmt.Errorf("error reading the showcase customers: %w", err)
	}
	defer rows.Close()
	out := map[string]existingCustomer{}
	for rows.Next() {
		var c existingCustomer
		var first, last, event, statusAt sql.NullTime
		var status, code string
		if err := rows.Scan(&c.email, &c.name, &c.hsID, &first, &last, &event, &status, &code, &c.lastErr.msg, &statusAt); err != nil {
			return nil, fmt.Errorf("error reading the showcase customers: %w", err)
		}
		micros := func(t sql.NullTime) int64 {
			if !t.Valid {
				return 0
			}
			return t.Time.UnixMicro()
		}
		c.firstSync, c.lastSync, c.lastEvent, c.statusAt = micros(first), micros(last), micros(event), micros(statusAt)
		c.lastStatus, c.lastErr.code = db.EventStatus(status), db.ErrorCode(code)
		out[c.email] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error reading the showcase customers: %w", err)
	}
	return out, nil
}

// queryer is what readShowcase needs of a connection.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// addShowcase adds the showcase customers first in g.customers, never
// picked at random, and places their steps in the period. Customers that
// the database holds continue from their stored state.
func (g *generator) addShowcase(existing map[string]existingCustomer) {
	for i, p := range showcasePeople {
		c := customer{email: p.email, name: p.name, ref: p.ref}
		if e, ok := existing[p.email]; ok {
			g.show.existing++
			c.existing = true
			if e.name != "" {
				c.name = e.name
			}
			c.hsID, c.firstSync, c.lastSync, c.lastEvent = e.hsID, e.firstSync, e.lastSync, e.lastEvent
			c.statusAt, c.lastStatus, c.lastErr = e.statusAt, e.lastStatus, e.lastErr
		}
		g.customers = append(g.customers, c)
		g.weights.add(i, 0)
	}
	g.show.ops = make([]op, len(showcaseScript))
	g.show.ids = make([]int64, len(showcaseScript))
	g.show.attempts = make([]int, len(showcaseScript))
	midnight := g.end - 1 - (g.end-1)%(24*hour)
	placed := make([]bool, len(showcaseScript))
	for i, s := range showcaseScript {
		before := s.before.Microseconds()
		if s.today {
			before = min(before, (g.end-midnight)/2)
		}
		at := g.end - 1 - before
		if at < g.start || s.of >= 0 && !placed[s.of] {
			continue
		}
		placed[i] = true
		g.show.plan = append(g.show.plan, showPlan{at: at, step: i})
	}
	slices.SortStableFunc(g.show.plan, func(a, b showPlan) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return 0
	})
}

// showcaseDue reports whether the slot at t goes to the next showcase
// step: when the step is due, or when the slots left are only enough for
// the steps left.
func (g *generator) showcaseDue(t int64) (due, forced bool) {
	left := len(g.show.plan) - g.show.next
	if left == 0 {
		return false, false
	}
	if g.total-g.stats.Events <= left {
		return true, true
	}
	return g.show.plan[g.show.next].at <= t, false
}

// runShowcase attempts the next showcase step, at its planned time or, if
// the previous event came later, at that event's time.
func (g *generator) runShowcase() {
	p := g.show.plan[g.show.next]
	g.show.next++
	s := &showcaseScript[p.step]
	at := max(p.at, g.last)
	a := &followUp{attempt: 1, scripted: true, forced: true, forcedErr: s.fail}
	var o op
	switch {
	case s.retry:
		o = g.show.ops[s.of]
		a.attempt = g.show.attempts[s.of] + 1
		a.retryOf = g.show.ids[s.of]
		a.prevErr = showcaseScript[s.of].fail
		if s.manual {
			a.manual = true
			o.source = db.SourceManual
			o.actor = admins[0]
		}
	case s.dup:
		o = g.show.ops[s.of]
		a.dup = true
		g.stats.Duplicates++
	default:
		o = op{typ: s.typ, dir: db.DirectionToHelpScout, cust: int32(s.person), conv: -1}
		c := &g.customers[s.person]
		if s.typ == db.EventTicketCreated {
			o.source = db.SourceContactForm
			o.form = s.form
			o.subject = s.subject
			o.mailbox = mailboxes[forms[s.form].mailbox].id
			o.ref = "form-" + strconv.FormatInt(g.nextForm, 10)
			g.nextForm++
		} else {
			o.typ = db.EventCustomerUpdated
			o.fields = s.fields
			if c.hsID == 0 {
				o.typ = db.EventCustomerSynced
				o.fields |= fieldFirstName | fieldLastName | fieldEmails
			}
			o.source = db.SourceCustomerUpdate
			o.ref = "cust-" + strconv.FormatInt(c.ref, 10)
		}
	}
	g.show.ids[p.step] = g.nextID
	g.show.attempts[p.step] = a.attempt
	g.attempt(&o, at, a)
	g.show.ops[p.step] = o
}

// newCustomers is the number of customers the run creates.
func (g *generator) newCustomers() int {
	return len(g.customers) - g.show.existing
}

// updateShowcase stores the final state of the showcase customers that
// existed before the run.
func (g *generator) updateShowcase(ctx context.Context, conn execer) error {
	if g.show.existing == 0 {
		return nil
	}
	ts := func(us int64) any {
		if us == 0 {
			return nil
		}
		return time.UnixMicro(us).UTC()
	}
	str := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	for i := range showcasePeople {
		c := &g.customers[i]
		if !c.existing {
			continue
		}
		var hsID any
		if c.hsID != 0 {
			hsID = c.hsID
		}
		_, err := conn.ExecContext(ctx, `UPDATE customers SET helpscout_id = ?, first_synced_at = ?, last_synced_at = ?,
			last_sync_status = ?, last_sync_error_code = ?, last_sync_error = ?, last_event_at = ? WHERE email = ?`,
			hsID, ts(c.firstSync), ts(c.lastSync), str(string(c.lastStatus)), str(string(c.lastErr.code)), str(c.lastErr.msg),
			ts(c.lastEvent), c.email)
		if err != nil {
			return fmt.Errorf("error updating the showcase customer %s: %w", c.email, err)
		}
	}
	return nil
}

// execer is what updateShowcase needs of a connection.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}
