package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
)

// A live event fans out to every subscriber at once, so each WebSocket
// receives its frames in bursts, and an instance with thousands of them
// spends its time in per-frame work. The connections below keep that work
// small:
//
//   - Writes coalesce. A frame written while the connection's previous
//     write is still on its way joins the next one, so an idle server
//     sends each frame at once and a busy one sends several per system
//     call. Past a rate of frames a process spaces each connection's
//     writes too (see wspacing.go).
//   - Data frames are encoded here, and a shared subscription hands the
//     same marshalled payload to every member's connection (see
//     wsgroup.go), instead of each connection marshalling it again.
//
// The WebSocket library (coder/websocket) still does the handshake, the
// reading and the control frames (ping, pong, close), which are small and
// leave in one write each, so they never split a data frame.

const (
	// defaultMaxPending is how many bytes a WebSocket may hold for its
	// socket; a writer waits beyond it, and a shared subscription drops
	// the member as a slow consumer.
	defaultMaxPending = 1 << 20
	// maxPendingFrames is how many frames a shared subscription may queue
	// for one connection before it drops the member as a slow consumer;
	// it matches the buffer of a subscriber of its own.
	maxPendingFrames = 256
	// writeTimeout bounds how long a message waits for room in the
	// queue; the connection closes after it.
	writeTimeout = 10 * time.Second
	// closeFlushTimeout bounds how long closing a connection waits for its
	// pending frames (the close frame among them) to reach the socket.
	closeFlushTimeout = time.Second
)

// Errors of a queued write.
var (
	errWriteTimeout = errors.New("websocket: the peer did not read in time")
	errClosing      = errors.New("websocket: the connection is closing")
)

// wsImplementation accepts WebSocket connections whose writes coalesce.
type wsImplementation struct {
	// accept are the library's options (the allowed origins).
	accept websocket.AcceptOptions
	// maxPending bounds the bytes waiting for one socket;
	// defaultMaxPending when zero.
	maxPending int
	// interval spaces the writes of one connection while the process is
	// busy (see writeLoad): frames queued within it of the previous write
	// leave together with the next. Zero writes each frame as soon as the
	// previous write returns.
	interval time.Duration
	// load counts the writes of every connection and wheel wakes those
	// whose next write is due; with either nil no write waits.
	load  loadGauge
	wheel *pacer
	// initTimeout is how long a connection may wait before its
	// connection_init; it then closes with 4408. Zero waits forever.
	initTimeout time.Duration
	// draining ends when the server begins to shut down: each connection
	// then closes with 1001 once its operations have ended (see
	// wsConn.drain). Nil never ends.
	draining context.Context
	// open counts the connections until they have closed; nil: not
	// counted.
	open *sync.WaitGroup
}

var _ transport.WebsocketImplementation = wsImplementation{}

// wsHolderKey marks the request context with the holder of its WebSocket.
type wsHolderKey struct{}

// wsHolder receives the connection that serves a request, so that the
// operations of that request can write to it directly.
type wsHolder struct{ conn *wsConn }

// withWSHolder returns r with an empty holder for its connection.
func withWSHolder(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), wsHolderKey{}, &wsHolder{}))
}

// wsConnFrom returns the connection of the request ctx belongs to, or nil.
func wsConnFrom(ctx context.Context) *wsConn {
	if h, ok := ctx.Value(wsHolderKey{}).(*wsHolder); ok {
		return h.conn
	}
	return nil
}

