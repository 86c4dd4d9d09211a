package seed

import (
	"container/heap"
	"context"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kivalogic/helpscout-log/db"
)

const (
	second = int64(time.Second / time.Microsecond)
	minute = 60 * second
	hour   = 60 * minute
)

// Base event mix, per mille. CUSTOMER_SYNCED creates a new customer; the
// other customer-related types pick an existing one.
const (
	mixTicket      = 315
	mixCustSynced  = 95
	mixCustUpdated = 315
	mixConvSynced  = 105
	mixConvUpdated = 160
	mixError       = 10
)

// Probabilities shaping the data.
const (
	pNewCustomerTicket = 0.08   // a ticket from an address we have not seen
	pBadEmail          = 0.003  // a new customer's address is malformed
	pGarbledName       = 0.005  // a new customer's name has broken encoding
	pDuplicate         = 0.002  // a successful ticket is created twice
	pAutoRetry         = 0.8    // a retryable failure is retried automatically
	pRetrySuccess      = 0.87   // an automatic retry succeeds
	pManualSuccess     = 0.9    // a manual retry succeeds
	pPendingBase       = 0.0008 // an old event is still pending
	pPendingRecent     = 0.3    // ... and a very recent one
	pBatchUpdate       = 0.7    // a customer update early in the hour comes from the hourly batch
	pAssignOnCreate    = 0.25   // a new conversation is assigned right away
	maxAutoAttempt     = 4
)

// customer is what the generator tracks about a customer; times are Unix
// microseconds, zero for none.
type customer struct {
	email      string
	name       string
	fixedName  string // the name once someone fixed its encoding
	badField   string // the name field whose encoding is broken
	ref        int64  // the customer record id in our system
	weight     float64
	hsID       int64
	firstSync  int64
	lastSync   int64
	lastEvent  int64
	lastStatus db.EventStatus
	lastErr    errorInfo
	statusAt   int64 // when lastStatus was set
	badEmail   bool
	garbled    bool // name has broken encoding until fixed by hand
	existing   bool // stored before the run (a showcase customer)
}

// conversation is what the generator tracks about a conversation.
type conversation struct {
	id, number int64
	subject    string
	status     db.ConversationStatus
	mailbox    int8
	assignee   int8 // index into agents, -1 for none
	cust       int32
	created    int64
	updated    int64
	firstReply int64 // the earliest agent reply, 0 for none
	openPos    int32 // position in generator.open, -1 when closed
}

// Sub-kinds of operations.
const (
	convRead  = 0 // CONVERSATION_SYNCED: batch read of a conversation
	convWrite = 1 // CONVERSATION_SYNCED: a follow-up form message added as a thread

	whAssigned      = 0
	whAgentReply    = 1
	whCustomerReply = 2
	whClosed        = 3
	whSpam          = 4
	whNote          = 5
	whTags          = 6
	whReopened      = 7
)

// namesMask selects firstName and lastName in op.fields.
const namesMask = 1<<0 | 1<<1

// op is one operation that an event attempts; retries repeat it.
type op struct {
	typ     db.EventType
	dir     db.Direction
	source  db.EventSource
	ref     string // source_ref
	actor   string
	cust    int32 // -1 for none
	conv    int32 // -1 for none
	kind    int8  // sub-kind, see above
	param   int8  // agent or tag of a webhook
	form    int8
	mailbox int64
	subject string
	fields  uint16 // bit set of customerFields
	errKind errorInfo
}

// followUp is an event scheduled for later: a retry or a duplicate.
type followUp struct {
	at      int64
	seq     int64
	op      op
	attempt int
	retryOf int64
	manual  bool
	dup     bool
	prevErr errorInfo
	// scripted attempts are a showcase step: their outcome is forced
	// (forcedErr, or success when it is zero) and they schedule nothing.
	scripted  bool
	forced    bool
	forcedErr errorInfo
}

type followUps []*followUp

func (h followUps) Len() int { return len(h) }
func (h followUps) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h followUps) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *followUps) Push(x any)   { *h = append(*h, x.(*followUp)) }
func (h *followUps) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}

