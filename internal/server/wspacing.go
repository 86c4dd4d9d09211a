package server

import (
	"sync"
	"sync/atomic"
	"time"
)

// Spacing: while a process sends more WebSocket frames a second than its
// busy rate, each connection writes at most once per interval, so that
// the results of several events leave in one system call. writeLoad tells
// whether the process is busy; pacer starts the writes that come due.

// loadGauge counts data frames and socket writes and says whether the
// process is busy.
type loadGauge interface {
	add(now time.Time)
	wrote()
	busy(now time.Time) bool
}

// DefaultBusyRate is the rate of WebSocket frames, per second and
// process, from which connections space their writes by default.
const DefaultBusyRate = 60000

// writeSlot is the span over which writeLoad counts.
const writeSlot = time.Second

// writeLoad counts the data frames a process's WebSockets queue, in slots
// of writeSlot, to tell whether the process is busy: sending more than its
// rate a second. Frames, not writes, are counted, so that spacing the
// writes does not make the process look idle again. The counts are
// approximate under concurrency, which is all a threshold needs.
type writeLoad struct {
	// rate is the busy rate in frames a second.
	rate int
	slot atomic.Int64 // the current slot's number
	cur  atomic.Int64 // frames in the current slot
	prev atomic.Int64 // frames in the slot before it
	// frames and writes are the totals, for the metrics.
	frames atomic.Int64
	writes atomic.Int64
}

// wrote counts one write to a socket.
func (l *writeLoad) wrote() { l.writes.Add(1) }

// Totals returns how many data frames the process's WebSockets queued
// and in how many socket writes they left.
func (l *writeLoad) Totals() (frames, writes int64) { return l.frames.Load(), l.writes.Load() }

// add counts one frame at now.
func (l *writeLoad) add(now time.Time) {
	s := now.UnixNano() / int64(writeSlot)
	if old := l.slot.Load(); old != s && l.slot.CompareAndSwap(old, s) {
		n := l.cur.Swap(0)
		if s != old+1 {
			n = 0 // a slot without writes came between
		}
		l.prev.Store(n)
	}
	l.cur.Add(1)
	l.frames.Add(1)
}

// busy reports whether the frames of the last full slot, or of the
// current one so far, reach the busy rate.
func (l *writeLoad) busy(now time.Time) bool {
	limit := int64(l.rate) * int64(writeSlot) / int64(time.Second)
	switch s := now.UnixNano() / int64(writeSlot); s - l.slot.Load() {
	case 0:
		return l.prev.Load() >= limit || l.cur.Load() >= limit
	case 1:
		return l.cur.Load() >= limit
	default:
		return false
	}
}

// paceSlot is the resolution of a pacer.
const paceSlot = 5 * time.Millisecond

// pacer starts the flushers of connections whose next write is due, with
// one ticker for the process instead of a timer per waiting connection.
type pacer struct {
	mu sync.Mutex
	// slots holds the connections due in each slot (time / paceSlot);
	// next is the first slot not yet run.
	slots   map[int64][]*coalescingConn
	next    int64
	running bool
}

// schedule makes c's flusher start once due has passed.
func (p *pacer) schedule(c *coalescingConn, due time.Time) {
	s := (due.UnixNano() + int64(paceSlot) - 1) / int64(paceSlot)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.slots == nil {
		p.slots = map[int64][]*coalescingConn{}
	}
	if !p.running {
		p.running = true
		p.next = time.Now().UnixNano() / int64(paceSlot)
		go p.run()
	}
	s = max(s, p.next)
	p.slots[s] = append(p.slots[s], c)
}

// run wakes the due connections each slot until none waits.
func (p *pacer) run() {
	t := time.NewTicker(paceSlot)
	defer t.Stop()
	var due []*coalescingConn
	for now := range t.C {
		cur := now.UnixNano() / int64(paceSlot)
		p.mu.Lock()
		due = due[:0]
		for s := p.next; s <= cur; s++ {
			due = append(due, p.slots[s]...)
			delete(p.slots, s)
		}
		p.next = max(p.next, cur+1)
		if len(due) == 0 && len(p.slots) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		for i, c := range due {
			c.resume()
			due[i] = nil
		}
	}
}
