package app

import (
	"os"
	"runtime/debug"
)

// TuneRuntime sets the garbage collector for a request-serving process.
// Each GraphQL response allocates many short-lived values, and the live
// heap is small, so collecting less often saves CPU and tail latency at a
// modest cost in memory: unless GOGC or GOMEMLIMIT are set, the heap may
// grow to five times its live size, under a soft limit of 1 GiB.
func TuneRuntime() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}
