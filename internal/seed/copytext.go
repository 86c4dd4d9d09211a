package seed

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// row builds one line of PostgreSQL's COPY text format: fields separated
// by tabs, \N for NULL, and backslash, tab, newline and carriage return
// escaped with a backslash.
type row struct {
	b      []byte
	fields int
}

func (r *row) reset() {
	r.b = r.b[:0]
	r.fields = 0
}

func (r *row) sep() {
	if r.fields > 0 {
		r.b = append(r.b, '\t')
	}
	r.fields++
}

// end terminates the line.
func (r *row) end() { r.b = append(r.b, '\n') }

func (r *row) null() {
	r.sep()
	r.b = append(r.b, '\\', 'N')
}

// text writes s escaped; the empty string is written as NULL.
func (r *row) text(s string) {
	if s == "" {
		r.null()
		return
	}
	r.sep()
	r.b = appendCopyEscaped(r.b, s)
}

// bytes writes s escaped, or NULL when s is empty.
func (r *row) bytes(s []byte) {
	if len(s) == 0 {
		r.null()
		return
	}
	r.sep()
	for _, c := range s {
		r.b = appendCopyByte(r.b, c)
	}
}

func (r *row) int(n int64) {
	r.sep()
	r.b = strconv.AppendInt(r.b, n, 10)
}

// intOrNull writes n, or NULL when n is zero.
func (r *row) intOrNull(n int64) {
	if n == 0 {
		r.null()
		return
	}
	r.int(n)
}

// time writes a microsecond timestamp in UTC; zero is NULL.
func (r *row) time(us int64) {
	if us == 0 {
		r.null()
		return
	}
	r.sep()
	r.b = time.UnixMicro(us).UTC().AppendFormat(r.b, "2006-01-02 15:04:05.000000-07")
}

func appendCopyEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b = appendCopyByte(b, s[i])
	}
	return b
}

func appendCopyByte(b []byte, c byte) []byte {
	switch c {
	case '\\':
		return append(b, '\\', '\\')
	case '\t':
		return append(b, '\\', 't')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	}
	return append(b, c)
}

// jsonObj builds a flat JSON object by appending members.
type jsonObj struct {
	b []byte
	n int
}

func (j *jsonObj) reset() {
	j.b = append(j.b[:0], '{')
	j.n = 0
}

func (j *jsonObj) key(k string) {
	if j.n > 0 {
		j.b = append(j.b, ',')
	}
	j.n++
	j.b = appendJSONString(j.b, k)
	j.b = append(j.b, ':')
}

func (j *jsonObj) str(k, v string) {
	j.key(k)
	j.b = appendJSONString(j.b, v)
}

func (j *jsonObj) int(k string, v int64) {
	j.key(k)
	j.b = strconv.AppendInt(j.b, v, 10)
}

func (j *jsonObj) strs(k string, vs []string) {
	j.key(k)
	j.b = append(j.b, '[')
	for i, v := range vs {
		if i > 0 {
			j.b = append(j.b, ',')
		}
		j.b = appendJSONString(j.b, v)
	}
	j.b = append(j.b, ']')
}

// done closes the object and returns its bytes, valid until the next reset.
func (j *jsonObj) done() []byte {
	j.b = append(j.b, '}')
	return j.b
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}