// incident is a period when HelpScout or our configuration fails most calls.
type incident struct {
	from, to    int64
	err         errorInfo
	p           float64
	ticketsOnly bool
}

// bases are the first free identifiers, read from the database.
type bases struct {
	eventID, convID, number, helpscoutID, emailN, formN int64
	// showcase are the showcase customers the database holds, by email.
	showcase map[string]existingCustomer
}

// generator produces the events of one run as a stream, and remembers the
// customers and conversations they touched.
type generator struct {
	ctx      context.Context
	rng      *rand.Rand
	start    int64
	end      int64
	total    int
	progress func(done, total int)
	sched    *schedule

	nextID, nextConvID, nextNumber, nextHS, nextEmailN, nextForm int64

	customers []customer
	weights   fenwick
	convs     []conversation
	open      []int32

	incidents []incident
	follow    followUps
	seq       int64
	decay     float64 // time scale of recent pending events, microseconds
	last      int64   // time of the latest event written
	show      showState

	stats Stats

	row  row
	json jsonObj
}

func newGenerator(ctx context.Context, opts Options, b bases) *generator {
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x68656c7073636f75))
	// Instants are whole microseconds, as PostgreSQL stores them, in
	// [start, end): start is the first at or after Now-Days, end-1 the last
	// before Now.
	end := opts.Now.UnixMicro()
	if time.UnixMicro(end).Before(opts.Now) {
		end++
	}
	startT := opts.Now.Add(-time.Duration(opts.Days) * 24 * time.Hour)
	start := startT.UnixMicro()
	if time.UnixMicro(start).Before(startT) {
		start++
	}
	g := &generator{
		ctx:        ctx,
		rng:        rng,
		start:      start,
		end:        end,
		total:      opts.Events,
		progress:   opts.Progress,
		nextID:     b.eventID,
		nextConvID: b.convID,
		nextNumber: b.number,
		nextHS:     b.helpscoutID,
		nextEmailN: b.emailN,
		nextForm:   b.formN,
		decay:      float64(end-start) / 200,
	}
	g.sched = newSchedule(rng, start, end, opts.Events)
	g.incidents = g.makeIncidents(opts.Days)
	g.customers = make([]customer, 0, opts.Events/8+16)
	g.weights.init(opts.Events/8 + 16)
	g.convs = make([]conversation, 0, opts.Events/3+16)
	if opts.Events >= MinShowcaseEvents {
		g.addShowcase(b.showcase)
	}
	return g
}

// makeIncidents places about one incident every three days at
// random: expired credentials, a HelpScout outage, a rate-limit storm or a
// misconfigured mailbox.
func (g *generator) makeIncidents(days int) []incident {
	n := int(math.Round(float64(days) * 0.35))
	var out []incident
	for range n {
		var in incident
		var dur int64
		switch r := g.rng.IntN(100); {
		case r < 25:
			in.err, in.p, dur = errAuth, 0.95, 10*minute+g.rng.Int64N(30*minute)
		case r < 60:
			in.err, in.p, dur = errUnavailable, 0.6, 5*minute+g.rng.Int64N(25*minute)
		case r < 90:
			in.err, in.p, dur = errRateLimited, 0.4, 5*minute+g.rng.Int64N(15*minute)
		default:
			in.err, in.p, dur, in.ticketsOnly = errMailbox, 1, 15*minute+g.rng.Int64N(45*minute), true
		}
		in.from = g.start + g.rng.Int64N(g.end-g.start)
		in.to = in.from + dur
		out = append(out, in)
	}
	return out
}

// incidentAt returns the incident that affects o at t, if any.
func (g *generator) incidentAt(t int64, o *op) *incident {
	for i := range g.incidents {
		in := &g.incidents[i]
		if t >= in.from && t < in.to && (!in.ticketsOnly || o.typ == db.EventTicketCreated) {
			return in
		}
	}
	return nil
}

