package helpscout

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kivalogic/helpscout-log/db"
)

// CustomerInput is a customer record from the host system. Empty fields are
// left out: on create HelpScout leaves them empty, on update they keep
// their value.
type CustomerInput struct {
	// FirstName is 1–40 characters when given.
	FirstName string
	// LastName is 1–40 characters when given.
	LastName string
	// Email is the customer's (work) email; our key for finding them again.
	Email string
	// JobTitle is at most 60 characters.
	JobTitle string
	// Location is at most 60 characters.
	Location string
	// Organization is at most 60 characters.
	Organization string
	// Background is free notes, at most 200 characters.
	Background string
	// Phones are sent on create only.
	Phones []Phone
}

// Phone is a customer's phone number.
type Phone struct {
	// Type is work, home, mobile, fax, pager or other; work when empty.
	Type string
	// Value is the number.
	Value string
}

// Customer is a HelpScout customer as the API (and the customer.* webhooks)
// describe it, reduced to what we use.
type Customer struct {
	// ID is HelpScout's customer id.
	ID int64
	// FirstName is the first name.
	FirstName string
	// LastName is the last name.
	LastName string
	// Emails are the customer's email addresses.
	Emails []string
	// JobTitle is the job title.
	JobTitle string
	// Location is the location.
	Location string
	// Organization is the organization.
	Organization string
	// Background is the background notes.
	Background string
	// Phones are the phone numbers.
	Phones []Phone
	// CreatedAt is when the customer was created.
	CreatedAt time.Time
	// UpdatedAt is when the customer was last changed.
	UpdatedAt time.Time
}

// HasEmail reports whether the customer has exactly this email, letter case ignored.
func (c *Customer) HasEmail(email string) bool {
	for _, e := range c.Emails {
		if strings.EqualFold(strings.TrimSpace(e), strings.TrimSpace(email)) {
			return true
		}
	}
	return false
}

type wireEntry struct {
	ID    int64  `json:"id,omitempty"`
	Type  string `json:"type,omitempty"`
	Value string `json:"value"`
}

type wireCustomer struct {
	ID           int64  `json:"id"`
	FirstName    string `json:"firstName"`
	LastName     string `json:"lastName"`
	JobTitle     string `json:"jobTitle"`
	Location     string `json:"location"`
	Organization string `json:"organization"`
	Background   string `json:"background"`
	CreatedAt    string `json:"createdAt"`
	UpdatedAt    string `json:"updatedAt"`
	Embedded     *struct {
		Emails []wireEntry `json:"emails"`
		Phones []wireEntry `json:"phones"`
	} `json:"_embedded"`
}

func (w *wireCustomer) customer() *Customer {
	c := &Customer{ID: w.ID, FirstName: w.FirstName, LastName: w.LastName, JobTitle: w.JobTitle,
		Location: w.Location, Organization: w.Organization, Background: w.Background,
		CreatedAt: parseTime(w.CreatedAt), UpdatedAt: parseTime(w.UpdatedAt)}
	if w.Embedded != nil {
		for _, e := range w.Embedded.Emails {
			c.Emails = append(c.Emails, e.Value)
		}
		for _, p := range w.Embedded.Phones {
			c.Phones = append(c.Phones, Phone{Type: p.Type, Value: p.Value})
		}
	}
	return c
}

// ParseCustomer reads a v2 Customer object, as GET /v2/customers/{id}
// returns it and as customer.created/updated webhooks carry it.
func ParseCustomer(data []byte) (*Customer, error) {
	var w wireCustomer
	if err := unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("error reading customer: %w", err)
	}
	if w.ID == 0 {
		return nil, fmt.Errorf("error reading customer: no id")
	}
	return w.customer(), nil
}

type wireCustomerIn struct {
	FirstName    string      `json:"firstName,omitempty"`
	LastName     string      `json:"lastName,omitempty"`
	JobTitle     string      `json:"jobTitle,omitempty"`
	Location     string      `json:"location,omitempty"`
	Organization string      `json:"organization,omitempty"`
	Background   string      `json:"background,omitempty"`
	Emails       []wireEntry `json:"emails,omitempty"`
	Phones       []wireEntry `json:"phones,omitempty"`
}

func (in CustomerInput) utf8Pairs() []string {
	p := []string{"first name", in.FirstName, "last name", in.LastName, "email", in.Email,
		"job title", in.JobTitle, "location", in.Location, "organization", in.Organization,
		"background", in.Background}
	for _, ph := range in.Phones {
		p = append(p, "phone", ph.Type+ph.Value)
	}
	return p
}

