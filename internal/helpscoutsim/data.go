package helpscoutsim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Conversation is a simulated conversation.
type Conversation struct {
	// ID is the global id (from 861100000).
	ID int64
	// Number is the ticket number (from 1000).
	Number int64
	// Subject is the subject.
	Subject string
	// Status is active, pending, closed or spam.
	Status string
	// Type is email, chat or phone.
	Type string
	// MailboxID is the mailbox.
	MailboxID int64
	// CustomerID is the primary customer.
	CustomerID int64
	// CustomerEmail is the primary customer's email (the one used to create it).
	CustomerEmail string
	// Assignee is the assigned user, nil when unassigned.
	Assignee *User
	// Tags are tag names.
	Tags []string
	// Threads are the conversation's threads, oldest first.
	Threads []Thread
	// Imported is set for conversations created with imported:true.
	Imported bool
	// CreatedAt is the creation time (the createdAt sent, else the clock).
	CreatedAt time.Time
	// UpdatedAt is the last change.
	UpdatedAt time.Time
	// ClosedAt is set while the status is closed.
	ClosedAt time.Time
}

// Thread is one message of a conversation.
type Thread struct {
	// ID is the thread id.
	ID int64
	// Type is customer, reply, note, phone or chat.
	Type string
	// Text is the body.
	Text string
	// CustomerEmail is the customer of a customer thread.
	CustomerEmail string
	// CreatedAt is when it was added.
	CreatedAt time.Time
}

// User is a HelpScout user (an agent).
type User struct {
	// ID is the user id.
	ID int64
	// First is the first name.
	First string
	// Last is the last name.
	Last string
	// Email is the user's email.
	Email string
}

// Customer is a simulated customer.
type Customer struct {
	// ID is the customer id (from 256100000).
	ID int64
	// FirstName is the first name.
	FirstName string
	// LastName is the last name.
	LastName string
	// JobTitle is the job title.
	JobTitle string
	// Location is the location.
	Location string
	// Organization is the organization.
	Organization string
	// Background is the notes.
	Background string
	// PhotoURL is the photo address.
	PhotoURL string
	// PhotoType is where the photo comes from.
	PhotoType string
	// Gender is male, female or unknown.
	Gender string
	// Age is free text.
	Age string
	// Emails are the email entries.
	Emails []Entry
	// Phones are the phone entries.
	Phones []Entry
	// CreatedAt is the creation time.
	CreatedAt time.Time
	// UpdatedAt is the last change.
	UpdatedAt time.Time
}

// Entry is an email or phone entry of a customer.
type Entry struct {
	// ID is the entry id, used in PATCH paths such as /emails/{id}.
	ID int64
	// Type is the kind, e.g. work.
	Type string
	// Value is the address or number.
	Value string
}

// HasEmail reports whether the customer has exactly this email, letter case ignored.
func (c *Customer) HasEmail(email string) bool {
	for _, e := range c.Emails {
		if strings.EqualFold(e.Value, email) {
			return true
		}
	}
	return false
}

func (c *Conversation) clone() Conversation {
	cp := *c
	cp.Tags = slices.Clone(c.Tags)
	cp.Threads = slices.Clone(c.Threads)
	if c.Assignee != nil {
		a := *c.Assignee
		cp.Assignee = &a
	}
	return cp
}

func (c *Customer) clone() Customer {
	cp := *c
	cp.Emails = slices.Clone(c.Emails)
	cp.Phones = slices.Clone(c.Phones)
	return cp
}

// Conversations returns a copy of every conversation, oldest first.
func (s *Server) Conversations() []Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Conversation, 0, len(s.convs))
	for _, c := range s.convs {
		out = append(out, c.clone())
	}
	slices.SortFunc(out, func(a, b Conversation) int { return compareInt(a.ID, b.ID) })
	return out
}

// Conversation returns a copy of one conversation.
func (s *Server) Conversation(id int64) (Conversation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[id]
	if !ok {
		return Conversation{}, false
	}
	return c.clone(), true
}

// CountConversations counts the conversations of the customer with this
// email (letter case ignored) and exactly this subject; an empty subject
// counts all of the customer's. A crash-safety test asserts it is 1.
func (s *Server) CountConversations(email, subject string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.convs {
		if strings.EqualFold(c.CustomerEmail, email) && (subject == "" || c.Subject == subject) {
			n++
		}
	}
	return n
}

