package helpscoutsim

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// newConversation is a validated create request.
type newConversation struct {
	subject    string
	mailboxID  int64
	typ        string
	status     string
	customerID int64
	email      string
	first      string
	last       string
	threads    []Thread
	tags       []string
	createdAt  time.Time
	imported   bool
}

// handleCreateConversation is POST /v2/conversations.
func (s *Server) handleCreateConversation(w http.ResponseWriter, rq *request) {
	m, ok := decodeObject(w, rq)
	if !ok {
		return
	}
	var errs errList
	o := obj{m: m, errs: &errs}
	in := newConversation{}

	if subj, ok := o.str("subject"); !ok || strings.TrimSpace(subj) == "" {
		errs.add("subject", "may not be empty")
	} else {
		in.subject = subj
	}
	if id, ok := o.int("mailboxId"); !ok {
		if !o.has("mailboxId") {
			errs.add("mailboxId", "may not be empty")
		}
	} else if !s.hasMailbox(id) {
		errs.reject("mailboxId", "Invalid mailbox", id)
	} else {
		in.mailboxID = id
	}
	if t, ok := o.enum("type", "email", "chat", "phone"); ok {
		in.typ = t
	} else if !o.has("type") {
		errs.add("type", "may not be empty")
	}
	if st, ok := o.enum("status", "active", "closed", "pending"); ok {
		in.status = st
	} else if !o.has("status") {
		errs.add("status", "may not be empty")
	}
	if cust, ok := o.object("customer"); !ok {
		if !o.has("customer") {
			errs.add("customer", "may not be empty")
		}
	} else {
		if id, ok := cust.int("id"); ok {
			in.customerID = id
		}
		email, hasEmail := cust.str("email")
		switch {
		case in.customerID != 0:
		case !hasEmail || strings.TrimSpace(email) == "":
			errs.add("customer.email", "may not be empty")
		case !wellFormedEmail(email):
			errs.reject("customer.email", "Not well-formed email address", email)
		default:
			in.email = email
		}
		in.first, _ = cust.sized("firstName", 1, 40)
		in.last, _ = cust.sized("lastName", 1, 40)
	}
	threads, ok := o.array("threads")
	if !ok || len(threads) == 0 {
		if !o.has("threads") || ok {
			errs.add("threads", "may not be empty")
		}
	}
	for i, x := range threads {
		p := fmt.Sprintf("threads[%d]", i)
		tm, ok := x.(map[string]any)
		if !ok {
			errs.reject(p, "Invalid value, expected an object", x)
			continue
		}
		to := obj{m: tm, path: p, errs: &errs}
		th := Thread{}
		if t, ok := to.enum("type", "customer", "reply", "note", "phone", "chat"); ok {
			th.Type = t
		} else if !to.has("type") {
			errs.add(p+".type", "may not be empty")
		}
		if text, ok := to.str("text"); !ok || strings.TrimSpace(text) == "" {
			errs.add(p+".text", "may not be empty")
		} else {
			th.Text = text
		}
		if tc, ok := to.object("customer"); ok {
			if e, ok := tc.str("email"); ok && e != "" {
				if !wellFormedEmail(e) {
					errs.reject(p+".customer.email", "Not well-formed email address", e)
				}
				th.CustomerEmail = e
			}
		}
		in.threads = append(in.threads, th)
	}
	if tags, ok := o.array("tags"); ok {
		for i, t := range tags {
			ts, ok := t.(string)
			if !ok {
				errs.reject(fmt.Sprintf("tags[%d]", i), "Invalid value, expected a string", t)
				continue
			}
			in.tags = append(in.tags, ts)
		}
	}
	if ca, ok := o.str("createdAt"); ok {
		t, err := time.Parse(timeLayout, ca)
		if err != nil {
			errs.reject("createdAt", "Malformed date, expected format yyyy-MM-dd'T'HH:mm:ss'Z'", ca)
		} else {
			in.createdAt = t
		}
	}
	in.imported = o.boolean("imported")
	if len(errs) > 0 {
		writeBadRequest(w, rq.corr, errs)
		return
	}

	s.mu.Lock()
	c, errs := s.createConversationLocked(in)
	base := s.apiBase(rq.r)
	s.mu.Unlock()
	if len(errs) > 0 {
		writeBadRequest(w, rq.corr, errs)
		return
	}
	writeCreated(w, c.ID, fmt.Sprintf("%s/v2/conversations/%d", base, c.ID))
}