// CreateCustomer creates a customer: POST /v2/customers. HelpScout answers
// 201 with the id in Resource-Id.
func (c *Client) CreateCustomer(ctx context.Context, in CustomerInput) (id int64, res Result, err error) {
	const op = "creating customer"
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	if err := checkUTF8(op, in.utf8Pairs()...); err != nil {
		return 0, res, err
	}
	body := wireCustomerIn{FirstName: in.FirstName, LastName: in.LastName, JobTitle: in.JobTitle,
		Location: in.Location, Organization: in.Organization, Background: in.Background}
	if in.Email != "" {
		body.Emails = []wireEntry{{Type: "work", Value: in.Email}}
	}
	for _, p := range in.Phones {
		t := p.Type
		if t == "" {
			t = "work"
		}
		body.Phones = append(body.Phones, wireEntry{Type: t, Value: p.Value})
	}
	data, err := encodeJSON(body)
	if err != nil {
		return 0, res, &Error{Op: op, Code: db.CodeUnknown, Message: "error encoding request", Err: err}
	}
	rep, err := c.roundTrip(ctx, &res, op, http.MethodPost, "/v2/customers", data)
	if err != nil {
		return 0, res, err
	}
	id, err = resourceID(rep)
	if err != nil {
		return 0, res, &Error{Op: op, Code: db.CodeUnknown, Status: rep.status, LogRef: rep.logRef,
			Message: err.Error(), OutcomeUnknown: true}
	}
	return id, res, nil
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// UpdateCustomer changes a customer's scalar fields: PATCH
// /v2/customers/{id} with a JSON-Patch array of "replace" operations, one
// per non-empty field of in (first and last name, job title, location,
// organization, background). PATCH is chosen over PUT because PUT
// overwrites the whole customer and sets every omitted field to null.
// Emails and phones are not changed (the email is how we find the customer);
// an empty field keeps its value. When no field is set nothing is sent.
func (c *Client) UpdateCustomer(ctx context.Context, id int64, in CustomerInput) (res Result, err error) {
	op := fmt.Sprintf("updating customer %d", id)
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	if err := checkUTF8(op, in.utf8Pairs()...); err != nil {
		return res, err
	}
	fields := []struct{ path, value string }{
		{"/firstName", in.FirstName}, {"/lastName", in.LastName}, {"/jobTitle", in.JobTitle},
		{"/location", in.Location}, {"/organization", in.Organization}, {"/background", in.Background},
	}
	var ops []patchOp
	for _, f := range fields {
		if f.value != "" {
			ops = append(ops, patchOp{Op: "replace", Path: f.path, Value: f.value})
		}
	}
	if len(ops) == 0 {
		return res, nil
	}
	data, err := encodeJSON(ops)
	if err != nil {
		return res, &Error{Op: op, Code: db.CodeUnknown, Message: "error encoding request", Err: err}
	}
	_, err = c.roundTrip(ctx, &res, op, http.MethodPatch, fmt.Sprintf("/v2/customers/%d", id), data)
	return res, err
}

// GetCustomer reads a customer: GET /v2/customers/{id}. A missing customer
// is NOT_FOUND.
func (c *Client) GetCustomer(ctx context.Context, id int64) (cust *Customer, res Result, err error) {
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	cust, err = c.getCustomer(ctx, &res, id)
	return cust, res, err
}

func (c *Client) getCustomer(ctx context.Context, res *Result, id int64) (*Customer, error) {
	op := fmt.Sprintf("getting customer %d", id)
	rep, err := c.roundTrip(ctx, res, op, http.MethodGet, fmt.Sprintf("/v2/customers/%d", id), nil)
	if err != nil {
		return nil, err
	}
	cust, err := ParseCustomer(rep.body)
	if err != nil {
		return nil, unreadable(op, "customer", rep, err)
	}
	return cust, nil
}

type customerPage struct {
	Embedded *struct {
		Customers []wireCustomer `json:"customers"`
	} `json:"_embedded"`
	Page page `json:"page"`
}

// maxCustomerPages bounds the search (50 customers per page).
const maxCustomerPages = 10

// FindCustomerByEmail finds the customer with exactly this email (letter
// case ignored): GET /v2/customers?query=(email:"x"). HelpScout returns
// every customer whose email contains x, so the match is made here. It
// returns a nil customer and a nil error when there is none. A list entry
// that carries no emails is read in full before it is compared.
func (c *Client) FindCustomerByEmail(ctx context.Context, email string) (cust *Customer, res Result, err error) {
	const op = "finding customer by email"
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	if err := checkUTF8(op, "email", email); err != nil {
		return nil, res, err
	}
	if strings.TrimSpace(email) == "" {
		return nil, res, &Error{Op: op, Code: db.CodeMissingRequiredField, Message: "email is empty"}
	}
	q := url.Values{}
	q.Set("query", searchQuery("email", strings.TrimSpace(email)))
	for pg := 1; pg <= maxCustomerPages; pg++ {
		q.Set("page", strconv.Itoa(pg))
		rep, err := c.roundTrip(ctx, &res, op, http.MethodGet, "/v2/customers?"+q.Encode(), nil)
		if err != nil {
			return nil, res, err
		}
		var p customerPage
		if err := unmarshal(rep.body, &p); err != nil {
			return nil, res, unreadable(op, "customer list", rep, err)
		}
		if p.Embedded == nil || len(p.Embedded.Customers) == 0 {
			return nil, res, nil
		}
		for i := range p.Embedded.Customers {
			w := &p.Embedded.Customers[i]
			cand := w.customer()
			if w.Embedded == nil {
				full, err := c.getCustomer(ctx, &res, w.ID)
				if err != nil {
					return nil, res, err
				}
				cand = full
			}
			if cand.HasEmail(email) {
				return cand, res, nil
			}
		}
		if p.Page.Number >= p.Page.TotalPages {
			break
		}
	}
	return nil, res, nil
}