// writeEvents writes the next n events to w in COPY text format.
func (g *generator) writeEvents(w io.Writer, n int) error {
	for i := range n {
		if i%1024 == 0 {
			if err := g.ctx.Err(); err != nil {
				return err
			}
		}
		t, ok := g.sched.next()
		if !ok {
			break
		}
		// A follow-up that is due goes first, then a showcase step that
		// is due, so that times never go back; a showcase step goes first
		// when the slots left are only enough for the steps left.
		show, forced := g.showcaseDue(t)
		switch {
		case forced:
			g.runShowcase()
		case len(g.follow) > 0 && g.follow[0].at <= t:
			f := heap.Pop(&g.follow).(*followUp)
			g.runFollowUp(f)
		case show:
			g.runShowcase()
		default:
			g.runBase(t)
		}
		if _, err := w.Write(g.row.b); err != nil {
			return err
		}
		g.stats.Events++
		if g.progress != nil && (g.stats.Events%50_000 == 0 || g.stats.Events == g.total) {
			g.progress(g.stats.Events, g.total)
		}
	}
	return nil
}

// runBase creates a new operation at t and attempts it.
func (g *generator) runBase(t int64) {
	o := op{dir: db.DirectionToHelpScout, cust: -1, conv: -1}
	r := g.rng.IntN(1000)
	switch {
	case r < mixTicket:
		g.ticketOp(&o, t)
	case r < mixTicket+mixCustSynced:
		g.customerOp(&o, t, g.newCustomer(t))
	case r < mixTicket+mixCustSynced+mixCustUpdated:
		g.customerOp(&o, t, g.pickCustomer(t))
	case r < mixTicket+mixCustSynced+mixCustUpdated+mixConvSynced:
		if len(g.convs) == 0 {
			g.ticketOp(&o, t)
		} else {
			g.convSyncOp(&o, t)
		}
	case r < 1000-mixError:
		if len(g.convs) == 0 {
			g.ticketOp(&o, t)
		} else {
			g.webhookOp(&o, t)
		}
	default:
		g.errorOp(&o, t)
	}
	g.attempt(&o, t, &followUp{attempt: 1})
}

func (g *generator) runFollowUp(f *followUp) {
	if f.dup {
		g.stats.Duplicates++
	}
	g.attempt(&f.op, f.at, f)
}

func (g *generator) ticketOp(o *op, t int64) {
	o.typ = db.EventTicketCreated
	o.source = db.SourceContactForm
	if len(g.customers) == 0 || g.rng.Float64() < pNewCustomerTicket {
		o.cust = g.newCustomer(t)
	} else {
		o.cust = g.pickCustomer(t)
	}
	r := g.rng.IntN(totalFormWeight)
	for i, f := range forms {
		if r < f.weight {
			o.form = int8(i)
			break
		}
		r -= f.weight
	}
	f := forms[o.form]
	subj := f.subjects[g.rng.IntN(len(f.subjects))]
	if i := strings.Index(subj, "%d"); i >= 0 {
		var n int
		switch {
		case strings.Contains(subj, "#"):
			n = 40000 + g.rng.IntN(60000)
		case strings.Contains(subj, "INV-"):
			n = 202400 + g.rng.IntN(9000)
		case strings.HasPrefix(subj, "Error"):
			n = []int{403, 413, 500, 502}[g.rng.IntN(4)]
		default:
			n = 5 * (2 + g.rng.IntN(40))
		}
		subj = subj[:i] + strconv.Itoa(n) + subj[i+2:]
	}
	o.subject = subj
	o.mailbox = mailboxes[f.mailbox].id
	o.ref = "form-" + strconv.FormatInt(g.nextForm, 10)
	g.nextForm++
}

func (g *generator) customerOp(o *op, t int64, c int32) {
	o.cust = c
	cu := &g.customers[c]
	if cu.hsID == 0 {
		// Not in HelpScout yet: create rather than update.
		o.typ = db.EventCustomerSynced
		o.fields = 1<<0 | 1<<1 | 1<<8 // firstName, lastName, emails
		for i := 2; i < len(customerFields); i++ {
			if i != 8 && g.rng.IntN(3) == 0 {
				o.fields |= 1 << i
			}
		}
	} else {
		o.typ = db.EventCustomerUpdated
		for o.fields == 0 {
			for i := range customerFields {
				if g.rng.IntN(5) == 0 {
					o.fields |= 1 << i
				}
			}
		}
	}
	o.source = db.SourceCustomerUpdate
	o.ref = "cust-" + strconv.FormatInt(cu.ref, 10)
	if o.typ == db.EventCustomerUpdated && (t/minute)%60 < 10 && g.rng.Float64() < pBatchUpdate {
		o.source = db.SourceBatch
		o.ref = batchRef(t)
	}
}

