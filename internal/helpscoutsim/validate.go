package helpscoutsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// timeLayout is HelpScout's date format, yyyy-MM-dd'T'HH:mm:ss'Z'.
const timeLayout = "2006-01-02T15:04:05Z"

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// emailRE is the simulator's idea of a well-formed address: a local part
// of the usual characters, an @, and a domain of at least two labels.
var emailRE = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$`)

func wellFormedEmail(s string) bool {
	return len(s) <= 254 && emailRE.MatchString(s)
}

// javaLen counts like Java's String.length (UTF-16 units), as HelpScout's
// size checks do.
func javaLen(s string) int {
	return len(utf16.Encode([]rune(s)))
}

// decodeObject reads the request body as a JSON object, answering 400 as
// decodeBody does, or with "Expected a JSON object" for any other value.
func decodeObject(w http.ResponseWriter, rq *request) (map[string]any, bool) {
	v, ok := decodeBody(w, rq)
	if !ok {
		return nil, false
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		writeBadRequest(w, rq.corr, errList{{Message: "Expected a JSON object"}})
		return nil, false
	}
	return m, true
}

// decodeBody reads a JSON body. It refuses bytes that are not UTF-8 and
// strings holding NUL with an encoding error, and unreadable JSON with a
// plain bad request. On failure the answer is written and ok is false.
func decodeBody(w http.ResponseWriter, rq *request) (any, bool) {
	body := rq.body
	if !utf8.Valid(body) {
		writeVndError(w, http.StatusBadRequest, rq.corr, "Could not read document: Invalid UTF-8 encoding in request body", nil)
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		writeVndError(w, http.StatusBadRequest, rq.corr, "Could not read document: request body is not well-formed JSON", nil)
		return nil, false
	}
	var errs errList
	findNUL(v, "", &errs)
	if len(errs) > 0 {
		writeBadRequest(w, rq.corr, errs)
		return nil, false
	}
	return v, true
}

// findNUL reports every string holding a NUL character.
func findNUL(v any, path string, errs *errList) {
	switch t := v.(type) {
	case string:
		if strings.ContainsRune(t, 0) {
			errs.add(path, "contains an invalid character (U+0000); check the text encoding")
		}
	case map[string]any:
		for k, x := range t {
			findNUL(x, joinPath(path, k), errs)
		}
	case []any:
		for i, x := range t {
			findNUL(x, fmt.Sprintf("%s[%d]", path, i), errs)
		}
	}
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// obj is a decoded JSON object with typed getters that record type errors.
type obj struct {
	m    map[string]any
	path string
	errs *errList
}

func (o obj) has(key string) bool {
	v, ok := o.m[key]
	return ok && v != nil
}

// str returns a string field; present is false when absent or null.
func (o obj) str(key string) (val string, present bool) {
	v, ok := o.m[key]
	if !ok || v == nil {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		o.errs.reject(joinPath(o.path, key), "Invalid value, expected a string", v)
		return "", false
	}
	return s, true
}

// int returns an integer field.
func (o obj) int(key string) (val int64, present bool) {
	v, ok := o.m[key]
	if !ok || v == nil {
		return 0, false
	}
	n, ok := v.(json.Number)
	if ok {
		if i, err := n.Int64(); err == nil {
			return i, true
		}
	}
	if s, ok := v.(string); ok {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
	}
	o.errs.reject(joinPath(o.path, key), "Invalid number", v)
	return 0, false
}

func (o obj) boolean(key string) bool {
	v, ok := o.m[key]
	if !ok || v == nil {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		o.errs.reject(joinPath(o.path, key), "Invalid value, expected a boolean", v)
	}
	return b
}

// object returns a nested object; ok is false when absent, null or not an object.
func (o obj) object(key string) (obj, bool) {
	v, ok := o.m[key]
	if !ok || v == nil {
		return obj{}, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		o.errs.reject(joinPath(o.path, key), "Invalid value, expected an object", v)
		return obj{}, false
	}
	return obj{m: m, path: joinPath(o.path, key), errs: o.errs}, true
}

// array returns a nested array; present is false when absent or null.
func (o obj) array(key string) ([]any, bool) {
	v, ok := o.m[key]
	if !ok || v == nil {
		return nil, false
	}
	a, ok := v.([]any)
	if !ok {
		o.errs.reject(joinPath(o.path, key), "Invalid value, expected an array", v)
		return nil, false
	}
	return a, true
}

// enum checks an optional string against allowed values.
func (o obj) enum(key string, allowed ...string) (string, bool) {
	s, ok := o.str(key)
	if !ok {
		return "", false
	}
	for _, a := range allowed {
		if s == a {
			return s, true
		}
	}
	o.errs.reject(joinPath(o.path, key), expected(allowed), s)
	return "", false
}

func expected(allowed []string) string {
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = "'" + a + "'"
	}
	return "Expected one of these: " + strings.Join(q, ", ")
}

// sized checks an optional string's length.
func (o obj) sized(key string, minLen, maxLen int) (string, bool) {
	s, ok := o.str(key)
	if !ok {
		return "", false
	}
	if n := javaLen(s); n < minLen || n > maxLen {
		o.errs.reject(joinPath(o.path, key), fmt.Sprintf("size must be between %d and %d", minLen, maxLen), s)
		return "", false
	}
	return s, true
}

// customerLimits are the length limits of the customer fields.
var customerLimits = []struct {
	key      string
	min, max int
}{
	{"firstName", 1, 40}, {"lastName", 1, 40},
	{"jobTitle", 0, 60}, {"location", 0, 60}, {"organization", 0, 60},
	{"background", 0, 200}, {"photoUrl", 0, 200},
}

var (
	genders    = []string{"male", "female", "unknown"}
	photoTypes = []string{"unknown", "gravatar", "twitter", "facebook", "googleprofile", "googleplus", "linkedin", "instagram"}
	emailTypes = []string{"home", "work", "other"}
	phoneTypes = []string{"home", "fax", "mobile", "pager", "work", "other"}
)

// customerScalars reads and checks the scalar customer fields present in o.
func customerScalars(o obj) map[string]string {
	out := map[string]string{}
	for _, l := range customerLimits {
		if v, ok := o.sized(l.key, l.min, l.max); ok {
			out[l.key] = v
		}
	}
	if v, ok := o.enum("gender", genders...); ok {
		out["gender"] = v
	}
	if v, ok := o.enum("photoType", photoTypes...); ok {
		out["photoType"] = v
	}
	if v, ok := o.str("age"); ok {
		out["age"] = v
	}
	return out
}

// entries reads emails or phones: [{"type":..,"value":..}].
func entries(o obj, key string, types []string, email bool) []Entry {
	arr, ok := o.array(key)
	if !ok {
		return nil
	}
	var out []Entry
	for i, x := range arr {
		p := fmt.Sprintf("%s[%d]", joinPath(o.path, key), i)
		m, ok := x.(map[string]any)
		if !ok {
			o.errs.reject(p, "Invalid value, expected an object", x)
			continue
		}
		e, ok := entry(obj{m: m, path: p, errs: o.errs}, types, email)
		if ok {
			out = append(out, e)
		}
	}
	return out
}

func entry(o obj, types []string, email bool) (Entry, bool) {
	n := len(*o.errs)
	var e Entry
	if v, ok := o.str("value"); !ok || strings.TrimSpace(v) == "" {
		o.errs.add(joinPath(o.path, "value"), "may not be empty")
	} else if email && !wellFormedEmail(v) {
		o.errs.reject(joinPath(o.path, "value"), "Not well-formed email address", v)
	} else {
		e.Value = v
	}
	if t, ok := o.enum("type", types...); ok {
		e.Type = t
	} else if !o.has("type") {
		o.errs.add(joinPath(o.path, "type"), "may not be empty")
	}
	return e, len(*o.errs) == n
}