// Accept upgrades the request.
func (u wsImplementation) Accept(w http.ResponseWriter, r *http.Request, options transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	for key, values := range options.ResponseHeader {
		for _, v := range values {
			w.Header().Add(key, v)
		}
	}
	opts := u.accept
	opts.Subprotocols = slices.Clone(opts.Subprotocols)
	for _, p := range options.Subprotocols {
		if !slices.Contains(opts.Subprotocols, p) {
			opts.Subprotocols = append(opts.Subprotocols, p)
		}
	}
	// Data frames are written uncompressed by this package.
	opts.CompressionMode = websocket.CompressionDisabled
	limit := u.maxPending
	if limit <= 0 {
		limit = defaultMaxPending
	}
	hj := &coalescingHijacker{ResponseWriter: w, maxPending: limit, interval: u.interval, load: u.load, wheel: u.wheel}
	ws, err := websocket.Accept(hj, r, &opts)
	if err != nil {
		return nil, err
	}
	if hj.conn == nil {
		_ = ws.CloseNow()
		return nil, errors.New("websocket: the connection was not hijacked")
	}
	c := &wsConn{ws: ws, raw: hj.conn, ids: map[*graphql.OperationContext]string{}, inUse: map[string]string{}, named: map[string]*wsOp{}}
	if u.open != nil {
		u.open.Add(1)
		c.closed = sync.OnceFunc(u.open.Done)
	} else {
		c.closed = func() {}
	}
	if u.initTimeout > 0 {
		c.mu.Lock()
		c.initTimer = time.AfterFunc(u.initTimeout, func() {
			_ = c.WriteClose(closeInitTimeout, "Connection initialisation timeout")
		})
		c.mu.Unlock()
	}
	if u.draining != nil {
		c.mu.Lock()
		c.stopDrain = context.AfterFunc(u.draining, c.drain)
		c.mu.Unlock()
	}
	if h, ok := r.Context().Value(wsHolderKey{}).(*wsHolder); ok {
		h.conn = c
	}
	return c, nil
}

// drainPatience is how long a draining connection waits for its
// operations to end before it closes anyway.
const drainPatience = 2 * time.Second

// closeGoingAwayReason is the close reason of a connection the server closes as
// it shuts down; the client reconnects (to another instance) and resumes.
const closeGoingAwayReason = "the server is shutting down; reconnect and resubscribe"

// drain closes the connection with 1001 (going away) once its operations
// have ended, so that their last messages (a subscription's cursor to
// resume from) reach the client first; after drainPatience it closes
// whatever runs.
func (c *wsConn) drain() {
	c.draining.Store(true)
	if c.ops.Load() == 0 {
		_ = c.WriteClose(int(websocket.StatusGoingAway), closeGoingAwayReason)
		return
	}
	time.AfterFunc(drainPatience, func() { _ = c.WriteClose(int(websocket.StatusGoingAway), closeGoingAwayReason) })
}

// wsConn is one WebSocket as the GraphQL transport sees it.
type wsConn struct {
	ws  *websocket.Conn
	raw *coalescingConn

	mu           sync.Mutex
	readDeadline *time.Timer
	closing      bool
	// Operation ids. The transport never sees the client's ids: each
	// subscribe (or start) it reads carries a name of the connection's own
	// instead, unique on the connection, and every message it writes is
	// sent with the client's id again. A client may reuse an id as soon as
	// its operation has ended for it (the server wrote the final message,
	// or the client completed it), while the transport still winds the
	// old operation down: under its own name, the old one cannot take the
	// new one's place in the transport's table, and nothing it still
	// writes reaches the client under the reused id.
	//
	// lastID is the name given to the subscribe read last; ids maps the
	// operations created for such messages to their names. inUse maps the
	// client's ids of the operations that have not ended for the client
	// to their names; a subscribe that reuses one of them is refused.
	// named holds the operations by name until the transport has ended
	// them.
	lastID string
	ids    map[*graphql.OperationContext]string
	seq    uint64
	inUse  map[string]string
	named  map[string]*wsOp
	// ops counts the operations running on the connection.
	ops atomic.Int32
	// inited is set by the connection_init message; initTimer closes the
	// connection if none comes in time.
	inited    bool
	initTimer *time.Timer
	// draining is set once the server shuts down (see drain); stopDrain
	// unregisters drain from the server's draining context.
	draining  atomic.Bool
	stopDrain func() bool
	// closed is called, once, when the connection has closed.
	closed func()
}