func batchRef(t int64) string {
	return "batch-" + time.UnixMicro(t).UTC().Format("2006010215")
}

func (g *generator) convSyncOp(o *op, t int64) {
	o.typ = db.EventConversationSynced
	if g.rng.IntN(10) < 6 {
		o.kind = convRead
		o.dir = db.DirectionFromHelpScout
		o.source = db.SourceBatch
		o.ref = batchRef(t)
		if len(g.open) > 0 {
			o.conv = g.open[g.rng.IntN(len(g.open))]
		} else {
			o.conv = g.recentConversation(t)
		}
	} else {
		o.kind = convWrite
		o.source = db.SourceContactForm
		o.ref = "form-" + strconv.FormatInt(g.nextForm, 10)
		g.nextForm++
		o.conv = g.recentConversation(t)
		o.form = int8(g.rng.IntN(len(forms)))
	}
	o.cust = g.convs[o.conv].cust
}

// recentConversation picks a conversation, most likely one created in the
// last day or two.
func (g *generator) recentConversation(t int64) int32 {
	target := t - int64(g.rng.ExpFloat64()*float64(18*hour))
	lo, hi := 0, len(g.convs)
	for lo < hi { // first conversation created after target
		m := (lo + hi) / 2
		if g.convs[m].created <= target {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return int32(g.rng.IntN(len(g.convs)))
	}
	return int32(lo - 1)
}

func (g *generator) webhookOp(o *op, t int64) {
	o.typ = db.EventConversationUpdated
	o.dir = db.DirectionFromHelpScout
	o.source = db.SourceWebhook
	o.ref = g.webhookRef()
	// Some webhooks concern new conversations, most any open one, which
	// is usually older and about to be closed.
	if len(g.open) > 0 && g.rng.IntN(10) < 6 {
		o.conv = g.open[g.rng.IntN(len(g.open))]
	} else {
		o.conv = g.recentConversation(t)
	}
	cv := &g.convs[o.conv]
	o.cust = cv.cust
	old := t-cv.created > 24*hour
	r := g.rng.IntN(100)
	switch {
	case cv.status == db.ConversationActive && old:
		switch {
		case r < 65:
			o.kind = whClosed
		case r < 85:
			o.kind = whAgentReply
		case r < 93:
			o.kind = whNote
		default:
			o.kind = whTags
		}
	case cv.status == db.ConversationActive:
		switch {
		case cv.assignee < 0 && r < 60:
			o.kind = whAssigned
		case r < 55:
			o.kind = whAgentReply
		case r < 75:
			o.kind = whClosed
		case r < 85:
			o.kind = whNote
		case r < 99:
			o.kind = whTags
		default:
			o.kind = whSpam
		}
	case cv.status == db.ConversationPending:
		switch {
		case old && r < 75, r < 45:
			o.kind = whClosed
		case r < 95:
			o.kind = whCustomerReply
		default:
			o.kind = whNote
		}
	default:
		switch {
		case r < 60:
			o.kind = whCustomerReply
		case r < 75:
			o.kind = whReopened
		default:
			o.kind = whTags
		}
	}
	switch o.kind {
	case whTags:
		o.param = int8(g.rng.IntN(len(tags)))
	default:
		o.param = int8(g.rng.IntN(len(agents)))
		if cv.assignee >= 0 && g.rng.IntN(4) > 0 {
			o.param = cv.assignee
		}
	}
}

func (g *generator) webhookRef() string {
	var b [36]byte
	x, y := g.rng.Uint64(), g.rng.Uint64()
	j := 0
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b[j] = '-'
			j++
		}
		var nib uint64
		if i < 16 {
			nib = x >> (4 * i) & 0xf
		} else {
			nib = y >> (4 * (i - 16)) & 0xf
		}
		b[j] = hexDigits[nib]
		j++
	}
	return "whk-" + string(b[:])
}

