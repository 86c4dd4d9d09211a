// Package pagination turns Relay-style page arguments (first/after,
// last/before) into keyset pages, and encodes the opaque cursors that
// clients pass back. Cursors carry a checksum so that a malformed or
// tampered cursor is refused with a clear error instead of silently paging
// from a wrong place.
package pagination

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
)

// DefaultPageSize is the page size when neither first nor last is given.
const DefaultPageSize = 50

// MaxPageSize caps first and last.
const MaxPageSize = 500

// Kind tells cursors of different lists apart.
type Kind string

// The cursor kinds.
const (
	KindEvent        Kind = "e"
	KindCustomer     Kind = "c"
	KindConversation Kind = "v"
)

const checksumSalt = "helpscout-log cursor v1"

func checksum(payload string) string {
	sum := sha256.Sum256([]byte(checksumSalt + payload))
	return hex.EncodeToString(sum[:6])
}

// Encode returns the opaque cursor of a position in a list of kind k.
func Encode(k Kind, pos db.Keyset) string {
	payload := string(k) + "|" + strconv.FormatInt(pos.OccurredAt.UnixNano(), 10) + "|" + strconv.FormatInt(pos.ID, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(payload + "|" + checksum(payload)))
}

// Decode parses a cursor of kind k; argument names the argument it came in,
// for the error.
func Decode(k Kind, cursor, argument string) (db.Keyset, error) {
	bad := apperr.BadInput(argument, "not a valid cursor; use a cursor returned by this list")
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return db.Keyset{}, bad
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 4 {
		return db.Keyset{}, bad
	}
	payload := strings.Join(parts[:3], "|")
	if parts[3] != checksum(payload) {
		return db.Keyset{}, bad
	}
	if Kind(parts[0]) != k {
		return db.Keyset{}, apperr.BadInput(argument, "this cursor belongs to a different list")
	}
	ns, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return db.Keyset{}, bad
	}
	return db.Keyset{OccurredAt: time.Unix(0, ns).UTC(), ID: id}, nil
}

// Args are the Relay page arguments of a list field.
type Args struct {
	First  *int
	After  *string
	Last   *int
	Before *string
}

// Request is a resolved page request.
type Request struct {
	// Page is what to ask the store for.
	Page db.Page
	// Backward is set when the store scans against the display order; the
	// rows must then be reversed before display.
	Backward bool
	// HasAfter and HasBefore record which cursors were given.
	HasAfter, HasBefore bool
}

// Resolve checks the arguments and turns them into a keyset request over a
// list displayed newest first when desc is set.
func Resolve(k Kind, a Args, desc bool) (Request, error) {
	if a.First != nil && a.Last != nil {
		return Request{}, apperr.BadInput("last", "give first or last, not both")
	}
	size := DefaultPageSize
	for _, arg := range []struct {
		name string
		v    *int
	}{{"first", a.First}, {"last", a.Last}} {
		if arg.v == nil {
			continue
		}
		if *arg.v < 0 {
			return Request{}, apperr.BadInput(arg.name, "must not be negative, got %d", *arg.v)
		}
		if *arg.v > MaxPageSize {
			return Request{}, apperr.BadInput(arg.name, "at most %d items per page, got %d", MaxPageSize, *arg.v)
		}
		size = *arg.v
	}
	var after, before *db.Keyset
	if a.After != nil {
		pos, err := Decode(k, *a.After, "after")
		if err != nil {
			return Request{}, err
		}
		after = &pos
	}
	if a.Before != nil {
		pos, err := Decode(k, *a.Before, "before")
		if err != nil {
			return Request{}, err
		}
		before = &pos
	}
	req := Request{HasAfter: after != nil, HasBefore: before != nil}
	if a.Last != nil {
		req.Backward = true
		req.Page = db.Page{Limit: size, Desc: !desc, After: before, Before: after}
	} else {
		req.Page = db.Page{Limit: size, Desc: desc, After: after, Before: before}
	}
	return req, nil
}

// PageInfo describes where a page stands.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	StartCursor     *string
	EndCursor       *string
}

// Info computes the page information of a page of n rows read for req,
// where more says whether the store had further rows, and cursorAt returns
// the cursor of the i-th displayed row.
func (req Request) Info(n int, more bool, cursorAt func(i int) string) PageInfo {
	var pi PageInfo
	if req.Backward {
		pi.HasPreviousPage = more
		pi.HasNextPage = req.HasBefore
	} else {
		pi.HasNextPage = more
		pi.HasPreviousPage = req.HasAfter
	}
	if n > 0 {
		s, e := cursorAt(0), cursorAt(n-1)
		pi.StartCursor, pi.EndCursor = &s, &e
	}
	return pi
}

// String describes the request for logs.
func (req Request) String() string {
	return fmt.Sprintf("limit=%d desc=%t backward=%t", req.Page.Limit, req.Page.Desc, req.Backward)
}
