package db

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"
)

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
// at most five times in all. Writers that touch the hot rollup rows and a
// customer row in different orders can deadlock under load; the loser is
// simply run again.
func Retry(ctx context.Context, fn func() error) error {
	var err error
	for try := 1; ; try++ {
		err = fn()
		if err == nil || try == maxTries || !Retryable(err) {
			return err
		}
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
