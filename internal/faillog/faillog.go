// Package faillog logs the failures of an operation a service repeats (a
// poll, a heartbeat, a reconnection) once per run of failures: while the
// database is down, a service that polls every second would otherwise log
// the same error every second from every loop.
package faillog

import (
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Run counts the failures in a row of one repeated operation. Its zero
// value is ready; it is safe for concurrent use.
type Run struct {
	mu       sync.Mutex
	failures int
	since    time.Time
}

// Failed counts a failure and returns the event to log it with: at level
// for the first failure of a run, at debug level with the count
// ("failures") for the others. Add the error and the message as for any
// zerolog event.
func (r *Run) Failed(log *zerolog.Logger, level zerolog.Level) *zerolog.Event {
	r.mu.Lock()
	r.failures++
	n := r.failures
	if n == 1 {
		r.since = time.Now()
	}
	r.mu.Unlock()
	if n == 1 {
		return log.WithLevel(level)
	}
	return log.Debug().Int("failures", n)
}

// Succeeded ends a run of failures. After failures it returns an info
// event with how many there were ("failures") and how long they lasted
// ("after"), to say that the operation works again; otherwise nil, on
// which zerolog's methods, Msg included, do nothing.
func (r *Run) Succeeded(log *zerolog.Logger) *zerolog.Event {
	r.mu.Lock()
	n, since := r.failures, r.since
	r.failures = 0
	r.mu.Unlock()
	if n == 0 {
		return nil
	}
	return log.Info().Int("failures", n).Dur("after", time.Since(since))
}

// Failures returns how many failures in a row the run has counted.
func (r *Run) Failures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failures
}
