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
		{name: "small live heap: the floor decides", live: 2 * mib, floor: 256 * mib, base: 400, want: 12700},
		{name: "goal exactly the floor", live: 64 * mib, floor: 256 * mib, base: 100, want: 300},
		{name: "large live heap: the base decides", live: 100 * mib, floor: 256 * mib, base: 400, want: 400},
		{name: "nothing live yet", live: 0, floor: 256 * mib, base: 400, want: 100 << 20},
		{name: "a few bytes live", live: 10, floor: 256 * mib, base: 400, want: 100 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := gcPercentFor(tt.live, tt.floor, tt.base)
			require.Equal(t, tt.want, got)
			if tt.live > 0 {
				goal := tt.live * uint64(100+got) / 100
				require.GreaterOrEqual(t, goal, min(tt.floor, tt.live*uint64(100+tt.base)/100), "the goal reaches the floor")
			}
		})
	}
}

// TestKeepHeapFloor: the tuner sees every collection, and keeps the goal
// of the small live heap of a test process at the floor or above.
func TestKeepHeapFloor(t *testing.T) {
	old := debug.SetGCPercent(100)
	const floor = 64 << 20
	tuner := keepHeapFloor(floor, 100)
	t.Cleanup(func() {
		tuner.stop()
		debug.SetGCPercent(old)
	})
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/heap/live:bytes"}}
	check := func() bool {
		metrics.Read(s)
		gogc, live := s[0].Value.Uint64(), s[1].Value.Uint64()
		return live > 0 && live*(100+gogc)/100 >= floor*9/10
	}
	for i := int64(1); i <= 3; i++ {
		// The cleanup runs on its own goroutine after the collection.
		require.Eventually(t, func() bool {
			runtime.GC()
			return tuner.cycles.Load() >= i
		}, 5*time.Second, time.Millisecond, "collection %d seen", i)
		require.True(t, check(), "after collection %d: GOGC %v for a live heap of %v bytes", i, s[0].Value, s[1].Value)
	}
}