func (g *generator) errorOp(o *op, t int64) {
	o.typ = db.EventError
	if in := g.incidentAt(t, o); in != nil {
		o.errKind = in.err
	} else {
		switch r := g.rng.IntN(100); {
		case r < 35:
			o.errKind = errRateLimited
		case r < 60:
			o.errKind = errTimeout
		case r < 85:
			o.errKind = errUnavailable
		default:
			o.errKind = errAuth
		}
	}
	switch r := g.rng.IntN(4); r {
	case 0, 1:
		o.source = db.SourceBatch
		o.ref = batchRef(t)
	case 2:
		o.source = db.SourceContactForm
	default:
		o.source = db.SourceCustomerUpdate
	}
}

// newCustomer creates a customer first seen at t.
func (g *generator) newCustomer(t int64) int32 {
	fn := firstNames[g.rng.IntN(len(firstNames))]
	ln := lastNames[g.rng.IntN(len(lastNames))]
	n := g.nextEmailN
	g.nextEmailN++
	local := fn.ascii + "." + ln.ascii + strconv.FormatInt(n, 10)
	dom := domains[g.rng.IntN(len(domains))]
	c := customer{
		name: fn.display + " " + ln.display,
		ref:  10000 + n,
		// Activity is heavy-tailed: most customers come back once or
		// twice, a few many times.
		weight: math.Min(math.Pow(1-g.rng.Float64(), -1/0.95), 1500),
	}
	switch {
	case g.rng.Float64() < pBadEmail:
		c.badEmail = true
		c.weight = 2
		switch g.rng.IntN(5) {
		case 0:
			c.email = local + "@" + dom[:strings.IndexByte(dom, '.')]
		case 1:
			c.email = local + "@@" + dom
		case 2:
			c.email = local + "@" + strings.Replace(dom, ".", "..", 1)
		case 3:
			c.email = local + "@" + dom + ","
		default:
			c.email = fn.ascii + " " + ln.ascii + strconv.FormatInt(n, 10) + "@" + dom
		}
	case g.rng.Float64() < pGarbledName:
		c.garbled = true
		c.weight = 2
		c.fixedName = c.name
		c.name, c.badField = garble(fn.display, ln.display, g.rng)
		c.email = local + "@" + dom
	default:
		c.email = local + "@" + dom
	}
	g.customers = append(g.customers, c)
	i := int32(len(g.customers) - 1)
	g.weights.add(int(i), c.weight)
	return i
}

// garble breaks the encoding of a name, and says which field it broke:
// UTF-8 read as Latin-1, or a replacement character where a letter was lost.
func garble(first, last string, rng *rand.Rand) (name, field string) {
	nonASCII := func(s string) bool { return strings.ContainsFunc(s, func(r rune) bool { return r >= utf8.RuneSelf }) }
	if nonASCII(first) || nonASCII(last) {
		var b strings.Builder
		for _, c := range []byte(first + " " + last) {
			b.WriteRune(rune(c))
		}
		if nonASCII(first) {
			return b.String(), "firstName"
		}
		return b.String(), "lastName"
	}
	var vowels []int
	for i := 0; i < len(first); i++ {
		if strings.IndexByte("aeiou", first[i]) >= 0 {
			vowels = append(vowels, i)
		}
	}
	if len(vowels) == 0 {
		return first + "\ufffd " + last, "firstName"
	}
	i := vowels[rng.IntN(len(vowels))]
	return first[:i] + "\ufffd" + first[i+1:] + " " + last, "firstName"
}

// pickCustomer picks an existing customer by activity, or creates one.
// Showcase customers weigh nothing, so they are never picked.
func (g *generator) pickCustomer(t int64) int32 {
	if g.weights.total == 0 {
		return g.newCustomer(t)
	}
	i := g.weights.find(g.rng.Float64() * g.weights.total)
	if i >= len(g.customers) {
		i = len(g.customers) - 1
	}
	return int32(i)
}

// pending is the chance that an event at t is still queued or in flight.
func (g *generator) pending(t int64) float64 {
	return pPendingBase + pPendingRecent*math.Exp(-float64(g.end-t)/g.decay)
}

