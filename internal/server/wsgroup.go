package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/rs/zerolog"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/live"
)

// Identical live subscriptions (same query, operation name, variables and
// caller role) share one GraphQL execution: wall screens and dashboards
// open the same operation by the thousand, and executing the selection set
// and marshalling the result once per event instead of once per event and
// subscriber is what lets one instance serve them. Each member is still
// authorised on its own (the root field's @hasRole, its token's expiry);
// the execution runs as a caller of its own and ends when its last member
// leaves. Subscriptions that resume from a cursor replay on their own.
// On this package's WebSockets the group marshals each response once and
// queues it on every member's connection itself (see wsconn.go), so that a
// result costs each member a few copied bytes, not a marshalling and a
// goroutine's turn.

// groupSubject is the token subject of a shared execution's caller.
const groupSubject = "live-group"

// sharedWebsocket is the WebSocket transport whose operations go through
// a sharedExecutor.
type sharedWebsocket struct {
	transport.Websocket
	shared *sharedSubscriptions
}

// Do serves a WebSocket connection.
func (t sharedWebsocket) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	r = withWSHolder(r)
	t.Websocket.Do(w, r, sharedExecutor{GraphExecutor: exec, shared: t.shared})
}

// sharedExecutor runs shareable subscriptions in groups and everything
// else on the executor it wraps.
type sharedExecutor struct {
	graphql.GraphExecutor
	shared *sharedSubscriptions
}

// DispatchOperation joins a shareable subscription to its group, starting
// the group when it has none; other operations, and callers that the field
// refuses, run alone as before.
func (e sharedExecutor) DispatchOperation(ctx context.Context, rc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	conn := wsConnFrom(ctx)
	var name, id string
	if conn != nil {
		name, id = conn.operationName(rc)
		if !conn.admit(ctx, name) {
			return tooManyOperations(e.GraphExecutor), ctx
		}
	}
	p, ok := e.shared.plan(ctx, rc)
	if !ok {
		return e.GraphExecutor.DispatchOperation(ctx, rc)
	}
	if id == "" {
		conn = nil
	}
	return e.shared.join(ctx, rc, p, e.GraphExecutor, conn, id), ctx
}

// tooManyOperations answers an operation refused because its connection
// already runs MaxWSOperations: one result with the error, then the end.
func tooManyOperations(exec graphql.GraphExecutor) graphql.ResponseHandler {
	err := codedError("TOO_MANY_OPERATIONS", fmt.Sprintf("this connection already runs %d operations, the most one WebSocket may run at once: complete one, or open another connection", MaxWSOperations))
	sent := false
	return func(ctx context.Context) *graphql.Response {
		if sent {
			return nil
		}
		sent = true
		return exec.DispatchError(ctx, gqlerror.List{err})
	}
}

// CreateOperationContext creates the operation of the message the
// connection read last, and remembers the message's id for it.
func (e sharedExecutor) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	rc, errs := e.GraphExecutor.CreateOperationContext(ctx, params)
	if conn := wsConnFrom(ctx); conn != nil && rc != nil && len(errs) == 0 {
		conn.bind(rc)
	}
	return rc, errs
}

// sharedSubscriptions holds the groups of one GraphQL handler.
type sharedSubscriptions struct {
	hub *live.Hub
	log zerolog.Logger
	// buffer is how many responses a member of a feed group may hold
	// before it is dropped.
	buffer int
	seq    atomic.Int64

	mu     sync.Mutex
	groups map[string]*subscriptionGroup
}

// newSharedSubscriptions returns the groups of a handler over hub; nil
// (everything runs alone) without a hub.
func newSharedSubscriptions(hub *live.Hub, log zerolog.Logger) *sharedSubscriptions {
	if hub == nil {
		return nil
	}
	return &sharedSubscriptions{hub: hub, log: log, buffer: live.DefaultBuffer, groups: map[string]*subscriptionGroup{}}
}

// groupPlan says how a shareable subscription is grouped.
type groupPlan struct {
	key   string
	field graphql.CollectedField
	kind  live.SharedKind
	role  auth.Role
}