// createConversationLocked stores a conversation, finding or creating its
// customer; must be called with s.mu held.
func (s *Server) createConversationLocked(in newConversation) (*Conversation, errList) {
	now := s.now().UTC().Truncate(time.Second)
	var cust *Customer
	if in.customerID != 0 {
		cust = s.customers[in.customerID]
		if cust == nil {
			return nil, errList{{Path: "customer.id", Message: "Invalid customer id", RejectedValue: in.customerID, hasRejected: true}}
		}
	} else if cust = s.customerByEmailLocked(in.email); cust == nil {
		// An unknown email creates the customer; for a known one the other fields are ignored.
		cust = &Customer{ID: s.nextCust, FirstName: in.first, LastName: in.last, CreatedAt: now, UpdatedAt: now,
			Emails: []Entry{{ID: s.nextEntry, Type: "work", Value: in.email}}}
		s.nextCust++
		s.nextEntry++
		s.customers[cust.ID] = cust
	}
	email := in.email
	if email == "" && len(cust.Emails) > 0 {
		email = cust.Emails[0].Value
	}
	created := now
	if !in.createdAt.IsZero() {
		created = in.createdAt.UTC()
	}
	c := &Conversation{
		ID: s.nextConv, Number: s.nextNumber, Subject: in.subject, Status: in.status, Type: in.typ,
		MailboxID: in.mailboxID, CustomerID: cust.ID, CustomerEmail: email, Tags: in.tags,
		Imported: in.imported, CreatedAt: created, UpdatedAt: now,
	}
	if c.Status == "closed" {
		c.ClosedAt = now
	}
	for _, th := range in.threads {
		th.ID = s.nextThread
		s.nextThread++
		th.CreatedAt = created
		if th.Type == "customer" && th.CustomerEmail == "" {
			th.CustomerEmail = email
		}
		c.Threads = append(c.Threads, th)
	}
	s.nextConv++
	s.nextNumber++
	s.convs[c.ID] = c
	s.stats.conversationsCreated++
	return c, nil
}

func (s *Server) hasMailbox(id int64) bool {
	for _, mb := range s.mailboxes {
		if mb.ID == id {
			return true
		}
	}
	return false
}

// pathID reads the {id} path value; ok is false (and a 404 written) when it
// is not a number.
func pathID(w http.ResponseWriter, rq *request) (int64, bool) {
	id, err := strconv.ParseInt(rq.r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeNotFound(w, rq.corr)
		return 0, false
	}
	return id, true
}

// handleGetConversation is GET /v2/conversations/{id}.
func (s *Server) handleGetConversation(w http.ResponseWriter, rq *request) {
	id, ok := pathID(w, rq)
	if !ok {
		return
	}
	embed := strings.Contains(rq.r.URL.Query().Get("embed"), "threads")
	s.mu.Lock()
	c, found := s.convs[id]
	var body map[string]any
	if found {
		body = s.conversationObject(c, s.apiBase(rq.r), embed)
	}
	s.mu.Unlock()
	if !found {
		writeNotFound(w, rq.corr)
		return
	}
	writeHAL(w, http.StatusOK, body)
}

// queryRE reads HelpScout search syntax of the form (field:"value").
var queryRE = regexp.MustCompile(`^\(\s*([A-Za-z]+)\s*:\s*"((?:[^"\\]|\\.)*)"\s*\)$`)

