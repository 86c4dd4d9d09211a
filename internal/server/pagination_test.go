package server_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
)

const pageQuery = `query Page($filter: SyncEventFilter, $order: SyncEventOrder, $first: Int, $after: String, $last: Int, $before: String) {
  syncEvents(filter: $filter, orderBy: $order, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { id occurredAt } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`

type eventPage struct {
	TotalCount int
	Edges      []struct {
		Cursor string
		Node   struct {
			ID         string
			OccurredAt time.Time
		}
	}
	Nodes    []struct{ ID string }
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
}

// page asks for one page and checks that it is self-consistent.
func (f *fixture) page(t *testing.T, filter map[string]any, order string, args map[string]any) (eventPage, []int64) {
	t.Helper()
	vars := map[string]any{"filter": filter, "order": map[string]any{"direction": order}}
	for k, v := range args {
		vars[k] = v
	}
	resp := f.gql(t, callerManager, pageQuery, vars)
	resp.requireOK(t)
	var out struct{ SyncEvents eventPage }
	resp.decode(t, &out)
	p := out.SyncEvents
	require.Len(t, p.Nodes, len(p.Edges))
	var ids []int64
	for i, e := range p.Edges {
		require.Equal(t, e.Node.ID, p.Nodes[i].ID, "nodes and edges agree")
		ids = append(ids, mustID(t, e.Node.ID))
	}
	if len(p.Edges) > 0 {
		require.NotNil(t, p.PageInfo.StartCursor)
		require.NotNil(t, p.PageInfo.EndCursor)
		require.Equal(t, p.Edges[0].Cursor, *p.PageInfo.StartCursor)
		require.Equal(t, p.Edges[len(p.Edges)-1].Cursor, *p.PageInfo.EndCursor)
	} else {
		require.Nil(t, p.PageInfo.StartCursor)
		require.Nil(t, p.PageInfo.EndCursor)
	}
	return p, ids
}

// TestPaginationWalks pages through lists holding 35 events at one instant
// forward (first/after) and backward (last/before) in both orders, and
// checks that every event comes exactly once, in order.
func TestPaginationWalks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	require.Len(t, f.ties, 35)
	window := map[string]any{"from": ts(f.tieTime.Add(-3 * time.Hour)), "to": ts(f.tieTime.Add(3 * time.Hour))}
	windowRef := ref{from: ptr(f.tieTime.Add(-3 * time.Hour)), to: ptr(f.tieTime.Add(3 * time.Hour))}
	tieOnly := map[string]any{"from": ts(f.tieTime), "to": ts(f.tieTime.Add(time.Microsecond))}
	tieRef := ref{from: &f.tieTime, to: ptr(f.tieTime.Add(time.Microsecond))}

	lists := []struct {
		name   string
		filter map[string]any
		ref    ref
	}{
		{"whole log", nil, ref{}},
		{"window around the tie", window, windowRef},
		{"only the tie", tieOnly, tieRef},
		{"tickets, failed or succeeded", map[string]any{"types": []string{"TICKET_CREATED"}, "statuses": []string{"FAILED", "SUCCESS"}},
			ref{types: []db.EventType{db.EventTicketCreated}, statuses: []db.EventStatus{db.StatusFailed, db.StatusSuccess}}},
	}
	const size = 7
	for _, l := range lists {
		for _, order := range []string{"DESC", "ASC"} {
			want := f.expect(l.ref, order == "DESC")
			require.Greater(t, len(want), size*2, "the list must span several pages")
			t.Run(l.name+"/"+order+"/forward", func(t *testing.T) {
				t.Parallel()
				var got []int64
				var after any
				for pages := 0; ; pages++ {
					require.Less(t, pages, len(want), "paging does not end")
					p, ids := f.page(t, l.filter, order, map[string]any{"first": size, "after": after})
					require.Equal(t, len(want), p.TotalCount)
					require.Equal(t, after != nil, p.PageInfo.HasPreviousPage, "page %d", pages)
					got = append(got, ids...)
					if !p.PageInfo.HasNextPage {
						require.LessOrEqual(t, len(ids), size)
						break
					}
					require.Len(t, ids, size, "a page before the last is full")
					after = *p.PageInfo.EndCursor
				}
				require.Equal(t, want, got, "every event once, in order")
			})
			t.Run(l.name+"/"+order+"/backward", func(t *testing.T) {
				t.Parallel()
				var got []int64
				var before any
				for pages := 0; ; pages++ {
					require.Less(t, pages, len(want), "paging does not end")
					p, ids := f.page(t, l.filter, order, map[string]any{"last": size, "before": before})
					require.Equal(t, len(want), p.TotalCount)
					require.Equal(t, before != nil, p.PageInfo.HasNextPage, "page %d", pages)
					got = append(slices.Clone(ids), got...)
					if !p.PageInfo.HasPreviousPage {
						require.LessOrEqual(t, len(ids), size)
						break
					}
					require.Len(t, ids, size, "a page after the first is full")
					before = *p.PageInfo.StartCursor
				}
				require.Equal(t, want, got, "every event once, in order")
			})
		}
	}
}

