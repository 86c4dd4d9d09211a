package helpscoutsim

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// setScalar sets one scalar customer field by its JSON name.
func setScalar(c *Customer, key, v string) {
	switch key {
	case "firstName":
		c.FirstName = v
	case "lastName":
		c.LastName = v
	case "jobTitle":
		c.JobTitle = v
	case "location":
		c.Location = v
	case "organization":
		c.Organization = v
	case "background":
		c.Background = v
	case "photoUrl":
		c.PhotoURL = v
	case "photoType":
		c.PhotoType = v
	case "gender":
		c.Gender = v
	case "age":
		c.Age = v
	}
}

// scalarKeys are the customer fields PATCH and PUT may set.
var scalarKeys = []string{"firstName", "lastName", "jobTitle", "location", "organization", "background",
	"photoUrl", "photoType", "gender", "age"}

// duplicateEmails returns conflict errors for emails another customer has;
// must be called with s.mu held.
func (s *Server) duplicateEmails(self int64, emails []Entry, path string) errList {
	var errs errList
	for i, e := range emails {
		if other := s.customerByEmailLocked(e.Value); other != nil && other.ID != self {
			errs.reject(fmt.Sprintf("%s[%d].value", path, i), "A customer with this email already exists", e.Value)
		}
		for j := 0; j < i; j++ {
			if strings.EqualFold(emails[j].Value, e.Value) {
				errs.reject(fmt.Sprintf("%s[%d].value", path, i), "Duplicate email in request", e.Value)
			}
		}
	}
	return errs
}

// handleCreateCustomer is POST /v2/customers.
func (s *Server) handleCreateCustomer(w http.ResponseWriter, rq *request) {
	m, ok := decodeObject(w, rq)
	if !ok {
		return
	}
	var errs errList
	o := obj{m: m, errs: &errs}
	scalars := customerScalars(o)
	emails := entries(o, "emails", emailTypes, true)
	phones := entries(o, "phones", phoneTypes, false)
	if len(errs) > 0 {
		writeBadRequest(w, rq.corr, errs)
		return
	}

	s.mu.Lock()
	if dup := s.duplicateEmails(0, emails, "emails"); len(dup) > 0 {
		s.mu.Unlock()
		writeVndError(w, http.StatusConflict, rq.corr, "Conflict", dup)
		return
	}
	now := s.now().UTC().Truncate(time.Second)
	c := &Customer{ID: s.nextCust, CreatedAt: now, UpdatedAt: now}
	s.nextCust++
	for k, v := range scalars {
		setScalar(c, k, v)
	}
	for _, e := range emails {
		e.ID = s.nextEntry
		s.nextEntry++
		c.Emails = append(c.Emails, e)
	}
	for _, p := range phones {
		p.ID = s.nextEntry
		s.nextEntry++
		c.Phones = append(c.Phones, p)
	}
	s.customers[c.ID] = c
	s.stats.customersCreated++
	base := s.apiBase(rq.r)
	s.mu.Unlock()
	writeCreated(w, c.ID, fmt.Sprintf("%s/v2/customers/%d", base, c.ID))
}

// handleGetCustomer is GET /v2/customers/{id}.
func (s *Server) handleGetCustomer(w http.ResponseWriter, rq *request) {
	id, ok := pathID(w, rq)
	if !ok {
		return
	}
	s.mu.Lock()
	c, found := s.customers[id]
	var body map[string]any
	if found {
		body = s.customerObject(c, s.apiBase(rq.r))
	}
	s.mu.Unlock()
	if !found {
		writeNotFound(w, rq.corr)
		return
	}
	writeHAL(w, http.StatusOK, body)
}