// wsOp is an operation of the connection under the name the transport
// knows it by (see wsConn.named).
type wsOp struct {
	// client is the id the client gave the operation.
	client string
	// over is set once the operation has ended for the client: the
	// server wrote its final message (complete, or error, which ends an
	// operation in both protocols), or the client completed it
	// (graphql-transport-ws: "no further events, relevant to the
	// original subscription, should be sent through"). Nothing more of
	// it is sent, such as the complete the transport writes after an
	// error or after the client's own complete.
	over bool
}

// MaxWSOperations caps the operations one WebSocket runs at once: a wall
// screen or a dashboard needs a handful, while thousands on one socket
// would only hold the server's memory.
const MaxWSOperations = 100

// admit counts an operation on the connection until ctx, the operation's
// context, ends; it reports false, counting nothing, when the connection
// already runs MaxWSOperations. name is the operation's name for the
// transport (see wsConn.named), forgotten when ctx ends.
func (c *wsConn) admit(ctx context.Context, name string) bool {
	ok := c.ops.Add(1) <= MaxWSOperations
	if !ok {
		c.ops.Add(-1)
	}
	context.AfterFunc(ctx, func() {
		if name != "" {
			c.forget(name)
		}
		if ok && c.ops.Add(-1) == 0 && c.draining.Load() {
			_ = c.WriteClose(int(websocket.StatusGoingAway), closeGoingAwayReason)
		}
	})
	return ok
}

// forget drops the operation named name, whose transport has ended it;
// its client id is free again if it was not already.
func (c *wsConn) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if op := c.named[name]; op != nil {
		if c.inUse[op.client] == name {
			delete(c.inUse, op.client)
		}
		delete(c.named, name)
	}
}

var (
	_ transport.WebsocketConn          = (*wsConn)(nil)
	_ transport.WebsocketReadLimiter   = (*wsConn)(nil)
	_ transport.WebsocketReadDeadliner = (*wsConn)(nil)
)

// NextReader returns the next message; a normal close by the peer is
// transport.ErrWebsocketClosed. A message that breaks the rules of the
// subprotocol closes the connection with the code the protocol gives
// (see check), and ends the transport's reading quietly.
func (c *wsConn) NextReader() (int, io.Reader, error) {
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			switch websocket.CloseStatus(err) {
			case websocket.StatusNormalClosure, websocket.StatusNoStatusRcvd:
				return int(typ), nil, transport.ErrWebsocketClosed
			}
			return int(typ), nil, err
		}
		out, code, reason := c.check(data)
		if code != 0 {
			_ = c.WriteClose(code, reason)
			return int(typ), nil, transport.ErrWebsocketClosed
		}
		if out == nil {
			// Answered or ignored here (see check).
			if err := c.answerEarly(data); err != nil {
				return int(typ), nil, err
			}
			continue
		}
		return int(typ), bytes.NewReader(out), nil
	}
}

// answerEarly answers a ping that came before connection_init: the
// transport, waiting for connection_init, would close the connection as a
// protocol error, while graphql-transport-ws allows a ping at any time.
// A pong or complete that early needs no answer.
func (c *wsConn) answerEarly(data []byte) error {
	var m struct {
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload,omitempty"`
	}
	if json.Unmarshal(data, &m) != nil || m.Type != "ping" {
		return nil
	}
	m.Type = "pong"
	return c.WriteJSON(m)
}

// Close codes of graphql-transport-ws, which the transport does not send
// itself (it closes with 1002 where the protocol asks for these); the
// duplicate id and the initialisation timeout close either subprotocol
// with them.
const (
	closeBadRequest          = 4400
	closeInitTimeout         = 4408
	closeSubscriberExists    = 4409
	closeTooManyInitRequests = 4429
)