// outcome decides how an attempt of o at t ends.
func (g *generator) outcome(o *op, t int64, a *followUp) (db.EventStatus, errorInfo) {
	manual, retry, prev := a.manual, a.retryOf != 0, a.prevErr
	if a.forced {
		if a.forcedErr.code != "" {
			return db.StatusFailed, a.forcedErr
		}
		return db.StatusSuccess, errorInfo{}
	}
	if o.typ == db.EventError {
		return db.StatusFailed, o.errKind
	}
	if a.dup {
		// The same submission went through twice.
		return db.StatusSuccess, errorInfo{}
	}
	apiCall := o.source != db.SourceWebhook
	if apiCall && o.dir == db.DirectionToHelpScout && g.rng.Float64() < g.pending(t) {
		return db.StatusPending, errorInfo{}
	}
	carriesCustomer := o.typ == db.EventTicketCreated || o.typ == db.EventCustomerSynced || o.typ == db.EventCustomerUpdated
	if o.cust >= 0 && carriesCustomer {
		c := &g.customers[o.cust]
		if c.badEmail {
			return db.StatusFailed, errInvalidEmail
		}
		// The broken name fails whatever sends it: creating the customer,
		// updating the name, or a ticket from a customer HelpScout does
		// not know yet.
		sendsName := o.typ == db.EventCustomerSynced || o.fields&namesMask != 0 ||
			o.typ == db.EventTicketCreated && c.hsID == 0
		if c.garbled && sendsName {
			if manual && g.rng.Float64() < pManualSuccess {
				c.garbled = false // someone fixed the name before retrying
				c.name = c.fixedName
			} else {
				return db.StatusFailed, errorInfo{db.CodeInvalidEncoding, 400, c.badField + ": value is not valid UTF-8 text"}
			}
		}
	}
	if apiCall {
		if in := g.incidentAt(t, o); in != nil && g.rng.Float64() < in.p {
			return db.StatusFailed, in.err
		}
	}
	if retry {
		p := pRetrySuccess
		if manual {
			p = pManualSuccess
		}
		if g.rng.Float64() < p {
			return db.StatusSuccess, errorInfo{}
		}
		if prev.retryable() || manual {
			return db.StatusFailed, prev
		}
	}
	r := g.rng.Float64()
	switch o.typ {
	case db.EventTicketCreated:
		if r < 0.026 {
			return db.StatusFailed, g.pickError(30, 15, 15, errTicketMissing, 20, errTicketInvalid, 14, errMailbox, 4)
		}
	case db.EventCustomerSynced:
		if r < 0.032 {
			return db.StatusFailed, g.pickError(30, 12, 12, errCustomerMissing, 20, errCustomerInvalid, 22, errorInfo{}, 0)
		}
	case db.EventCustomerUpdated:
		if o.source == db.SourceBatch && g.rng.Float64() < 0.04 {
			return db.StatusFailed, errRateLimited // the hourly batch bursts
		}
		if r < 0.027 {
			return db.StatusFailed, g.pickError(30, 12, 12, errCustomerMissing, 10, errCustomerInvalid, 18, errCustNotFound, 14)
		}
	case db.EventConversationSynced:
		if r < 0.03 {
			return db.StatusFailed, g.pickError(25, 20, 20, nil, 0, nil, 0, errConvNotFound, 35)
		}
	case db.EventConversationUpdated:
		if r < 0.004 {
			if g.rng.IntN(10) < 4 {
				return db.StatusFailed, errorInfo{db.CodeNotFound, 0, "conversation is not known to this integration"}
			}
			return db.StatusFailed, errWebhook[g.rng.IntN(len(errWebhook))]
		}
	}
	return db.StatusSuccess, errorInfo{}
}

// pickError draws a failure from weighted kinds; authentication failures
// make up what the weights leave to 100.
func (g *generator) pickError(rate, timeout, unavailable int, missing []errorInfo, wMissing int,
	invalid []errorInfo, wInvalid int, notFound errorInfo, wNotFound int) errorInfo {
	r := g.rng.IntN(100)
	switch {
	case r < rate:
		return errRateLimited
	case r < rate+timeout:
		return errTimeout
	case r < rate+timeout+unavailable:
		if g.rng.IntN(6) == 0 {
			return errUnavailable5
		}
		return errUnavailable
	}
	r -= rate + timeout + unavailable
	switch {
	case r < wMissing:
		return missing[g.rng.IntN(len(missing))]
	case r < wMissing+wInvalid:
		return invalid[g.rng.IntN(len(invalid))]
	case r < wMissing+wInvalid+wNotFound:
		return notFound
	}
	return errAuth
}