// plan reports whether the operation can join a group, and which: a
// subscription to syncEvents without a cursor or to summary, by a caller
// whose token is current and has the role the field's @hasRole asks for.
func (s *sharedSubscriptions) plan(ctx context.Context, rc *graphql.OperationContext) (groupPlan, bool) {
	if s == nil || rc == nil || rc.Operation == nil || rc.Operation.Operation != ast.Subscription {
		return groupPlan{}, false
	}
	fields := graphql.CollectFields(rc, rc.Operation.SelectionSet, []string{"Subscription"})
	if len(fields) != 1 || fields[0].Definition == nil {
		return groupPlan{}, false
	}
	f := fields[0]
	p := groupPlan{field: f}
	switch f.Name {
	case "syncEvents":
		if after, _ := f.ArgumentMap(rc.Variables)["after"].(string); after != "" {
			return groupPlan{}, false
		}
		p.kind = live.SharedFeed
	case "summary":
		p.kind = live.SharedSummary
	default:
		return groupPlan{}, false
	}
	c, err := auth.CallerFrom(ctx)
	if err != nil || (!c.ExpiresAt.IsZero() && !time.Now().Before(c.ExpiresAt)) {
		return groupPlan{}, false
	}
	if need, ok := requiredRole(f.Definition); ok && !c.Role.Satisfies(need) {
		return groupPlan{}, false
	}
	vars, err := json.Marshal(rc.Variables)
	if err != nil {
		return groupPlan{}, false
	}
	p.role = c.Role
	p.key = strings.Join([]string{string(c.Role), rc.OperationName, rc.RawQuery, string(vars)}, "\x00")
	return p, true
}

// requiredRole returns the role of the field's @hasRole directive.
func requiredRole(def *ast.FieldDefinition) (auth.Role, bool) {
	d := def.Directives.ForName("hasRole")
	if d == nil {
		return "", false
	}
	arg := d.Arguments.ForName("role")
	if arg == nil || arg.Value == nil {
		return "", false
	}
	return auth.Role(arg.Value.Raw), true
}

// join adds the operation to its group, starting the group when there is
// none, and returns the member's response handler.
func (s *sharedSubscriptions) join(ctx context.Context, rc *graphql.OperationContext, p groupPlan, exec graphql.GraphExecutor, conn *wsConn, id string) graphql.ResponseHandler {
	m := &member{fctx: graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "Subscription", Field: p.field})}
	switch {
	case p.kind == live.SharedSummary:
		m.buf = make(chan *graphql.Response, 1)
	case conn != nil:
		// The group writes the member's results to its connection itself;
		// the buffer only closes when the member ends.
		m.buf = make(chan *graphql.Response, 1)
		m.conn = conn
		qid, _ := json.Marshal(id)
		m.head = slices.Concat([]byte(`{"id":`), qid, []byte(`,"type":"`+conn.dataType()+`","payload":`))
	default:
		m.buf = make(chan *graphql.Response, s.buffer)
	}
	s.mu.Lock()
	g := s.groups[p.key]
	created := g == nil
	if created {
		g = s.newGroup(p)
		s.groups[p.key] = g
	}
	g.mu.Lock()
	g.add(m)
	g.mu.Unlock()
	s.mu.Unlock()
	if created {
		g.start(rc, exec)
	}

	// The member ends with its token, with the error the resolvers give.
	ectx := live.UntilTokenExpires(ctx)
	m.stop = context.AfterFunc(ectx, func() {
		var cause error
		if p.kind == live.SharedFeed {
			g.mu.Lock()
			last := m.last
			g.mu.Unlock()
			cause = live.EndCause(ectx, last)
		} else if ae, ok := apperr.As(context.Cause(ectx)); ok {
			cause = ae
		}
		s.leave(g, m, cause)
	})
	return m.next
}

// newGroup returns a group for p, not yet started.
func (s *sharedSubscriptions) newGroup(p groupPlan) *subscriptionGroup {
	id := fmt.Sprintf("live-group-%d", s.seq.Add(1))
	g := &subscriptionGroup{shared: s, plan: p, id: id, members: map[*member]struct{}{}, started: time.Now()}
	if p.kind == live.SharedFeed {
		// Changes after the hub's position reach the group: a member that
		// resumes from here before its first change misses none.
		g.last = s.hub.Stats().Position
	}
	// The execution belongs to no member: its own caller, without expiry,
	// and its own request id for the logs.
	ctx := context.WithValue(context.Background(), middleware.RequestIDKey, id)
	ctx = context.WithValue(ctx, wsKey{}, true)
	ctx = auth.WithCaller(ctx, &auth.Caller{Subject: groupSubject, Role: p.role})
	ctx = live.WithEndReport(ctx, g.recordEnd)
	g.ctx, g.cancel = context.WithCancel(graphql.StartOperationTrace(ctx))
	return g
}

// leave removes m from g, ending it with cause; the group ends with its
// last member.
func (s *sharedSubscriptions) leave(g *subscriptionGroup, m *member, cause error) {
	s.mu.Lock()
	g.mu.Lock()
	if _, ok := g.members[m]; ok {
		g.remove(m, cause)
	}
	last := len(g.members) == 0
	if last && s.groups[g.plan.key] == g {
		delete(s.groups, g.plan.key)
	}
	g.mu.Unlock()
	s.mu.Unlock()
	if last {
		g.cancel()
	}
}

