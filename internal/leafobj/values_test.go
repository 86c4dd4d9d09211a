package leafobj

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
)

func marshaled(m graphql.Marshaler) string {
	var b bytes.Buffer
	m.MarshalGQL(&b)
	return b.String()
}

// TestValuesAsGqlgenWritesThem compares each appender with the gqlgen
// marshaler it stands in for.
func TestValuesAsGqlgenWritesThem(t *testing.T) {
	strs := []string{"", "plain", `quote " and \ backslash`, "tab\tcr\rnl\n", "\x00\x01\x1f\x7f", "<a href='x'>&amp;</a>",
		"ünïcödé ✓ 日本", "\u2028\u2029", "bad utf-8 \xff\xfe end", "=HYPERLINK(\"http://evil.test\")"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		strs = append(strs, string(b))
	}
	for _, s := range strs {
		require.Equal(t, marshaled(graphql.MarshalString(s)), string(String([]byte{}, s)), "%q", s)
	}
	for _, n := range []int64{0, 1, -1, 42, math.MaxInt64, math.MinInt64, math.MaxInt32 + 1} {
		require.Equal(t, marshaled(graphql.MarshalInt64(n)), string(Int64(nil, n)))
		require.Equal(t, marshaled(graphql.MarshalInt(int(n))), string(Int(nil, int(n))))
	}
	for _, m := range []map[string]any{{}, {"a": 1, "b": []any{"x", nil, true}, "c": map[string]any{"<": "&"}}, {"z": 1.5, "a": "\u2028"}} {
		require.Equal(t, marshaled(graphql.MarshalMap(m)), string(Map([]byte{}, m)))
	}
	require.Nil(t, Map([]byte{}, nil), "JSON! cannot be null: gqlgen reports it")
	require.Nil(t, Map([]byte{}, map[string]any{"f": func() {}}), "a map that does not encode is left to gqlgen")

	s, n := "x", 7
	require.Equal(t, `null`, string(OptString(nil, nil)))
	require.Equal(t, `"x"`, string(OptString(nil, &s)))
	require.Equal(t, `null`, string(OptInt(nil, nil)))
	require.Equal(t, `7`, string(OptInt(nil, &n)))
	type color string
	c := color("RED")
	require.Equal(t, `"RED"`, string(Enum(nil, c)))
	require.Equal(t, `"RED"`, string(OptEnum(nil, &c)))
	require.Equal(t, `null`, string(OptEnum[color](nil, nil)))
	never := func([]byte, int) []byte { return nil }
	require.Equal(t, `null`, string(OptNull(nil, &n, never)))
	require.Nil(t, Opt(nil, &n, never))
}
