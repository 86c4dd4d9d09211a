package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

// TestMatchEmails finds the customer emails containing a search text:
// texts with an @ go through the index of reversed local parts, the others
// through the trigram index, with the same meaning: a case-insensitive
// substring, LIKE wildcards taken literally.
func TestMatchEmails(t *testing.T) {
	t.Parallel()
	bdb := dbtest.New(t)
	ctx := context.Background()
	var cs []*db.Customer
	for _, email := range []string{"ann@example.com", "joann@example.com", "ann@example.org", "x_ann@kiva.test",
		"xyann@kiva.test", "anna@example.com", "bob%x@kiva.test", "bobyx@kiva.test"} {
		cs = append(cs, &db.Customer{Email: email, LastEventAt: time.Now()})
	}
	for i := range 150 {
		cs = append(cs, &db.Customer{Email: fmt.Sprintf("many%d@bulk.test", i), LastEventAt: time.Now()})
	}
	require.NoError(t, db.NewCustomerStore(bdb).Insert(ctx, bdb, cs))

	cases := []struct {
		text     string
		want     []string
		complete bool
	}{
		{"ann@example.com", []string{"ann@example.com", "joann@example.com"}, true},
		{"ANN@Example.COM", []string{"ann@example.com", "joann@example.com"}, true},
		{"ann@exa", []string{"ann@example.com", "ann@example.org", "joann@example.com"}, true},
		{"nn@", []string{"ann@example.com", "ann@example.org", "joann@example.com", "x_ann@kiva.test", "xyann@kiva.test"}, true},
		{"_ann@", []string{"x_ann@kiva.test"}, true},
		{"%x@", []string{"bob%x@kiva.test"}, true},
		{"@example.org", []string{"ann@example.org"}, true},
		{"anna", []string{"anna@example.com"}, true},
		{"ann@nowhere", nil, true},
		{"1@bulk.test", nil, false},
		{"y@bulk.test", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			got, complete, err := db.NewCustomerStore(bdb).MatchEmails(ctx, tc.text, 10)
			require.NoError(t, err)
			require.Equal(t, tc.complete, complete)
			require.ElementsMatch(t, tc.want, got)
		})
	}
}
