package db

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
)

// nulEscape is the JSON escape of the NUL character, which jsonb refuses
// (its strings are text, and text cannot hold NUL).
const nulEscape = `\u0000`

// nulSymbolEscape is the JSON escape of U+2400, the visible symbol for NUL,
// which takes the place of NUL characters in what the log stores.
const nulSymbolEscape = `\u2400`

// jsonbText returns encoded JSON as text for a jsonb column, with every
// NUL character (\u0000) replaced by U+2400. Escapes are read as escapes:
// the text \u0000 that a string holds (an escaped backslash and "u0000")
// is kept as it is.
func jsonbText(b []byte) string {
	if !bytes.Contains(b, []byte(nulEscape)) {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for j := 0; j < len(b); j++ {
		if b[j] != '\\' || j+1 == len(b) {
			out = append(out, b[j])
			continue
		}
		if bytes.HasPrefix(b[j:], []byte(nulEscape)) {
			out = append(out, nulSymbolEscape...)
			j += len(nulEscape) - 1
			continue
		}
		// Any other escape: the backslash and the character it escapes,
		// which may be a backslash itself.
		out = append(out, b[j], b[j+1])
		j++
	}
	return string(out)
}

// JSONObject is a jsonb column holding a JSON object. It writes itself as
// text, so that every string it holds is stored exactly as given (the text
// \u0000 too), NUL characters aside (see jsonbText); nil is NULL.
type JSONObject map[string]any

// Value encodes the object for the database.
func (o JSONObject) Value() (driver.Value, error) {
	if o == nil {
		return nil, nil
	}
	b, err := json.Marshal(map[string]any(o))
	if err != nil {
		return nil, fmt.Errorf("error encoding a JSON object: %w", err)
	}
	return jsonbText(b), nil
}

// Scan decodes the object from the database; NULL is nil.
func (o *JSONObject) Scan(src any) error {
	b, err := scanBytes(src)
	if err != nil || b == nil {
		*o = nil
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("error decoding a JSON object: %w", err)
	}
	*o = m
	return nil
}

// JSONText is a jsonb column kept as encoded JSON, written as JSONObject
// writes itself; nil is NULL.
type JSONText []byte

// Value returns the JSON as text for the database.
func (t JSONText) Value() (driver.Value, error) {
	if t == nil {
		return nil, nil
	}
	return jsonbText(t), nil
}

// Scan keeps a copy of the JSON the database returned; NULL is nil.
func (t *JSONText) Scan(src any) error {
	b, err := scanBytes(src)
	if err != nil || b == nil {
		*t = nil
		return err
	}
	*t = bytes.Clone(b)
	return nil
}

// MarshalJSON returns the JSON itself, null for nil.
func (t JSONText) MarshalJSON() ([]byte, error) {
	if t == nil {
		return []byte("null"), nil
	}
	return t, nil
}

// scanBytes returns the bytes of a scanned jsonb value, nil for NULL.
func scanBytes(src any) ([]byte, error) {
	switch v := src.(type) {
	case nil:
		return nil, nil
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	}
	return nil, errors.New("a jsonb value must be text or bytes")
}