// detach takes g out of the map so that no member joins it any more.
func (s *sharedSubscriptions) detach(g *subscriptionGroup) {
	s.mu.Lock()
	if s.groups[g.plan.key] == g {
		delete(s.groups, g.plan.key)
	}
	s.mu.Unlock()
}

// subscriptionGroup is one execution shared by identical subscriptions.
type subscriptionGroup struct {
	shared  *sharedSubscriptions
	plan    groupPlan
	id      string
	started time.Time
	ctx     context.Context
	cancel  context.CancelFunc

	// cursors holds the cursors of the changes handed to the execution and
	// not yet seen in a response, oldest first: the execution turns each
	// change into exactly one response.
	cursorsMu sync.Mutex
	cursors   []string

	mu      sync.Mutex
	members map[*member]struct{}
	// counted is how many members the hub counts beyond the group's own
	// subscription.
	counted int
	// last is the cursor of the latest change fanned out (feeds).
	last string
	// latest is the latest response (summaries), sent at once to a new
	// member as the hub sends the latest summary.
	latest *graphql.Response
	// cause is why the execution ended, when the hub said.
	cause     error
	ended     bool
	responses int64
}

// add makes m a member from the next response on. g.mu is held.
func (g *subscriptionGroup) add(m *member) {
	if g.ended {
		m.end(g.cause)
		return
	}
	g.members[m] = struct{}{}
	m.last = g.last
	if g.latest != nil {
		m.replace(g.latest)
	}
	g.recount()
}

// remove ends member m with cause. g.mu is held.
func (g *subscriptionGroup) remove(m *member, cause error) {
	delete(g.members, m)
	m.end(cause)
	g.recount()
}

// recount tells the hub how many clients the group serves beyond its own
// subscription. g.mu is held.
func (g *subscriptionGroup) recount() {
	want := max(len(g.members)-1, 0)
	if g.ended {
		want = 0
	}
	g.shared.hub.AddShared(g.plan.kind, want-g.counted)
	g.counted = want
}

// recordEnd learns why the hub ended the execution's subscription.
func (g *subscriptionGroup) recordEnd(err error) {
	g.mu.Lock()
	g.cause = err
	g.mu.Unlock()
}

// start dispatches the execution and fans its responses out until it ends.
func (g *subscriptionGroup) start(rc *graphql.OperationContext, exec graphql.GraphExecutor) {
	g.shared.log.Debug().Str("group", g.id).Str("field", g.plan.field.Name).Str("operation", rc.OperationName).
		Str("role", string(g.plan.role)).Msg("shared subscription started")
	grc := &graphql.OperationContext{
		RawQuery:               rc.RawQuery,
		Variables:              rc.Variables,
		OperationName:          rc.OperationName,
		Doc:                    rc.Doc,
		Extensions:             rc.Extensions,
		Operation:              rc.Operation,
		DisableIntrospection:   rc.DisableIntrospection,
		RecoverFunc:            rc.RecoverFunc,
		ResolverMiddleware:     g.tap(rc.ResolverMiddleware),
		RootResolverMiddleware: rc.RootResolverMiddleware,
		Stats:                  graphql.Stats{OperationStart: graphql.GetStartTime(g.ctx)},
	}
	responses, ctx := exec.DispatchOperation(g.ctx, grc)
	go g.run(ctx, grc, responses)
}

// errPanicked ends the members of an execution that panicked; they get
// INTERNAL.
var errPanicked = errors.New("the shared subscription panicked")

// next returns the execution's next response, or nil when it ended or
// panicked (recovered and recorded as the cause for the members).
func (g *subscriptionGroup) next(ctx context.Context, rc *graphql.OperationContext, responses graphql.ResponseHandler) (resp *graphql.Response) {
	defer func() {
		if r := recover(); r != nil {
			_ = rc.Recover(ctx, r)
			g.recordEnd(errPanicked)
			resp = nil
		}
	}()
	return responses(ctx)
}

// run reads each response once and offers it to every member.
func (g *subscriptionGroup) run(ctx context.Context, rc *graphql.OperationContext, responses graphql.ResponseHandler) {
	for {
		resp := g.next(ctx, rc, responses)
		if resp == nil {
			break
		}
		// The execution reuses its buffer for the next response, while
		// members may still hold this one.
		resp.Data = bytes.Clone(resp.Data)
		if len(resp.Errors) > 0 && (len(resp.Data) == 0 || string(resp.Data) == "null") {
			// The subscription failed (a bad argument, no hub): those who
			// joined get the error, later ones start over.
			g.shared.detach(g)
		}
		g.fanOut(resp, g.popCursor())
	}
	g.shared.detach(g)
	g.mu.Lock()
	g.ended = true
	for m := range g.members {
		g.remove(m, g.cause)
	}
	n := g.responses
	g.mu.Unlock()
	g.cancel()
	g.shared.log.Debug().Str("group", g.id).Int64("responses", n).Dur("duration_ms", time.Since(g.started)).
		Msg("shared subscription ended")
}