// check applies the rules of the subprotocol to a message from the client
// before the transport reads it, and returns the message the transport is
// to read, or the close code and reason of the rule it breaks. A subscribe
// (or start) message gets a name for its operation in place of its id
// (see wsConn.named), remembered for the operation that the transport
// creates before it reads another message; a complete (or stop) message
// ends the operation for the client and names it.
//
//   - An operation id may not be reused while its operation runs (4409,
//     "Subscriber for <id> already exists"): the client could no longer
//     tell the two operations' messages apart, nor stop the first.
//   - A connection_init whose payload is not an object (nor null)
//     closes with 4400, under either subprotocol.
//   - Under graphql-transport-ws: a message that is not a JSON object
//     with a known type, or a subscribe without an id, closes with 4400;
//     a subscribe before connection_init with 4401; a second
//     connection_init with 4429. A ping, pong or complete before
//     connection_init is no message for the transport (nil, answered by
//     NextReader): the protocol allows them at any time.
func (c *wsConn) check(data []byte) ([]byte, int, string) {
	var m struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	transportWS := c.ws.Subprotocol() == protoGraphQLTransportWS
	if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
		if transportWS {
			return nil, closeBadRequest, "Invalid message received: not a JSON object with a type"
		}
		return data, 0, ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if transportWS && !c.inited && slices.Contains([]string{"ping", "pong", "complete"}, m.Type) {
		return nil, 0, ""
	}
	switch m.Type {
	case "connection_init":
		if c.inited && transportWS {
			return nil, closeTooManyInitRequests, "Too many initialisation requests"
		}
		if p := bytes.TrimSpace(m.Payload); len(p) > 0 && p[0] != '{' && !bytes.Equal(p, []byte("null")) {
			// The transport would neither acknowledge nor close: the
			// connection would stay open, uninitialised, for good.
			return nil, closeBadRequest, "Invalid message received: the connection_init payload must be an object"
		}
		c.inited = true
		if c.initTimer != nil {
			c.initTimer.Stop()
		}
	case "subscribe", "start":
		if transportWS != (m.Type == "subscribe") {
			break
		}
		if transportWS && !c.inited {
			return nil, closeUnauthenticated, "Unauthorized"
		}
		if transportWS && m.ID == "" {
			return nil, closeBadRequest, "Invalid message received: subscribe needs an id"
		}
		if transportWS && !bytes.HasPrefix(bytes.TrimSpace(m.Payload), []byte("{")) {
			return nil, closeBadRequest, "Invalid message received: subscribe needs a payload object with the query"
		}
		if _, ok := c.inUse[m.ID]; ok {
			return nil, closeSubscriberExists, "Subscriber for " + m.ID + " already exists"
		}
		c.seq++
		name := "op" + strconv.FormatUint(c.seq, 10)
		c.inUse[m.ID] = name
		c.named[name] = &wsOp{client: m.ID}
		c.lastID = name
		return renamed(m.Type, name, m.Payload), 0, ""
	case "complete", "stop":
		// An id the client has no operation under names none for the
		// transport either.
		name := c.inUse[m.ID]
		if name != "" {
			delete(c.inUse, m.ID)
			c.named[name].over = true
		}
		return renamed(m.Type, name, nil), 0, ""
	}
	if transportWS && !slices.Contains([]string{"connection_init", "ping", "pong"}, m.Type) {
		return nil, closeBadRequest, "Invalid message received: unknown type " + strconv.Quote(m.Type)
	}
	return data, 0, ""
}

// renamed is a client message of type typ with the id name.
func renamed(typ, name string, payload json.RawMessage) []byte {
	b, _ := json.Marshal(struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload,omitempty"`
	}{name, typ, payload})
	return b
}

// Suffixes and keys of the messages the transport writes, whose type is
// the last field and whose id the one before it.
var (
	completeSuffix = []byte(`,"type":"complete"}`)
	errorSuffix    = []byte(`,"type":"error"}`)
	typeKey        = []byte(`,"type":"`)
	idKey          = []byte(`"id":`)
)

