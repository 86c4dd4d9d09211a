package db

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"
)

// retries counts the transactions Retry ran again.
var retries atomic.Int64

// Retries reports how many times, since the process started, Retry ran a
// transaction again after a deadlock or a serialization failure.
func Retries() int64 { return retries.Load() }

// maxTries bounds how often Retry runs a transaction.
const maxTries = 5

// Retryable reports whether err is a deadlock or a serialization failure:
// PostgreSQL rolled the transaction back, and running it again from the
// start is safe and likely to succeed.
func Retryable(err error) bool {
	var pgErr pgdriver.Error
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Field('C') {
	case "40P01", "40001": // deadlock_detected, serialization_failure
		return true
	}
	return false
}

// Retry runs fn, a whole transaction, and runs it again after a short
// random pause while it fails with a deadlock or a serialization failure,
// at most five times in all. Writers take customer and conversation rows
// before the shared rollup rows (see JobStore.InsertQueued), so deadlocks
// should not happen; this is the backstop for any that does, and Retries
// counts them.
func Retry(ctx context.Context, fn func() error) error {
	var err error
	for try := 1; ; try++ {
		err = fn()
		if err == nil || try == maxTries || !Retryable(err) {
			return err
		}
		retries.Add(1)
		pause := time.Duration(try)*5*time.Millisecond + time.Duration(rand.Int64N(int64(10*time.Millisecond)))
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
