package synclog

import (
	"context"

	"github.com/kivalogic/helpscout-log/internal/pagination"
)

// page is one page of a keyset-paginated list: the rows in display order,
// the request that read them, whether the store had more, and how to make
// a row's cursor. The connection types embed it for their nodes and page
// information.
type page[T any] struct {
	rows   []T
	req    pagination.Request
	more   bool
	cursor func(T) string
}

// newPage turns the rows a store returned into a page in display order.
func newPage[T any](rows []T, req pagination.Request, more bool, cursor func(T) string) page[T] {
	if req.Backward {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	return page[T]{rows: rows, req: req, more: more, cursor: cursor}
}

// Nodes returns the page's rows.
func (p *page[T]) Nodes() []T { return p.rows }

// PageInfo says where the page stands.
func (p *page[T]) PageInfo() pagination.PageInfo {
	return p.req.Info(len(p.rows), p.more, func(i int) string { return p.cursor(p.rows[i]) })
}

// edges pairs each row with its cursor.
func edges[T, E any](p *page[T], edge func(cursor string, row T) E) []E {
	out := make([]E, len(p.rows))
	for i, r := range p.rows {
		out[i] = edge(p.cursor(r), r)
	}
	return out
}

// total is a connection's totalCount. It is counted when the field is
// resolved, unless StartTotalCount began the count earlier: then the count
// runs while the page's nodes are resolved, and TotalCount waits for it.
type total struct {
	count   func(ctx context.Context) (int64, error)
	pending *pendingTotal
}

// pendingTotal is a count under way; done closes when n and err are set.
type pendingTotal struct {
	done chan struct{}
	n    int64
	err  error
}

// StartTotalCount begins the count in the background. Call it, at most
// once, before the connection is shared between goroutines; the count
// stops with ctx.
func (t *total) StartTotalCount(ctx context.Context) {
	if t.pending != nil {
		return
	}
	p := &pendingTotal{done: make(chan struct{})}
	t.pending = p
	go func() {
		defer close(p.done)
		p.n, p.err = t.count(ctx)
	}()
}

// TotalCount counts every row matching the connection's filter.
func (t *total) TotalCount(ctx context.Context) (int, error) {
	if p := t.pending; p != nil {
		select {
		case <-p.done:
		default:
			select {
			case <-p.done:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		return int(p.n), p.err
	}
	n, err := t.count(ctx)
	return int(n), err
}
