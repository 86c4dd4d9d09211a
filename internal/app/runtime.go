package app

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// Garbage collector settings of a request-serving process (see TuneRuntime).
const (
	// baseGCPercent lets the heap grow to five times its live size.
	baseGCPercent = 400
	// heapFloor is the smallest heap goal the collector is given.
	heapFloor = 256 << 20
	// memoryLimit is the soft limit of the heap.
	memoryLimit = 1 << 30
)

var floorOnce sync.Once

// TuneRuntime sets the garbage collector for a request-serving process.
// Each GraphQL response allocates many short-lived values while the live
// heap stays at a few MiB, so with Go's defaults the collector would run
// dozens of times a second under load, and every request that overlaps a
// cycle pays for it in its latency. Unless GOGC or GOMEMLIMIT are set, the
// heap may grow to five times its live size and at least to 256 MiB (see
// keepHeapFloor), under a soft limit of 1 GiB.
func TuneRuntime() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(baseGCPercent)
		floorOnce.Do(func() { keepHeapFloor(heapFloor, baseGCPercent) })
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}

// minHeap is the runtime's minimum heap goal at GOGC=100: at GOGC=g the
// goal is never below minHeap*g/100, however little is live.
const minHeap = 4 << 20

// gcPercentFor is the GOGC that gives a heap of live bytes a goal of at
// least floor bytes, and never less than base. The runtime's goal is the
// larger of live*(100+GOGC)/100 and minHeap*GOGC/100, so a live heap under
// minHeap (or none measured yet, before the first collection) counts as
// minHeap: a higher GOGC would raise the goal far above the floor.
func gcPercentFor(live, floor uint64, base int) int {
	live = max(live, minHeap)
	return max(base, int(floor*100/live)-100)
}

// floorTuner sets GOGC after every collection from the live heap it found,
// so that the next goal is at least floor.
type floorTuner struct {
	floor   uint64
	base    int
	last    int
	stopped atomic.Bool
	// cycles counts the collections the tuner saw.
	cycles atomic.Int64
}

// gcSentinel is allocated to be collected: its cleanup runs once per cycle.
type gcSentinel struct {
	_ *byte
	_ [8]byte
}

// keepHeapFloor keeps the collector's heap goal at floor bytes or more,
// and GOGC at base or more, until the tuner is stopped.
func keepHeapFloor(floor uint64, base int) *floorTuner {
	t := &floorTuner{floor: floor, base: base}
	t.adjust()
	t.arm()
	return t
}

// stop ends the tuning after the next collection; GOGC keeps its value.
func (t *floorTuner) stop() { t.stopped.Store(true) }

// arm registers a cleanup on a fresh, unreachable object: it runs after
// the next collection, adjusts GOGC and arms again.
func (t *floorTuner) arm() {
	runtime.AddCleanup(new(gcSentinel), func(t *floorTuner) {
		if t.stopped.Load() {
			return
		}
		t.cycles.Add(1)
		t.adjust()
		t.arm()
	}, t)
}

// adjust sets GOGC from the live heap of the last collection; small
// changes are left alone.
func (t *floorTuner) adjust() {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := gcPercentFor(s[0].Value.Uint64(), t.floor, t.base)
	if d := p - t.last; t.last == 0 || d > t.last/10 || -d > t.last/10 {
		debug.SetGCPercent(p)
		t.last = p
	}
}
