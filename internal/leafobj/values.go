package leafobj

import (
	"io"

	"github.com/99designs/gqlgen/graphql"
)

// The writers below write values as gqlgen's own marshalers do.

// Null writes null.
func Null(w io.Writer) { _, _ = io.WriteString(w, "null") }

// String writes s as a JSON string.
func String(w io.Writer, s string) { graphql.MarshalString(s).MarshalGQL(w) }

// OptString writes *s, or null.
func OptString(w io.Writer, s *string) {
	if s == nil {
		Null(w)
		return
	}
	String(w, *s)
}

// Enum writes an enum value, whose Go value is its GraphQL name.
func Enum[E ~string](w io.Writer, v E) { String(w, string(v)) }

// OptEnum writes *v, or null.
func OptEnum[E ~string](w io.Writer, v *E) {
	if v == nil {
		Null(w)
		return
	}
	String(w, string(*v))
}

// Int writes n.
func Int(w io.Writer, n int) { graphql.MarshalInt(n).MarshalGQL(w) }

// Int64 writes n.
func Int64(w io.Writer, n int64) { graphql.MarshalInt64(n).MarshalGQL(w) }

// OptInt writes *n, or null.
func OptInt(w io.Writer, n *int) {
	if n == nil {
		Null(w)
		return
	}
	Int(w, *n)
}

// OptInt64 writes *n, or null.
func OptInt64(w io.Writer, n *int64) {
	if n == nil {
		Null(w)
		return
	}
	Int64(w, *n)
}

// Marshal writes m, or null when v is nil.
func Marshal[V any](w io.Writer, v *V, m func(V) graphql.Marshaler) {
	if v == nil {
		Null(w)
		return
	}
	m(*v).MarshalGQL(w)
}

// Map writes a JSON object; nil is written as null.
func Map(w io.Writer, m map[string]any) {
	if m == nil {
		Null(w)
		return
	}
	graphql.MarshalMap(m).MarshalGQL(w)
}
