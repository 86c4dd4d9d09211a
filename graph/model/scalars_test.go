package model

import (
	"bytes"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
)

func marshaled(m graphql.Marshaler) string {
	var b bytes.Buffer
	m.MarshalGQL(&b)
	return b.String()
}

// TestAppendersAsMarshalers: the appenders of one-pass writing write what
// the scalars' marshalers write.
func TestAppendersAsMarshalers(t *testing.T) {
	for _, id := range []int64{0, 1, -7, math.MaxInt64, math.MinInt64} {
		require.Equal(t, strconv.Quote(strconv.FormatInt(id, 10)), string(AppendInt64ID(nil, id)))
		require.Equal(t, marshaled(MarshalInt64ID(id)), string(AppendInt64ID(nil, id)))
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	for _, tm := range []time.Time{
		time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC),
		time.Date(2026, 11, 28, 9, 30, 0, 123456000, berlin),
		time.Date(2026, 3, 29, 2, 30, 0, 1, berlin),
		time.Unix(0, 0),
	} {
		require.Equal(t, marshaled(MarshalTime(tm)), string(AppendTime(nil, tm)))
	}
	require.Equal(t, "null", marshaled(MarshalTime(time.Time{})))
	require.Nil(t, AppendTime([]byte{}, time.Time{}))
}