// toClient returns message b of the transport as the client is to read
// it: with the client's id of its operation in place of the operation's
// name, or nil when it must not be sent, because its operation has ended
// for the client (see wsOp.over). A complete or error message ends its
// operation for the client.
func (c *wsConn) toClient(b []byte) []byte {
	t := bytes.LastIndex(b, typeKey)
	if t < 0 {
		return b
	}
	at := bytes.LastIndex(b[:t], idKey)
	if at < 0 {
		// A message of the connection (connection_ack, ka, pong).
		return b
	}
	at += len(idKey)
	var name string
	if json.Unmarshal(b[at:t], &name) != nil {
		return b
	}
	final := bytes.HasSuffix(b, completeSuffix) || bytes.HasSuffix(b, errorSuffix)
	c.mu.Lock()
	op := c.named[name]
	if op == nil || op.over {
		// Forgotten operations have ended too. A final message after the
		// end is the transport's last for the operation: an operation
		// refused before it ran has no context to forget it by.
		if final {
			delete(c.named, name)
		}
		c.mu.Unlock()
		return nil
	}
	if final {
		op.over = true
		if c.inUse[op.client] == name {
			delete(c.inUse, op.client)
		}
	}
	client := op.client
	c.mu.Unlock()
	qid, _ := json.Marshal(client)
	return slices.Concat(b[:at], qid, b[t:])
}

// bind records that rc serves the message read last.
func (c *wsConn) bind(rc *graphql.OperationContext) {
	c.mu.Lock()
	if c.lastID != "" {
		c.ids[rc] = c.lastID
		c.lastID = ""
	}
	c.mu.Unlock()
}

// operationName returns (and forgets) the name of rc for the transport
// and its client's id.
func (c *wsConn) operationName(rc *graphql.OperationContext) (name, clientID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name = c.ids[rc]
	delete(c.ids, rc)
	if op := c.named[name]; op != nil {
		clientID = op.client
	}
	return name, clientID
}

// dataType is the message type of a result in the connection's protocol.
func (c *wsConn) dataType() string {
	if c.ws.Subprotocol() == protoGraphQLTransportWS {
		return "next"
	}
	return "data"
}

// protoGraphQLTransportWS is the subprotocol of the graphql-ws library.
const protoGraphQLTransportWS = "graphql-transport-ws"

// WriteJSON sends v as a text message, waiting for room in the queue.
func (c *wsConn) WriteJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if b = c.toClient(b); b == nil {
		return nil
	}
	return c.raw.writeFrame(writeTimeout, b)
}

// WriteClose starts the close handshake in the background (the library
// waits for the peer's close frame), refusing further data frames.
func (c *wsConn) WriteClose(code int, reason string) error {
	c.stopReadDeadline()
	c.stopInitTimer()
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	stopDrain := c.stopDrain
	c.mu.Unlock()
	if stopDrain != nil {
		stopDrain()
	}
	c.raw.refuseFrames()
	go func() {
		_ = c.ws.Close(websocket.StatusCode(code), reason)
		c.closed()
	}()
	return nil
}

// Close closes the connection at once, unless a close handshake owns it.
func (c *wsConn) Close() error {
	c.stopReadDeadline()
	c.stopInitTimer()
	c.mu.Lock()
	closing := c.closing
	stopDrain := c.stopDrain
	c.mu.Unlock()
	if stopDrain != nil {
		stopDrain()
	}
	if closing {
		return nil
	}
	defer c.closed()
	return c.ws.CloseNow()
}

// Subprotocol is the negotiated subprotocol.
func (c *wsConn) Subprotocol() string { return c.ws.Subprotocol() }

// SetReadLimit bounds the size of a message read.
func (c *wsConn) SetReadLimit(limit int64) { c.ws.SetReadLimit(limit) }

