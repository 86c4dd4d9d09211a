package seed

import (
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/kivalogic/helpscout-log/db"
)

// duration is how long a call took, in milliseconds.
func (g *generator) duration(o *op, status db.EventStatus, e errorInfo) int64 {
	logNormal := func(median, sigma float64, lo, hi int64) int64 {
		d := int64(median * math.Exp(g.rng.NormFloat64()*sigma))
		return min(max(d, lo), hi)
	}
	if status == db.StatusFailed {
		switch e.code {
		case db.CodeTimeout:
			return 30000 + g.rng.Int64N(40)
		case db.CodeRateLimited:
			return logNormal(95, 0.25, 80, 200)
		case db.CodeHelpScoutUnavailable:
			return logNormal(420, 0.5, 120, 900)
		case db.CodeAuthenticationFailed:
			return logNormal(110, 0.3, 80, 300)
		}
		if o.source == db.SourceWebhook {
			return logNormal(90, 0.2, 80, 200)
		}
		return logNormal(180, 0.4, 80, 600)
	}
	switch o.typ {
	case db.EventTicketCreated:
		return logNormal(340, 0.35, 120, 900)
	case db.EventCustomerSynced:
		return logNormal(260, 0.35, 90, 900)
	case db.EventCustomerUpdated:
		return logNormal(210, 0.35, 80, 900)
	case db.EventConversationSynced:
		if o.kind == convRead {
			return logNormal(170, 0.35, 80, 700)
		}
		return logNormal(280, 0.35, 100, 900)
	}
	return logNormal(110, 0.3, 80, 300) // processing a webhook
}

// details renders what was sent or received.
func (g *generator) details(o *op, status db.EventStatus, e errorInfo, conv int32) []byte {
	j := &g.json
	j.reset()
	switch o.typ {
	case db.EventTicketCreated:
		j.str("request", "POST /v2/conversations")
		j.str("formId", forms[o.form].id)
		j.int("mailboxId", o.mailbox)
		j.str("subject", o.subject)
		j.str("message", ticketMessage(o.subject))
		j.str("type", "email")
		j.str("status", "active")
		j.strs("tags", []string{"web-form"})
	case db.EventCustomerSynced, db.EventCustomerUpdated:
		c := &g.customers[o.cust]
		if o.typ == db.EventCustomerSynced {
			j.str("request", "POST /v2/customers")
		} else {
			j.str("request", "PATCH /v2/customers/"+strconv.FormatInt(c.hsID, 10))
		}
		j.key("fields")
		j.b = append(j.b, '[')
		first := true
		for i, f := range customerFields {
			if o.fields&(1<<i) != 0 {
				if !first {
					j.b = append(j.b, ',')
				}
				first = false
				j.b = appendJSONString(j.b, f)
			}
		}
		j.b = append(j.b, ']')
		if o.source == db.SourceBatch {
			j.str("batchId", o.ref)
		}
		if status == db.StatusSuccess && o.typ == db.EventCustomerSynced {
			j.int("customerId", c.hsID)
		}
	case db.EventConversationSynced:
		cv := &g.convs[conv]
		id := strconv.FormatInt(cv.id, 10)
		if o.kind == convRead {
			j.str("request", "GET /v2/conversations/"+id)
			if status == db.StatusSuccess {
				j.str("status", strings.ToLower(string(cv.status)))
				j.int("threads", 1+g.rng.Int64N(8))
			}
		} else {
			j.str("request", "POST /v2/conversations/"+id+"/customer")
			j.str("formId", forms[o.form].id)
			j.str("thread", "customer")
		}
	case db.EventConversationUpdated:
		switch o.kind {
		case whAssigned:
			j.str("event", "convo.assigned")
			j.str("assignee", agents[o.param])
		case whAgentReply:
			j.str("event", "convo.agent.reply.created")
			j.str("agent", agents[o.param])
			j.str("status", "pending")
		case whCustomerReply:
			j.str("event", "convo.customer.reply.created")
			j.str("status", "active")
		case whClosed:
			j.str("event", "convo.status")
			j.str("status", "closed")
			j.str("by", agents[o.param])
		case whSpam:
			j.str("event", "convo.status")
			j.str("status", "spam")
			j.str("by", agents[o.param])
		case whReopened:
			j.str("event", "convo.status")
			j.str("status", "active")
			j.str("by", agents[o.param])
		case whNote:
			j.str("event", "convo.note.created")
			j.str("agent", agents[o.param])
		case whTags:
			j.str("event", "convo.tags")
			j.strs("tags", []string{tags[o.param]})
		}
	case db.EventError:
		switch e.code {
		case db.CodeAuthenticationFailed:
			j.str("operation", "token refresh")
			j.str("request", "POST /v2/oauth2/token")
			j.str("grantType", "client_credentials")
		case db.CodeRateLimited:
			j.str("operation", "rate-limit budget")
			j.int("limitPerMinute", 400)
			j.int("remainingMinute", 0)
			j.int("retryAfter", 1+g.rng.Int64N(59))
			j.int("queued", 20+g.rng.Int64N(300))
		default:
			j.str("operation", "health check")
			j.str("request", "GET /v2/mailboxes")
		}
	}
	if status == db.StatusFailed && e.status >= 400 && e.status != 401 && e.status != 429 {
		j.str("logRef", g.logRef())
	}
	return j.done()
}