// attempt decides the outcome of o at t, applies it to customers and
// conversations, schedules follow-ups and leaves the event's COPY line in
// g.row.
func (g *generator) attempt(o *op, t int64, a *followUp) {
	id := g.nextID
	g.nextID++
	g.last = t
	attempt, retryOf := a.attempt, a.retryOf
	if retryOf != 0 {
		g.stats.Retries++
	}
	status, e := g.outcome(o, t, a)
	if o.typ == db.EventTicketCreated {
		o.mailbox = mailboxes[forms[o.form].mailbox].id
		if e.code == db.CodeMailboxNotFound {
			o.mailbox = badMailboxID // the misconfigured form is what failed
		}
	}
	switch status {
	case db.StatusFailed:
		g.stats.Failed++
	case db.StatusPending:
		g.stats.Pending++
	}
	conv := o.conv
	if status == db.StatusSuccess {
		conv = g.apply(o, t)
	}
	if o.cust >= 0 {
		c := &g.customers[o.cust]
		if t >= c.lastEvent {
			c.lastEvent = t
		}
		if o.typ == db.EventTicketCreated || o.typ == db.EventCustomerSynced || o.typ == db.EventCustomerUpdated {
			// Within a run events come in time order, but a customer
			// stored before the run may have a later state already. A
			// pending attempt leaves the status of the latest finished one,
			// as the sync does.
			if status != db.StatusPending && t >= c.statusAt {
				c.lastStatus, c.lastErr, c.statusAt = status, e, t
			}
			if status == db.StatusSuccess {
				if c.hsID == 0 {
					c.hsID = g.nextHS
					g.nextHS += 1 + g.rng.Int64N(25)
				}
				if c.firstSync == 0 || t < c.firstSync {
					c.firstSync = t
				}
				c.lastSync = max(c.lastSync, t)
			}
		}
	}
	g.writeEvent(id, t, o, status, e, conv, attempt, retryOf)

	switch {
	case a.scripted:
	case status == db.StatusSuccess && o.typ == db.EventTicketCreated && retryOf == 0 && !a.dup &&
		g.rng.Float64() < pDuplicate:
		g.schedule(&followUp{at: t + second + g.rng.Int64N(7*second), op: *o, attempt: 1, dup: true})
	case status == db.StatusFailed && o.typ != db.EventError && o.typ != db.EventConversationUpdated:
		g.scheduleRetry(o, t, attempt, id, e)
	}
}

func (g *generator) schedule(f *followUp) {
	if f.at >= g.end {
		return // would happen after Now
	}
	g.seq++
	f.seq = g.seq
	heap.Push(&g.follow, f)
}

func (g *generator) scheduleRetry(o *op, t int64, attempt int, id int64, e errorInfo) {
	f := &followUp{op: *o, attempt: attempt + 1, retryOf: id, prevErr: e}
	if e.retryable() && attempt < maxAutoAttempt && g.rng.Float64() < pAutoRetry {
		switch e.code {
		case db.CodeRateLimited: // X-RateLimit-Retry-After
			f.at = t + second + g.rng.Int64N(60*second)
		case db.CodeTimeout:
			f.at = t + 30*second<<(attempt-1) + g.rng.Int64N(10*second)
		default:
			f.at = t + minute<<attempt + g.rng.Int64N(minute)
		}
		g.schedule(f)
		return
	}
	var p float64
	switch e.code {
	case db.CodeMailboxNotFound:
		p = 0.5
	case db.CodeAuthenticationFailed, db.CodeInvalidEncoding, db.CodeRateLimited, db.CodeTimeout, db.CodeHelpScoutUnavailable:
		p = 0.4
	case db.CodeMissingRequiredField:
		p = 0.35
	case db.CodeValidationFailed:
		p = 0.3
	case db.CodeInvalidEmail:
		p = 0.1
	case db.CodeNotFound:
		p = 0.05
	}
	if g.rng.Float64() >= p {
		return
	}
	f.manual = true
	f.op.source = db.SourceManual
	f.op.actor = admins[g.rng.IntN(len(admins))]
	f.at = businessHours(t+15*minute+g.rng.Int64N(30*hour), g.rng)
	g.schedule(f)
}