// SetReadDeadline closes the connection when nothing is read by t (the
// transport moves it on with each pong); the zero time clears it.
func (c *wsConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	if c.readDeadline != nil {
		c.readDeadline.Stop()
		c.readDeadline = nil
	}
	now := false
	if !t.IsZero() {
		if d := time.Until(t); d > 0 {
			c.readDeadline = time.AfterFunc(d, func() { _ = c.ws.CloseNow() })
		} else {
			now = true
		}
	}
	c.mu.Unlock()
	if now {
		return c.ws.CloseNow()
	}
	return nil
}

// stopInitTimer stops the wait for connection_init.
func (c *wsConn) stopInitTimer() {
	c.mu.Lock()
	if c.initTimer != nil {
		c.initTimer.Stop()
	}
	c.mu.Unlock()
}

// stopReadDeadline cancels the read deadline.
func (c *wsConn) stopReadDeadline() {
	c.mu.Lock()
	if c.readDeadline != nil {
		c.readDeadline.Stop()
		c.readDeadline = nil
	}
	c.mu.Unlock()
}

// coalescingHijacker hands the WebSocket library a coalescing connection
// when it hijacks the request's connection.
type coalescingHijacker struct {
	http.ResponseWriter
	maxPending int
	interval   time.Duration
	load       loadGauge
	wheel      *pacer
	conn       *coalescingConn
}

// Hijack takes over the connection and wraps it.
func (h *coalescingHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = newCoalescingConn(c, h.maxPending, h.interval, h.load, h.wheel)
	return h.conn, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(h.conn, 4096)), nil
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (h *coalescingHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// coalescingConn is a net.Conn whose writes are queued and sent by one
// flusher at a time, while the process is busy at most one write per
// interval; whatever queues up meanwhile leaves with the next write.
type coalescingConn struct {
	net.Conn
	maxPending int
	interval   time.Duration
	load       loadGauge
	wheel      *pacer

	mu   sync.Mutex
	cond sync.Cond // broadcast when the queue shrinks or an error is set
	// pending is what waits for the socket, frames how many data frames
	// it holds; spare is the buffer the flusher hands back for reuse.
	pending  []byte
	frames   int
	spare    []byte
	flushing bool
	// noFrames refuses data frames once the close handshake started.
	noFrames bool
	// paced: the wheel starts the next flusher when the write is due.
	paced bool
	// closing skips the wait between writes.
	closing   bool
	lastWrite time.Time
	err       error
}

// newCoalescingConn wraps c.
func newCoalescingConn(c net.Conn, maxPending int, interval time.Duration, load loadGauge, wheel *pacer) *coalescingConn {
	cc := &coalescingConn{Conn: c, maxPending: maxPending, interval: interval, load: load, wheel: wheel}
	cc.cond.L = &cc.mu
	return cc
}

// Write queues p (bytes the WebSocket library encoded: the handshake's
// answer and control frames) and returns; it waits while the queue is
// over its bound.
func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && len(c.pending) > 0 && len(c.pending)+len(p) > c.maxPending {
		c.cond.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	c.pending = append(c.pending, p...)
	c.kick()
	return len(p), nil
}

// frameOutcome is what tryFrame did.
type frameOutcome int

const (
	frameQueued frameOutcome = iota
	// frameFull: the peer is not reading fast enough.
	frameFull
	// frameClosed: the connection is closing or broken.
	frameClosed
)

// tryFrame queues one text frame whose payload is the concatenation of
// parts, without waiting: it reports frameFull when the queue holds
// maxPendingFrames frames or would go over its bound.
func (c *coalescingConn) tryFrame(parts ...[]byte) frameOutcome {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.err != nil || c.noFrames:
		return frameClosed
	case c.frames >= maxPendingFrames || (len(c.pending) > 0 && len(c.pending)+n+10 > c.maxPending):
		return frameFull
	}
	c.appendFrame(n, parts)
	return frameQueued
}