// logRef is a HelpScout correlation id: a UUID and a sequence number.
func (g *generator) logRef() string {
	return g.webhookRef()[4:] + "#" + strconv.Itoa(1+g.rng.IntN(40))
}

// writeEvent leaves the COPY line of one event in g.row.
func (g *generator) writeEvent(id, t int64, o *op, status db.EventStatus, e errorInfo, conv int32, attempt int, retryOf int64) {
	r := &g.row
	r.reset()
	r.int(id)
	r.time(t)
	r.text(string(o.typ))
	r.text(string(status))
	r.text(string(o.dir))
	if o.cust >= 0 {
		r.text(g.customers[o.cust].email)
	} else {
		r.null()
	}
	if conv >= 0 {
		r.int(g.convs[conv].id)
		r.int(g.convs[conv].number)
	} else {
		r.null()
		r.null()
	}
	r.bytes(g.details(o, status, e, conv))
	if status == db.StatusFailed {
		r.text(string(e.code))
		r.text(e.msg)
		r.intOrNull(int64(e.status))
	} else {
		r.null()
		r.null()
		if status == db.StatusSuccess {
			r.intOrNull(successStatus(o))
		} else {
			r.null()
		}
	}
	if status == db.StatusPending {
		r.null()
	} else {
		r.int(g.duration(o, status, e))
	}
	r.int(int64(attempt))
	r.intOrNull(retryOf)
	r.text(string(o.source))
	r.text(o.ref)
	r.text(o.actor)
	r.end()
}

// successStatus is the HTTP status HelpScout answers a successful call
// with; zero for webhooks, which HelpScout sends to us.
func successStatus(o *op) int64 {
	switch o.typ {
	case db.EventTicketCreated, db.EventCustomerSynced:
		return 201
	case db.EventCustomerUpdated:
		return 204
	case db.EventConversationSynced:
		if o.kind == convRead {
			return 200
		}
		return 201
	}
	return 0
}

// writeConversations writes every conversation in COPY text format.
func (g *generator) writeConversations(w io.Writer) error {
	r := &g.row
	for i := range g.convs {
		cv := &g.convs[i]
		r.reset()
		r.int(cv.id)
		r.int(cv.number)
		r.text(cv.subject)
		r.text(string(cv.status))
		r.int(mailboxes[cv.mailbox].id)
		r.text(mailboxes[cv.mailbox].name)
		if cv.assignee >= 0 {
			r.text(agents[cv.assignee])
		} else {
			r.null()
		}
		r.text(g.customers[cv.cust].email)
		r.time(cv.created)
		r.time(cv.updated)
		if cv.firstReply != 0 {
			r.time(cv.firstReply)
		} else {
			r.null()
		}
		r.end()
		if _, err := w.Write(r.b); err != nil {
			return err
		}
	}
	return nil
}

// writeCustomers writes every customer in COPY text format.
func (g *generator) writeCustomers(w io.Writer) error {
	r := &g.row
	for i := range g.customers {
		c := &g.customers[i]
		if c.existing {
			continue // updated after the copy
		}
		r.reset()
		r.text(c.email)
		r.text(c.name)
		r.intOrNull(c.hsID)
		r.time(c.firstSync)
		r.time(c.lastSync)
		r.text(string(c.lastStatus))
		r.text(string(c.lastErr.code))
		r.text(c.lastErr.msg)
		r.time(c.lastEvent)
		r.end()
		if _, err := w.Write(r.b); err != nil {
			return err
		}
	}
	return nil
}

// ticketMessages are the bodies of seeded contact forms.
var ticketMessages = []string{
	"Hello, could you please look into this for me? Thank you.",
	"Hi, I tried twice already and it still does not work. Please help.",
	"Good morning, I am waiting for an answer about this. Kind regards.",
	"Hello support team, please get back to me as soon as you can.",
}

// ticketMessage is the seeded form message for a subject: chosen by the
// subject, so that seeding draws no extra random numbers.
func ticketMessage(subject string) string {
	return ticketMessages[len(subject)%len(ticketMessages)] + " (" + subject + ")"
}