// businessHours moves t into the next weekday 08:00-18:00 UTC, when admins
// work.
func businessHours(t int64, rng *rand.Rand) int64 {
	tt := time.UnixMicro(t).UTC()
	for {
		day := time.Date(tt.Year(), tt.Month(), tt.Day(), 0, 0, 0, 0, time.UTC)
		switch {
		case tt.Weekday() == time.Saturday || tt.Weekday() == time.Sunday || tt.Hour() >= 18:
			tt = day.Add(24*time.Hour + 8*time.Hour + time.Duration(rng.Int64N(int64(3*time.Hour))))
			continue
		case tt.Hour() < 8:
			tt = day.Add(8*time.Hour + time.Duration(rng.Int64N(int64(2*time.Hour))))
		}
		return tt.UnixMicro()
	}
}

// apply records the effect of a successful o at t on conversations, and
// returns the conversation the event refers to.
func (g *generator) apply(o *op, t int64) int32 {
	switch o.typ {
	case db.EventTicketCreated:
		cv := conversation{
			id:       g.nextConvID,
			number:   g.nextNumber,
			subject:  o.subject,
			status:   db.ConversationActive,
			mailbox:  int8(forms[o.form].mailbox),
			assignee: -1,
			cust:     o.cust,
			created:  t,
			updated:  t,
		}
		g.nextConvID += 1 + g.rng.Int64N(40)
		g.nextNumber++
		if g.rng.Float64() < pAssignOnCreate {
			cv.assignee = int8(g.rng.IntN(len(agents)))
		}
		cv.openPos = int32(len(g.open))
		g.convs = append(g.convs, cv)
		i := int32(len(g.convs) - 1)
		g.open = append(g.open, i)
		return i
	case db.EventConversationSynced:
		cv := &g.convs[o.conv]
		if o.kind == convWrite {
			g.setStatus(o.conv, db.ConversationActive)
		} else {
			age := t - cv.created
			r := g.rng.Float64()
			switch {
			case age > 24*hour && r < 0.7, age <= 24*hour && r < 0.2:
				g.setStatus(o.conv, db.ConversationClosed)
			case age > 24*hour && r < 0.8, age <= 24*hour && r < 0.5:
				g.setStatus(o.conv, db.ConversationPending)
			}
		}
		cv.updated = max(cv.updated, t)
	case db.EventConversationUpdated:
		cv := &g.convs[o.conv]
		switch o.kind {
		case whAssigned:
			cv.assignee = o.param
		case whAgentReply:
			cv.assignee = o.param
			if cv.firstReply == 0 || t < cv.firstReply {
				cv.firstReply = t
			}
			g.setStatus(o.conv, db.ConversationPending)
		case whCustomerReply, whReopened:
			g.setStatus(o.conv, db.ConversationActive)
		case whClosed:
			g.setStatus(o.conv, db.ConversationClosed)
		case whSpam:
			g.setStatus(o.conv, db.ConversationSpam)
		}
		cv.updated = max(cv.updated, t)
	}
	return o.conv
}

// setStatus changes a conversation's status and keeps the pool of open
// conversations current.
func (g *generator) setStatus(i int32, s db.ConversationStatus) {
	cv := &g.convs[i]
	cv.status = s
	isOpen := s == db.ConversationActive || s == db.ConversationPending
	switch {
	case isOpen && cv.openPos < 0:
		cv.openPos = int32(len(g.open))
		g.open = append(g.open, i)
	case !isOpen && cv.openPos >= 0:
		last := g.open[len(g.open)-1]
		g.open[cv.openPos] = last
		g.convs[last].openPos = cv.openPos
		g.open = g.open[:len(g.open)-1]
		cv.openPos = -1
	}
}