// fanOut offers resp to every member: a feed member whose buffer is full
// is dropped with SLOW_CONSUMER, a summary member keeps the latest only.
func (g *subscriptionGroup) fanOut(resp *graphql.Response, cursor string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.responses++
	if cursor != "" {
		g.last = cursor
	}
	if g.plan.kind == live.SharedSummary {
		g.latest = resp
		for m := range g.members {
			m.replace(resp)
		}
		return
	}
	var payload []byte
	for m := range g.members {
		if m.conn != nil {
			if m.fctx.Err() != nil {
				// Unsubscribed: the member leaves on its own.
				continue
			}
			if payload == nil {
				// Marshalled once for every member, as the transport would
				// for each.
				b, err := json.Marshal(resp)
				if err != nil {
					g.remove(m, err)
					continue
				}
				payload = b
			}
			switch m.conn.raw.tryFrame(m.head, payload, frameTail) {
			case frameQueued:
				if cursor != "" {
					m.last = cursor
				}
			case frameFull:
				g.remove(m, live.SlowConsumer(maxPendingFrames, m.last))
			case frameClosed:
				g.remove(m, nil)
			}
			continue
		}
		select {
		case m.buf <- resp:
			if cursor != "" {
				m.last = cursor
			}
		default:
			g.remove(m, live.SlowConsumer(cap(m.buf), m.last))
		}
	}
}

// tap wraps the execution's field middleware so that the feed channel the
// root resolver returns passes through forward.
func (g *subscriptionGroup) tap(next graphql.FieldMiddleware) graphql.FieldMiddleware {
	return func(ctx context.Context, resolve graphql.Resolver) (any, error) {
		res, err := next(ctx, resolve)
		if ch, ok := res.(<-chan *live.Change); ok && err == nil && ch != nil {
			return g.forward(ch), nil
		}
		return res, err
	}
}

// forward hands the changes of in to the execution, noting each cursor
// first, so that run knows the cursor of every response.
func (g *subscriptionGroup) forward(in <-chan *live.Change) <-chan *live.Change {
	out := make(chan *live.Change)
	go func() {
		defer close(out)
		for c := range in {
			g.cursorsMu.Lock()
			g.cursors = append(g.cursors, c.Cursor)
			g.cursorsMu.Unlock()
			select {
			case out <- c:
			case <-g.ctx.Done():
				return
			}
		}
	}()
	return out
}

// popCursor returns the cursor of the oldest change not yet seen in a
// response, or "" when there is none.
func (g *subscriptionGroup) popCursor() string {
	g.cursorsMu.Lock()
	defer g.cursorsMu.Unlock()
	if len(g.cursors) == 0 {
		return ""
	}
	c := g.cursors[0]
	g.cursors = g.cursors[1:]
	return c
}

// frameTail closes a result message.
var frameTail = []byte("}")

// member is one subscription served by a group.
type member struct {
	// fctx is the operation's context with the root field's, for the path
	// of the error that ends it.
	fctx context.Context
	buf  chan *graphql.Response
	stop func() bool
	// conn, when set, is the member's WebSocket: the group writes each
	// result there itself, as a message that starts with head (id and
	// type in the connection's protocol) and goes on with the payload.
	conn *wsConn
	head []byte

	// The fields below are guarded by the group's mu; cause is written
	// before buf closes.

	// last is the cursor of the latest change put into buf (or where the
	// member joined), to resume from.
	last   string
	cause  error
	closed bool
}

// next is the member's response handler: the responses in its buffer,
// then the reason it ended, if any, for the transport to send.
func (m *member) next(ctx context.Context) *graphql.Response {
	select {
	case r, ok := <-m.buf:
		if ok {
			return r
		}
	case <-ctx.Done():
		return nil
	}
	m.stop()
	if m.cause != nil {
		live.ReportEnd(m.fctx)(m.cause)
	}
	return nil
}

// replace puts r into a buffer of one, replacing a response not yet
// taken. The group's mu is held.
func (m *member) replace(r *graphql.Response) {
	if m.closed {
		return
	}
	select {
	case m.buf <- r:
		return
	default:
	}
	select {
	case <-m.buf:
	default:
	}
	select {
	case m.buf <- r:
	default:
	}
}

// end closes the member's buffer, recording cause first. The group's mu is
// held.
func (m *member) end(cause error) {
	if m.closed {
		return
	}
	m.closed = true
	m.cause = cause
	close(m.buf)
}
