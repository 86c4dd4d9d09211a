package helpscout

import (
	"bytes"
	"encoding/json"
	"strings"
)

// unmarshal decodes JSON from HelpScout into v with every NUL character
// removed from its strings: HelpScout passes on what its users typed, and
// PostgreSQL text cannot hold NUL, so a name or subject holding one would
// keep the record from being stored at all.
func unmarshal(data []byte, v any) error {
	if !bytes.Contains(data, []byte(`\u0000`)) {
		return json.Unmarshal(data, v)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return json.Unmarshal(data, v)
	}
	clean, err := json.Marshal(withoutNUL(tree))
	if err != nil {
		return err
	}
	return json.Unmarshal(clean, v)
}

// withoutNUL removes NUL characters from the strings and keys of a decoded
// JSON value.
func withoutNUL(v any) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, "\x00", "")
	case []any:
		for i := range v {
			v[i] = withoutNUL(v[i])
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[strings.ReplaceAll(k, "\x00", "")] = withoutNUL(x)
		}
		return out
	}
	return v
}