// writeFrame queues one text frame of the concatenated parts, waiting up
// to timeout for room in the queue.
func (c *coalescingConn) writeFrame(timeout time.Duration, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	deadline := time.Now().Add(timeout)
	var timer *time.Timer
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && !c.noFrames && len(c.pending) > 0 && len(c.pending)+n+10 > c.maxPending {
		if !time.Now().Before(deadline) {
			return errWriteTimeout
		}
		if timer == nil {
			timer = time.AfterFunc(timeout, func() {
				c.mu.Lock()
				c.cond.Broadcast()
				c.mu.Unlock()
			})
			defer timer.Stop()
		}
		c.cond.Wait()
	}
	switch {
	case c.err != nil:
		return c.err
	case c.noFrames:
		return errClosing
	}
	c.appendFrame(n, parts)
	return nil
}

// appendFrame appends a final, unmasked text frame of n payload bytes
// made of parts. c.mu is held.
func (c *coalescingConn) appendFrame(n int, parts [][]byte) {
	b := append(c.pending, 0x81) // FIN, text
	switch {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	for _, p := range parts {
		b = append(b, p...)
	}
	c.pending = b
	c.frames++
	if c.load != nil {
		c.load.add(time.Now())
	}
	if c.paced && c.halfFull() {
		// Do not wait for the wheel with a queue this long.
		c.paced = false
	}
	c.kick()
}

// halfFull reports whether the queue holds half of what it may: then a
// write no longer waits for its interval. c.mu is held.
func (c *coalescingConn) halfFull() bool {
	return c.frames >= maxPendingFrames/2 || len(c.pending) >= c.maxPending/2
}

// kick starts the flusher unless it runs or waits for the wheel. c.mu is
// held.
func (c *coalescingConn) kick() {
	if !c.flushing && !c.paced {
		c.flushing = true
		go c.flush()
	}
}

// refuseFrames makes later data frames fail: the close frame is on its
// way.
func (c *coalescingConn) refuseFrames() {
	c.mu.Lock()
	c.noFrames = true
	c.cond.Broadcast()
	c.mu.Unlock()
}

// flush sends the queue until it is empty or a send fails; while the
// process is busy, at most one write per interval: a write that is not due
// yet is left to the wheel, and the flusher ends (none waits once the
// connection is closing).
func (c *coalescingConn) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && len(c.pending) > 0 {
		now := time.Now()
		if due := c.lastWrite.Add(c.interval); due.After(now) && !c.closing && !c.halfFull() && c.wheel != nil && c.load != nil && c.load.busy(now) {
			c.paced = true
			c.wheel.schedule(c, due)
			break
		}
		c.lastWrite = now
		batch := c.pending
		c.pending, c.frames = c.spare[:0], 0
		c.spare = nil
		c.cond.Broadcast()
		c.mu.Unlock()
		if c.load != nil {
			c.load.wrote()
		}
		_, err := c.Conn.Write(batch)
		c.mu.Lock()
		if cap(batch) <= 16<<10 {
			// Keep a small buffer for the next batch; let a burst's go.
			c.spare = batch[:0]
		}
		if err != nil && c.err == nil {
			c.err = err
		}
		c.cond.Broadcast()
	}
	c.flushing = false
	c.cond.Broadcast()
}

// resume starts the flusher of a connection whose write the wheel held.
func (c *coalescingConn) resume() {
	c.mu.Lock()
	c.paced = false
	c.kick()
	c.mu.Unlock()
}

// Close sends what is queued (waiting at most closeFlushTimeout) and
// closes the connection.
func (c *coalescingConn) Close() error {
	c.mu.Lock()
	c.closing = true
	if !c.flushing && len(c.pending) > 0 && c.err == nil {
		// Held for the wheel: send it now.
		c.flushing = true
		go c.flush()
	}
	if c.flushing {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		for c.flushing {
			c.cond.Wait()
		}
	}
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.pending, c.spare, c.frames = nil, nil, 0
	c.cond.Broadcast()
	c.mu.Unlock()
	return c.Conn.Close()
}
