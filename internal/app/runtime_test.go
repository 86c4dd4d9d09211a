package app

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name        string
		live, floor uint64
		base, want  int
	}{
		{name: "small live heap: the floor decides", live: 8 * mib, floor: 256 * mib, base: 400, want: 3100},
		{name: "goal exactly the floor", live: 64 * mib, floor: 256 * mib, base: 100, want: 300},
		{name: "large live heap: the base decides", live: 100 * mib, floor: 256 * mib, base: 400, want: 400},
		{name: "live heap under the minimum heap", live: 2 * mib, floor: 256 * mib, base: 400, want: 6300},
		{name: "nothing live yet", live: 0, floor: 256 * mib, base: 400, want: 6300},
		{name: "a few bytes live", live: 10, floor: 256 * mib, base: 400, want: 6300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := gcPercentFor(tt.live, tt.floor, tt.base)
			require.Equal(t, tt.want, got)
			// The runtime's goal at that GOGC reaches the floor (or the
			// base's goal, when larger) and does not overshoot it by more
			// than the live heap.
			goal := max(tt.live*uint64(100+got)/100, minHeap*uint64(got)/100)
			want := max(tt.floor, tt.live*uint64(100+tt.base)/100)
			require.GreaterOrEqual(t, goal, want-want/50, "goal %d MiB", goal/mib)
			require.LessOrEqual(t, goal, want+max(tt.live, minHeap), "goal %d MiB", goal/mib)
		})
	}
}

// TestKeepHeapFloor: the tuner sees every collection, and keeps the
// runtime's heap goal for the small live heap of a test process at the
// floor, neither below it nor far above it.
func TestKeepHeapFloor(t *testing.T) {
	old := debug.SetGCPercent(100)
	const floor = 64 << 20
	tuner := keepHeapFloor(floor, 100)
	t.Cleanup(func() {
		tuner.stop()
		debug.SetGCPercent(old)
	})
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/gogc:percent"}, {Name: "/gc/heap/live:bytes"}}
	check := func() bool {
		metrics.Read(s)
		goal := s[0].Value.Uint64()
		return goal >= floor*9/10 && goal <= floor*3/2
	}
	require.True(t, check(), "before any collection: goal %v bytes at GOGC %v", s[0].Value, s[1].Value)
	for i := int64(1); i <= 3; i++ {
		// The cleanup runs on its own goroutine after the collection.
		require.Eventually(t, func() bool {
			runtime.GC()
			return tuner.cycles.Load() >= i
		}, 5*time.Second, time.Millisecond, "collection %d seen", i)
		require.True(t, check(), "after collection %d: goal %v bytes at GOGC %v for a live heap of %v bytes", i, s[0].Value, s[1].Value, s[2].Value)
	}
}