// handlePutCustomer is PUT /v2/customers/{id}: the scalar fields are
// overwritten and omitted ones become empty; emails and phones stay.
func (s *Server) handlePutCustomer(w http.ResponseWriter, rq *request) {
	id, ok := pathID(w, rq)
	if !ok {
		return
	}
	m, ok := decodeObject(w, rq)
	if !ok {
		return
	}
	var errs errList
	scalars := customerScalars(obj{m: m, errs: &errs})
	if len(errs) > 0 {
		writeBadRequest(w, rq.corr, errs)
		return
	}
	s.mu.Lock()
	c, found := s.customers[id]
	if found {
		for _, k := range scalarKeys {
			setScalar(c, k, scalars[k])
		}
		c.UpdatedAt = s.now().UTC().Truncate(time.Second)
	}
	s.mu.Unlock()
	if !found {
		writeNotFound(w, rq.corr)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handlePatchCustomer is PATCH /v2/customers/{id} with a JSON-Patch array
// of add, remove and replace operations on the scalar fields, /emails and
// /phones (add), and /emails/{id} or /phones/{id} (replace, remove). The
// operations apply all or none.
func (s *Server) handlePatchCustomer(w http.ResponseWriter, rq *request) {
	id, ok := pathID(w, rq)
	if !ok {
		return
	}
	v, ok := decodeBody(w, rq)
	if !ok {
		return
	}
	ops, isArr := v.([]any)
	if !isArr {
		writeBadRequest(w, rq.corr, errList{{Message: "Expected a JSON array of patch operations"}})
		return
	}
	s.mu.Lock()
	c, found := s.customers[id]
	if !found {
		s.mu.Unlock()
		writeNotFound(w, rq.corr)
		return
	}
	cp := c.clone()
	var errs errList
	for i, x := range ops {
		s.applyPatchOp(&cp, i, x, &errs)
	}
	if len(errs) == 0 {
		errs = s.duplicateEmails(cp.ID, cp.Emails, "emails")
	}
	if len(errs) == 0 {
		cp.UpdatedAt = s.now().UTC().Truncate(time.Second)
		*c = cp
	}
	s.mu.Unlock()
	if len(errs) > 0 {
		writeBadRequest(w, rq.corr, errs)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// applyPatchOp applies one operation to c; must be called with s.mu held.
func (s *Server) applyPatchOp(c *Customer, i int, x any, errs *errList) {
	p := fmt.Sprintf("[%d]", i)
	m, ok := x.(map[string]any)
	if !ok {
		errs.reject(p, "Invalid value, expected an object", x)
		return
	}
	o := obj{m: m, path: p, errs: errs}
	op, ok := o.enum("op", "add", "remove", "replace")
	if !ok {
		if !o.has("op") {
			errs.add(p+".op", "may not be empty")
		}
		return
	}
	path, _ := o.str("path")
	field := strings.TrimPrefix(path, "/")
	collection, entryID, hasEntry := strings.Cut(field, "/")
	switch {
	case slices.Contains(scalarKeys, field):
		if op == "remove" {
			setScalar(c, field, "")
			return
		}
		sub := obj{m: map[string]any{field: m["value"]}, errs: errs}
		if !sub.has(field) {
			errs.add(field, "may not be null")
			return
		}
		before := len(*errs)
		vals := customerScalars(sub)
		if len(*errs) == before {
			setScalar(c, field, vals[field])
		}
	case collection == "emails" || collection == "phones":
		list := &c.Emails
		types := emailTypes
		if collection == "phones" {
			list, types = &c.Phones, phoneTypes
		}
		if !hasEntry {
			if op != "add" {
				errs.reject(collection, "Removing or replacing the whole collection is not supported", op)
				return
			}
			vm, ok := m["value"].(map[string]any)
			if !ok {
				errs.add(collection, "may not be null")
				return
			}
			if e, ok := entry(obj{m: vm, path: collection, errs: errs}, types, collection == "emails"); ok {
				e.ID = s.nextEntry
				s.nextEntry++
				*list = append(*list, e)
			}
			return
		}
		n, err := strconv.ParseInt(entryID, 10, 64)
		idx := slices.IndexFunc(*list, func(e Entry) bool { return e.ID == n })
		if err != nil || idx < 0 {
			errs.reject(field, "Invalid identifier", entryID)
			return
		}
		switch op {
		case "remove":
			*list = slices.Delete(*list, idx, idx+1)
		default:
			vm, ok := m["value"].(map[string]any)
			if !ok {
				errs.add(field, "may not be null")
				return
			}
			if e, ok := entry(obj{m: vm, path: field, errs: errs}, types, collection == "emails"); ok {
				e.ID = n
				(*list)[idx] = e
			}
		}
	default:
		errs.reject("path", "Invalid path", path)
	}
}

const customerPageSize = 50

// handleListCustomers is GET /v2/customers with query=(email:"x") matching
// emails that contain x (letter case ignored), and page.
func (s *Server) handleListCustomers(w http.ResponseWriter, rq *request) {
	q := rq.r.URL.Query()
	var errs errList
	email, ok := parseQuery(q.Get("query"))
	if !ok {
		errs.reject("query", "Invalid query", q.Get("query"))
	}
	pg, bad := pageParam(q.Get("page"))
	if bad {
		errs.reject("page", "Invalid number", q.Get("page"))
	}
	if len(errs) > 0 {
		writeBadRequest(w, rq.corr, errs)
		return
	}
	needle := strings.ToLower(email)
	s.mu.Lock()
	var list []*Customer
	for _, c := range s.customers {
		if needle == "" || slices.ContainsFunc(c.Emails, func(e Entry) bool {
			return strings.Contains(strings.ToLower(e.Value), needle)
		}) {
			list = append(list, c)
		}
	}
	slices.SortFunc(list, func(a, b *Customer) int { return compareInt(a.ID, b.ID) })
	base := s.apiBase(rq.r)
	from, to := pageBounds(len(list), pg, customerPageSize)
	items := make([]map[string]any, 0, to-from)
	for _, c := range list[from:to] {
		items = append(items, s.customerObject(c, base))
	}
	s.mu.Unlock()
	writeHAL(w, http.StatusOK, halPage("customers", items, base+"/v2/customers", q, pg, customerPageSize, len(list)))
}
