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
	c := &wsConn{ws: ws, raw: hj.conn, ids: map[*graphql.OperationContext]string{}, active: map[string]opState{}, refused: map[string]bool{}}
	c.freed = sync.NewCond(&c.mu)
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
	// lastID is the id of the subscribe (or start) message read last; ids
	// maps the operations created for such messages to their ids.
	lastID string
	ids    map[*graphql.OperationContext]string
	// ops counts the operations running on the connection.
	ops atomic.Int32
	// inited is set by the connection_init message; initTimer closes the
	// connection if none comes in time.
	inited    bool
	initTimer *time.Timer
	// active holds the ids of the operations the client started whose
	// end the transport has not finished: a second one with the same id
	// is refused. An id is reserved when its subscribe is read and running
	// once its operation is admitted; a running operation frees its id
	// when its context ends, which is after the transport has forgotten
	// it (it writes the final complete first, then forgets the id, so an
	// id freed by that message could start an operation the transport
	// then drops from its table, which nobody could stop). An operation
	// whose final message the server wrote is ending: its id is free for
	// the protocol already, so a subscribe that reuses it waits, at most
	// opEndWait, for the transport to forget it (see check).
	active map[string]opState
	// freed is signalled, under mu, whenever an id leaves active.
	freed *sync.Cond
	// refused holds the ids of operations refused before they ran whose
	// error message went out: the transport follows it with a complete,
	// which the protocols do not allow after an error, and WriteJSON drops.
	refused map[string]bool
	// draining is set once the server shuts down (see drain); stopDrain
	// unregisters drain from the server's draining context.
	draining  atomic.Bool
	stopDrain func() bool
	// closed is called, once, when the connection has closed.
	closed func()
}

// opState is what a connection knows of an operation id (see active).
type opState uint8

const (
	opReserved opState = iota + 1
	opRunning
	// opEnding: the server wrote the operation's final message.
	opEnding
)

// opEndWait bounds how long a subscribe that reuses the id of an ending
// operation waits for the transport to finish it; the transport forgets
// the id right after it writes the final message, so the wait is short.
const opEndWait = 2 * time.Second

// MaxWSOperations caps the operations one WebSocket runs at once: a wall
// screen or a dashboard needs a handful, while thousands on one socket
// would only hold the server's memory.
const MaxWSOperations = 100