// UpdateConversation changes a conversation with fn (for example to assign
// or close it before sending a webhook) and returns the result. It reports
// false for an unknown id.
func (s *Server) UpdateConversation(id int64, fn func(*Conversation)) (Conversation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[id]
	if !ok {
		return Conversation{}, false
	}
	fn(c)
	c.ID = id
	c.UpdatedAt = s.now().UTC().Truncate(time.Second)
	if c.Status == "closed" && c.ClosedAt.IsZero() {
		c.ClosedAt = c.UpdatedAt
	}
	if c.Status != "closed" {
		c.ClosedAt = time.Time{}
	}
	return c.clone(), true
}

// Customers returns a copy of every customer, oldest first.
func (s *Server) Customers() []Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Customer, 0, len(s.customers))
	for _, c := range s.customers {
		out = append(out, c.clone())
	}
	slices.SortFunc(out, func(a, b Customer) int { return compareInt(a.ID, b.ID) })
	return out
}

// CustomerByEmail returns the customer with exactly this email, letter case ignored.
func (s *Server) CustomerByEmail(email string) (Customer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.customerByEmailLocked(email); c != nil {
		return c.clone(), true
	}
	return Customer{}, false
}

// AddCustomer stores a customer directly, as if created in HelpScout's web
// app, and returns it with its id. Tests use it to seed look-alike emails.
func (s *Server) AddCustomer(c Customer) Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.ID = s.nextCust
	s.nextCust++
	now := s.now().UTC().Truncate(time.Second)
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	c.UpdatedAt = now
	c.Emails = slices.Clone(c.Emails)
	for i := range c.Emails {
		c.Emails[i].ID = s.nextEntry
		s.nextEntry++
		if c.Emails[i].Type == "" {
			c.Emails[i].Type = "work"
		}
	}
	c.Phones = slices.Clone(c.Phones)
	for i := range c.Phones {
		c.Phones[i].ID = s.nextEntry
		s.nextEntry++
	}
	s.customers[c.ID] = &c
	return c.clone()
}

// ConversationJSON returns the conversation as GET /v2/conversations/{id}
// (and the convo.* webhooks) show it, threads embedded.
func (s *Server) ConversationJSON(id int64) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[id]
	if !ok {
		return nil, false
	}
	return marshal(s.conversationObject(c, s.apiBase(nil), true)), true
}

// CustomerJSON returns the customer as GET /v2/customers/{id} (and the
// customer.* webhooks) show it.
func (s *Server) CustomerJSON(id int64) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[id]
	if !ok {
		return nil, false
	}
	return marshal(s.customerObject(c, s.apiBase(nil))), true
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// customerByEmailLocked must be called with s.mu held.
func (s *Server) customerByEmailLocked(email string) *Customer {
	var best *Customer
	for _, c := range s.customers {
		if c.HasEmail(email) && (best == nil || c.ID < best.ID) {
			best = c
		}
	}
	return best
}

// apiBase is the base of the links in bodies: the host the request came
// to, else the listener, else the real API. With a nil r it reads s.url
// and must be called with s.mu held.
func (s *Server) apiBase(r *http.Request) string {
	if r != nil && r.Host != "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		return scheme + "://" + r.Host
	}
	if s.url != "" {
		return s.url
	}
	return "https://api.helpscout.net"
}

func href(u string) map[string]string { return map[string]string{"href": u} }

// webURL is the conversation's address in HelpScout's web app.
func webURL(id, number int64) string {
	return fmt.Sprintf("https://secure.helpscout.net/conversation/%d/%d", id, number)
}