// parseQuery returns the email of a (email:"x") query; ok is false for a
// query the simulator does not understand.
func parseQuery(q string) (email string, ok bool) {
	if q == "" {
		return "", true
	}
	m := queryRE.FindStringSubmatch(strings.TrimSpace(q))
	if m == nil || !strings.EqualFold(m[1], "email") {
		return "", false
	}
	v := strings.ReplaceAll(m[2], `\"`, `"`)
	return strings.ReplaceAll(v, `\\`, `\`), true
}

const conversationPageSize = 25

// handleListConversations is GET /v2/conversations with mailbox, status
// (default active; all), number, query=(email:"x"), sortField, sortOrder,
// embed and page.
func (s *Server) handleListConversations(w http.ResponseWriter, rq *request) {
	q := rq.r.URL.Query()
	var errs errList
	email, ok := parseQuery(q.Get("query"))
	if !ok {
		errs.reject("query", "Invalid query", q.Get("query"))
	}
	status := q.Get("status")
	if status == "" {
		status = "active"
	}
	if !slices.Contains([]string{"active", "pending", "closed", "spam", "open", "all"}, status) {
		errs.reject("status", expected([]string{"active", "pending", "closed", "spam", "open", "all"}), status)
	}
	var mailboxID, number int64
	if v := q.Get("mailbox"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs.reject("mailbox", "Invalid number", v)
		}
		mailboxID = n
	}
	if v := q.Get("number"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs.reject("number", "Invalid number", v)
		}
		number = n
	}
	pg, perr := pageParam(q.Get("page"))
	if perr {
		errs.reject("page", "Invalid number", q.Get("page"))
	}
	if len(errs) > 0 {
		writeBadRequest(w, rq.corr, errs)
		return
	}
	sortField := q.Get("sortField")
	asc := strings.EqualFold(q.Get("sortOrder"), "asc")
	embed := strings.Contains(q.Get("embed"), "threads")

	s.mu.Lock()
	var list []*Conversation
	for _, c := range s.convs {
		if mailboxID != 0 && c.MailboxID != mailboxID {
			continue
		}
		if status != "all" && !(c.Status == status || (status == "open" && c.Status == "active")) {
			continue
		}
		if number != 0 && c.Number != number {
			continue
		}
		if email != "" && !strings.Contains(strings.ToLower(c.CustomerEmail), strings.ToLower(email)) {
			continue
		}
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b *Conversation) int {
		var d int
		switch sortField {
		case "number":
			d = compareInt(a.Number, b.Number)
		case "subject":
			d = strings.Compare(a.Subject, b.Subject)
		default:
			d = a.CreatedAt.Compare(b.CreatedAt)
		}
		if d == 0 {
			d = compareInt(a.ID, b.ID)
		}
		if !asc {
			d = -d
		}
		return d
	})
	base := s.apiBase(rq.r)
	items := make([]map[string]any, 0, conversationPageSize)
	from, to := pageBounds(len(list), pg, conversationPageSize)
	for _, c := range list[from:to] {
		items = append(items, s.conversationObject(c, base, embed))
	}
	s.mu.Unlock()
	writeHAL(w, http.StatusOK, halPage("conversations", items, base+"/v2/conversations", q, pg, conversationPageSize, len(list)))
}

// pageParam reads ?page=N (1-based); bad is true for a malformed value.
func pageParam(v string) (int, bool) {
	if v == "" {
		return 1, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1, true
	}
	return n, false
}

func pageBounds(total, pg, size int) (int, int) {
	from := min((pg-1)*size, total)
	return from, min(from+size, total)
}

// halPage renders a HAL page like the real lists.
func halPage(resource string, items []map[string]any, self string, q map[string][]string, pg, size, total int) map[string]any {
	pages := (total + size - 1) / size
	link := func(n int) map[string]string {
		vals := url.Values{}
		for k, vs := range q {
			if k != "page" {
				vals[k] = vs
			}
		}
		vals.Set("page", strconv.Itoa(n))
		return href(self + "?" + vals.Encode())
	}
	links := map[string]any{
		"self":  link(pg),
		"first": link(1),
		"last":  link(max(pages, 1)),
		"page":  map[string]any{"href": self + "{?page}", "templated": true},
	}
	if pg < pages {
		links["next"] = link(pg + 1)
	}
	if pg > 1 {
		links["previous"] = link(pg - 1)
	}
	return map[string]any{
		"_embedded": map[string]any{resource: items},
		"_links":    links,
		"page":      map[string]int{"size": size, "totalElements": total, "totalPages": pages, "number": pg},
	}
}