// TestPaginationBetweenCursors gives after and before together, with first
// and with last, around and inside the tie.
func TestPaginationBetweenCursors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, order := range []string{"DESC", "ASC"} {
		want := f.expect(ref{}, order == "DESC")
		require.Less(t, len(want), 300, "the fixture fits one page of 300")
		all, ids := f.page(t, nil, order, map[string]any{"first": 300})
		require.Equal(t, want, ids)
		cursor := map[int64]string{}
		for _, e := range all.Edges {
			cursor[mustID(t, e.Node.ID)] = e.Cursor
		}
		// Positions of the tie in this order.
		tiePos := slices.Index(want, f.ties[0].ID)
		require.GreaterOrEqual(t, tiePos, 0)
		firstTie, lastTie := len(want), -1
		for i, id := range want {
			if f.byID[id].OccurredAt.Equal(f.tieTime) {
				firstTie, lastTie = min(firstTie, i), max(lastTie, i)
			}
		}
		require.Equal(t, 34, lastTie-firstTie)

		cases := []struct {
			name string
			i, j int // after want[i], before want[j]
			n    int
		}{
			{"wide", 3, 40, 10},
			{"exactly n between", 5, 16, 10},
			{"more than n between", 5, 17, 10},
			{"adjacent", 8, 9, 5},
			{"inside the tie", firstTie + 2, lastTie - 3, 12},
			{"across the tie", firstTie - 4, lastTie + 4, 20},
			{"across the tie, everything", firstTie - 4, lastTie + 4, 100},
		}
		for _, tc := range cases {
			between := want[tc.i+1 : tc.j]
			t.Run(order+"/"+tc.name+"/first", func(t *testing.T) {
				t.Parallel()
				p, ids := f.page(t, nil, order, map[string]any{"first": tc.n, "after": cursor[want[tc.i]], "before": cursor[want[tc.j]]})
				exp := between[:min(tc.n, len(between))]
				require.Equal(t, exp, nilIfEmpty(ids, exp))
				require.Equal(t, len(between) > tc.n, p.PageInfo.HasNextPage)
				require.True(t, p.PageInfo.HasPreviousPage)
			})
			t.Run(order+"/"+tc.name+"/last", func(t *testing.T) {
				t.Parallel()
				p, ids := f.page(t, nil, order, map[string]any{"last": tc.n, "after": cursor[want[tc.i]], "before": cursor[want[tc.j]]})
				exp := between[max(0, len(between)-tc.n):]
				require.Equal(t, exp, nilIfEmpty(ids, exp))
				require.Equal(t, len(between) > tc.n, p.PageInfo.HasPreviousPage)
				require.True(t, p.PageInfo.HasNextPage)
			})
		}
	}
}

// TestCustomerPagination walks the customers list, where customers without
// events share one lastEventAt.
func TestCustomerPagination(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	want := slices.Clone(f.customers)
	slices.SortFunc(want, func(a, b *db.Customer) int {
		if c := b.LastEventAt.Compare(a.LastEventAt); c != 0 {
			return c
		}
		return cmpInt(b.ID, a.ID)
	})
	var wantEmails []string
	for _, c := range want {
		wantEmails = append(wantEmails, c.Email)
	}
	query := `query($first: Int, $after: String, $last: Int, $before: String) {
  customers(first: $first, after: $after, last: $last, before: $before) {
    totalCount
    nodes { email }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`
	type page struct {
		Customers struct {
			TotalCount int
			Nodes      []struct{ Email string }
			PageInfo   struct {
				HasNextPage, HasPreviousPage bool
				StartCursor, EndCursor       *string
			}
		}
	}
	t.Run("forward", func(t *testing.T) {
		t.Parallel()
		var got []string
		var after any
		for i := 0; i < 20; i++ {
			resp := f.gql(t, callerManager, query, map[string]any{"first": 3, "after": after})
			resp.requireOK(t)
			var p page
			resp.decode(t, &p)
			require.Equal(t, len(want), p.Customers.TotalCount)
			for _, n := range p.Customers.Nodes {
				got = append(got, n.Email)
			}
			if !p.Customers.PageInfo.HasNextPage {
				break
			}
			after = *p.Customers.PageInfo.EndCursor
		}
		require.Equal(t, wantEmails, got)
	})
	t.Run("backward", func(t *testing.T) {
		t.Parallel()
		var got []string
		var before any
		for i := 0; i < 20; i++ {
			resp := f.gql(t, callerManager, query, map[string]any{"last": 3, "before": before})
			resp.requireOK(t)
			var p page
			resp.decode(t, &p)
			var ids []string
			for _, n := range p.Customers.Nodes {
				ids = append(ids, n.Email)
			}
			got = append(ids, got...)
			if !p.Customers.PageInfo.HasPreviousPage {
				break
			}
			before = *p.Customers.PageInfo.StartCursor
		}
		require.Equal(t, wantEmails, got)
	})
}