// conversationObject renders a v2 Conversation; must be called with s.mu held.
func (s *Server) conversationObject(c *Conversation, base string, withThreads bool) map[string]any {
	self := fmt.Sprintf("%s/v2/conversations/%d", base, c.ID)
	var preview string
	if len(c.Threads) > 0 {
		preview = truncateRunes(c.Threads[0].Text, 255)
	}
	person := map[string]any{"id": c.CustomerID, "type": "customer", "email": c.CustomerEmail}
	if cu, ok := s.customers[c.CustomerID]; ok {
		person["first"], person["last"] = cu.FirstName, cu.LastName
	}
	tags := make([]map[string]any, 0, len(c.Tags))
	for i, t := range c.Tags {
		tags = append(tags, map[string]any{"id": 9000 + i, "color": "#929499", "tag": t})
	}
	o := map[string]any{
		"id":        c.ID,
		"number":    c.Number,
		"threads":   len(c.Threads),
		"type":      c.Type,
		"folderId":  1000000 + c.MailboxID%1000000,
		"status":    c.Status,
		"state":     "published",
		"subject":   c.Subject,
		"preview":   preview,
		"mailboxId": c.MailboxID,
		"createdBy": person,
		"createdAt": formatTime(c.CreatedAt),
		"closedBy":  0,
		"customerWaitingSince": map[string]any{
			"time": formatTime(c.CreatedAt), "friendly": "Just now",
		},
		"source":          map[string]string{"type": "api", "via": "customer"},
		"tags":            tags,
		"cc":              []string{},
		"bcc":             []string{},
		"primaryCustomer": person,
		"customFields":    []any{},
		"userUpdatedAt":   formatTime(c.UpdatedAt),
		"_links": map[string]any{
			"self":              href(self),
			"mailbox":           href(fmt.Sprintf("%s/v2/mailboxes/%d", base, c.MailboxID)),
			"primaryCustomer":   href(fmt.Sprintf("%s/v2/customers/%d", base, c.CustomerID)),
			"createdByCustomer": href(fmt.Sprintf("%s/v2/customers/%d", base, c.CustomerID)),
			"threads":           href(self + "/threads/"),
			"web":               href(webURL(c.ID, c.Number)),
		},
	}
	if !c.ClosedAt.IsZero() {
		o["closedAt"] = formatTime(c.ClosedAt)
	}
	if c.Assignee != nil {
		o["assignee"] = map[string]any{"id": c.Assignee.ID, "type": "user", "first": c.Assignee.First,
			"last": c.Assignee.Last, "email": c.Assignee.Email}
	}
	if withThreads {
		threads := make([]map[string]any, 0, len(c.Threads))
		for _, t := range c.Threads {
			th := map[string]any{"id": t.ID, "type": t.Type, "status": c.Status, "state": "published",
				"body": t.Text, "createdAt": formatTime(t.CreatedAt), "source": map[string]string{"type": "api", "via": "customer"}}
			if t.CustomerEmail != "" {
				th["customer"] = map[string]any{"id": c.CustomerID, "email": t.CustomerEmail}
			}
			threads = append(threads, th)
		}
		o["_embedded"] = map[string]any{"threads": threads}
	}
	return o
}

// customerObject renders a v2 Customer; must be called with s.mu held.
func (s *Server) customerObject(c *Customer, base string) map[string]any {
	self := fmt.Sprintf("%s/v2/customers/%d", base, c.ID)
	emails := make([]map[string]any, 0, len(c.Emails))
	for _, e := range c.Emails {
		emails = append(emails, map[string]any{"id": e.ID, "value": e.Value, "type": e.Type})
	}
	phones := make([]map[string]any, 0, len(c.Phones))
	for _, p := range c.Phones {
		phones = append(phones, map[string]any{"id": p.ID, "value": p.Value, "type": p.Type})
	}
	gender, photoType := c.Gender, c.PhotoType
	if gender == "" {
		gender = "unknown"
	}
	if photoType == "" {
		photoType = "unknown"
	}
	return map[string]any{
		"id":           c.ID,
		"firstName":    c.FirstName,
		"lastName":     c.LastName,
		"gender":       gender,
		"jobTitle":     c.JobTitle,
		"location":     c.Location,
		"organization": c.Organization,
		"photoType":    photoType,
		"photoUrl":     c.PhotoURL,
		"age":          c.Age,
		"background":   c.Background,
		"createdAt":    formatTime(c.CreatedAt),
		"updatedAt":    formatTime(c.UpdatedAt),
		"_embedded": map[string]any{
			"emails": emails, "phones": phones, "chats": []any{}, "social_profiles": []any{}, "websites": []any{},
		},
		"_links": map[string]any{
			"self":            href(self),
			"address":         href(self + "/address"),
			"chats":           href(self + "/chats"),
			"emails":          href(self + "/emails"),
			"phones":          href(self + "/phones"),
			"social-profiles": href(self + "/social-profiles"),
			"websites":        href(self + "/websites"),
		},
	}
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
