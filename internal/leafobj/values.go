package leafobj

import (
	"strconv"

	"github.com/99designs/gqlgen/graphql"
)

// The functions below append values to b as gqlgen's own marshalers write
// them (graphql.MarshalString, MarshalInt, MarshalMap and so on). Those
// that may fail return nil, which leaves the field to gqlgen.

// Null appends null.
func Null(b []byte) []byte { return append(b, "null"...) }

const hex = "0123456789ABCDEF"

// String appends s as graphql.MarshalString writes it: quotes,
// backslashes and control characters escaped, everything else (invalid
// UTF-8 included) as it is.
func String(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\t':
			b = append(b, `\t`...)
		case '\r':
			b = append(b, `\r`...)
		case '\n':
			b = append(b, `\n`...)
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// OptString appends *s, or null.
func OptString(b []byte, s *string) []byte {
	if s == nil {
		return Null(b)
	}
	return String(b, *s)
}

// Enum appends an enum value, whose Go value is its GraphQL name.
func Enum[E ~string](b []byte, v E) []byte { return String(b, string(v)) }

// OptEnum appends *v, or null.
func OptEnum[E ~string](b []byte, v *E) []byte {
	if v == nil {
		return Null(b)
	}
	return String(b, string(*v))
}

// Int appends n.
func Int(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

// Int64 appends n.
func Int64(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

// OptInt appends *n, or null.
func OptInt(b []byte, n *int) []byte {
	if n == nil {
		return Null(b)
	}
	return Int(b, *n)
}

// OptInt64 appends *n, or null.
func OptInt64(b []byte, n *int64) []byte {
	if n == nil {
		return Null(b)
	}
	return Int64(b, *n)
}

// Opt appends *v with appendValue, or null when v is nil.
func Opt[V any](b []byte, v *V, appendValue func([]byte, V) []byte) []byte {
	if v == nil {
		return Null(b)
	}
	return appendValue(b, *v)
}

// OptNull is Opt for a value whose appender returns nil for a value it
// writes as null (the zero time): null then, as gqlgen writes it for a
// nullable field.
func OptNull[V any](b []byte, v *V, appendValue func([]byte, V) []byte) []byte {
	if v == nil {
		return Null(b)
	}
	if out := appendValue(b, *v); out != nil {
		return out
	}
	return Null(b)
}

// Map appends a JSON object as graphql.MarshalMap writes it, or returns
// nil for a nil map or one that does not encode.
func Map(b []byte, m map[string]any) (out []byte) {
	if m == nil {
		return nil
	}
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	w := appendWriter{b}
	graphql.MarshalMap(m).MarshalGQL(&w)
	return w.b
}

// appendWriter is an io.Writer appending to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