// admit counts an operation on the connection until ctx, the operation's
// context, ends; it reports false, counting nothing, when the connection
// already runs MaxWSOperations.
func (c *wsConn) admit(ctx context.Context, id string) bool {
	if c.ops.Add(1) > MaxWSOperations {
		c.ops.Add(-1)
		return false
	}
	if id != "" {
		c.mu.Lock()
		c.active[id] = opRunning
		c.mu.Unlock()
	}
	context.AfterFunc(ctx, func() {
		if id != "" {
			c.mu.Lock()
			delete(c.active, id)
			c.freed.Broadcast()
			c.mu.Unlock()
		}
		if c.ops.Add(-1) == 0 && c.draining.Load() {
			_ = c.WriteClose(int(websocket.StatusGoingAway), closeGoingAwayReason)
		}
	})
	return true
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
	typ, data, err := c.ws.Read(context.Background())
	if err != nil {
		switch websocket.CloseStatus(err) {
		case websocket.StatusNormalClosure, websocket.StatusNoStatusRcvd:
			return int(typ), nil, transport.ErrWebsocketClosed
		}
		return int(typ), nil, err
	}
	if code, reason := c.check(data); code != 0 {
		_ = c.WriteClose(code, reason)
		return int(typ), nil, transport.ErrWebsocketClosed
	}
	return int(typ), bytes.NewReader(data), nil
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
// before the transport reads it, and returns the close code and reason of
// the rule it breaks, or zero. It also remembers the id of a subscribe (or
// start) message: the transport creates the operation for it before it
// reads another.
//
//   - An operation id may not be reused while its operation runs (4409,
//     "Subscriber for <id> already exists"): the transport would start
//     the second operation beside the first, which the client could then
//     no longer stop.
//   - A connection_init whose payload is not an object (nor null)
//     closes with 4400, under either subprotocol.
//   - Under graphql-transport-ws: a message that is not a JSON object
//     with a known type, or a subscribe without an id, closes with 4400;
//     a subscribe before connection_init with 4401; a second
//     connection_init with 4429.
func (c *wsConn) check(data []byte) (int, string) {
	var m struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	transportWS := c.ws.Subprotocol() == protoGraphQLTransportWS
	if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
		if transportWS {
			return closeBadRequest, "Invalid message received: not a JSON object with a type"
		}
		return 0, ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m.Type {
	case "connection_init":
		if c.inited && transportWS {
			return closeTooManyInitRequests, "Too many initialisation requests"
		}
		if p := bytes.TrimSpace(m.Payload); len(p) > 0 && p[0] != '{' && !bytes.Equal(p, []byte("null")) {
			// The transport would neither acknowledge nor close: the
			// connection would stay open, uninitialised, for good.
			return closeBadRequest, "Invalid message received: the connection_init payload must be an object"
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
			return closeUnauthenticated, "Unauthorized"
		}
		if transportWS && m.ID == "" {
			return closeBadRequest, "Invalid message received: subscribe needs an id"
		}
		if transportWS && !bytes.HasPrefix(bytes.TrimSpace(m.Payload), []byte("{")) {
			return closeBadRequest, "Invalid message received: subscribe needs a payload object with the query"
		}
		if c.active[m.ID] == opEnding {
			c.awaitEnd(m.ID)
		}
		if c.active[m.ID] != 0 {
			return closeSubscriberExists, "Subscriber for " + m.ID + " already exists"
		}
		c.active[m.ID] = opReserved
		// An error not followed by a complete leaves nothing to drop for
		// the new operation.
		delete(c.refused, m.ID)
		c.lastID = m.ID
		return 0, ""
	case "complete", "stop":
		// The id stays taken until the transport has ended the operation
		// (see active).
		return 0, ""
	}
	if transportWS && !slices.Contains([]string{"connection_init", "ping", "pong"}, m.Type) {
		return closeBadRequest, "Invalid message received: unknown type " + strconv.Quote(m.Type)
	}
	return 0, ""
}

// Suffixes of the transport's complete and error messages, whose type is
// the last field.
var (
	completeSuffix = []byte(`,"type":"complete"}`)
	errorSuffix    = []byte(`,"type":"error"}`)
	idKey          = []byte(`"id":`)
)

// ended notes that the server ended the operation of a complete or error
// message b: an operation refused before it ran (a document that does not
// validate) frees its id here; one that ran frees it when its context
// ends (see admit). It reports whether b must not be sent: the complete
// that the transport writes right after the error of a refused operation,
// since an error message already ends its operation in both protocols
// (graphql-transport-ws: no further message for that id).
func (c *wsConn) ended(b []byte) (drop bool) {
	var rest []byte
	isError := false
	switch {
	case bytes.HasSuffix(b, completeSuffix):
		rest = b[:len(b)-len(completeSuffix)]
	case bytes.HasSuffix(b, errorSuffix):
		rest = b[:len(b)-len(errorSuffix)]
		isError = true
	default:
		return false
	}
	i := bytes.LastIndex(rest, idKey)
	if i < 0 {
		return false
	}
	var id string
	if json.Unmarshal(rest[i+len(idKey):], &id) != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !isError && c.refused[id] {
		// The transport writes the error and this complete in turn
		// before it reads the next message, so no new operation can have
		// taken the id in between.
		delete(c.refused, id)
		return true
	}
	switch c.active[id] {
	case opReserved:
		// Refused before it ran: the transport never took the id.
		delete(c.active, id)
		c.freed.Broadcast()
		if isError {
			c.refused[id] = true
		}
	case opRunning:
		// The transport forgets the id right after this message, then
		// ends the operation's context, which frees it (see admit).
		c.active[id] = opEnding
	}
	return false
}

// awaitEnd waits, with mu held, until the ending operation id has left
// active or opEndWait has passed.
func (c *wsConn) awaitEnd(id string) {
	wake := time.AfterFunc(opEndWait, func() {
		c.mu.Lock()
		c.freed.Broadcast()
		c.mu.Unlock()
	})
	defer wake.Stop()
	deadline := time.Now().Add(opEndWait)
	for c.active[id] == opEnding && time.Now().Before(deadline) {
		c.freed.Wait()
	}
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

// operationID returns (and forgets) the message id of rc.
func (c *wsConn) operationID(rc *graphql.OperationContext) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.ids[rc]
	delete(c.ids, rc)
	return id
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
	if c.ended(b) {
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
