package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
)

// correctedField is one field of Corrections: its name in the API, the
// value given and where that value goes in the record to send.
type correctedField struct {
	name     string
	fix      *string
	dst      **string
	required bool
	maxLen   int
}

// correct applies fix to the job of a failed attempt and to next, the
// attempt that will send it: the job's record and email, the event's email
// and details, and the customer row of a corrected email or name. Each
// value that does not fit (a field the record does not have, an empty
// required one, one too long, characters HelpScout refuses) is refused with
// a BAD_USER_INPUT error naming it, all of them at once.
func (s *Service) correct(ctx context.Context, tx bun.Tx, job *db.SyncJob, next *db.SyncEvent, fix *Corrections) error {
	var (
		fields []correctedField
		apply  func() (payload any, email string, name *string)
	)
	switch job.Kind {
	case db.JobContactForm:
		var form ContactForm
		if err := json.Unmarshal(job.Payload, &form); err != nil {
			return fmt.Errorf("error reading the record of sync job %d: %w", job.ID, err)
		}
		// The required fields through pointers of their own, which a
		// correction points elsewhere, as it does an optional field.
		email, subject, message := &form.Email, &form.Subject, &form.Message
		fields = []correctedField{
			{"email", fix.Email, &email, true, maxEmailLen},
			{"name", fix.Name, &form.Name, false, maxNameLen},
			{"subject", fix.Subject, &subject, true, maxSubjectLen},
			{"message", fix.Message, &message, true, maxMessageLen},
		}
		apply = func() (any, string, *string) {
			form.Email, form.Subject, form.Message = normEmail(*email), *subject, *message
			next.Details["subject"] = printable(form.Subject)
			next.Details["message"] = printable(excerpt(form.Message, excerptLen))
			next.Details["messageBytes"] = len(form.Message)
			delete(next.Details, "name")
			if form.Name != nil {
				next.Details["name"] = printable(*form.Name)
			}
			return form, form.Email, form.Name
		}
	case db.JobCustomerCreate, db.JobCustomerUpdate:
		var rec CustomerRecord
		if err := json.Unmarshal(job.Payload, &rec); err != nil {
			return fmt.Errorf("error reading the record of sync job %d: %w", job.ID, err)
		}
		if fix.Email != nil {
			return apperr.BadInput("corrections.email", "the email is the customer's identity: correct it in the host system, which then sends the record again")
		}
		fields = []correctedField{
			{"firstName", fix.FirstName, &rec.FirstName, false, maxFieldLen},
			{"lastName", fix.LastName, &rec.LastName, false, maxFieldLen},
			{"jobTitle", fix.JobTitle, &rec.JobTitle, false, maxFieldLen},
			{"location", fix.Location, &rec.Location, false, maxFieldLen},
			{"organization", fix.Organization, &rec.Organization, false, maxFieldLen},
			{"background", fix.Background, &rec.Background, false, maxFieldLen},
			{"phone", fix.Phone, &rec.Phone, false, maxFieldLen},
		}
		apply = func() (any, string, *string) {
			// customerDetails writes the fields that are set: those unset
			// since go.
			for _, f := range fields {
				delete(next.Details, f.name)
			}
			delete(next.Details, "fields")
			for k, v := range customerDetails(rec) {
				next.Details[k] = v
			}
			return rec, rec.Email, fullName(rec.FirstName, rec.LastName)
		}
	default:
		return apperr.New(apperr.Conflict, "sync event %d cannot be retried with corrections: its job (%s) sends no record", *next.RetryOfID, job.Kind)
	}

	var errs []error
	var corrected []string
	refused := refusedForEncoding(job)
	applies := map[string]bool{}
	for _, f := range fields {
		applies[f.name] = true
		if f.fix == nil {
			// A record refused for its encoding was stored with U+2400 for
			// each NUL and U+FFFD for each byte that was not UTF-8: the
			// fields holding them must be corrected before it is sent.
			if refused && *f.dst != nil && strings.ContainsAny(**f.dst, "\u2400\ufffd") {
				errs = append(errs, apperr.BadInput("corrections."+f.name,
					"the %s holds characters HelpScout does not accept (shown as \u2400 or \ufffd): give a corrected value", f.name))
			}
			continue
		}
		v := *f.fix
		field := "corrections." + f.name
		if err := checkText(field, strings.TrimSpace(v), f.required, f.maxLen); err != nil {
			errs = append(errs, err)
			continue
		}
		if p := encodingProblem(f.name, &v); p != "" {
			errs = append(errs, apperr.BadInput(field, "%s; HelpScout does not accept it", strings.TrimPrefix(p, f.name+" ")))
			continue
		}
		if v == "" {
			*f.dst = nil
		} else {
			*f.dst = &v
		}
		corrected = append(corrected, f.name)
	}
	for _, g := range fix.each() {
		if g.v != nil && !applies[g.name] {
			errs = append(errs, apperr.BadInput("corrections."+g.name, "a %s has no %s to correct", recordKind(job.Kind), g.name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if len(corrected) == 0 {
		return apperr.BadInput("corrections", "give at least one value to correct, or leave corrections out to send the record as it was")
	}

	payload, email, name := apply()
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("error encoding the corrected record of sync job %d: %w", job.ID, err)
	}
	job.Payload, job.CustomerEmail, next.CustomerEmail = b, &email, &email
	next.Details["corrected"] = corrected
	// The customer row before the event, whose rollup rows every writer
	// locks last.
	if err := upsertCustomer(ctx, tx, email, name, next.OccurredAt); err != nil {
		return err
	}
	return s.jobs.UpdateRecord(ctx, tx, job)
}

// recordKind names what a job sends, in refusals.
func recordKind(k db.JobKind) string {
	if k == db.JobContactForm {
		return "ticket"
	}
	return "customer record"
}

// namedValue is a field of Corrections and its API name.
type namedValue struct {
	name string
	v    *string
}

// each lists the fields of c, in the schema's order.
func (c *Corrections) each() []namedValue {
	return []namedValue{{"email", c.Email}, {"name", c.Name}, {"subject", c.Subject}, {"message", c.Message},
		{"firstName", c.FirstName}, {"lastName", c.LastName}, {"jobTitle", c.JobTitle}, {"location", c.Location},
		{"organization", c.Organization}, {"background", c.Background}, {"phone", c.Phone}}
}
