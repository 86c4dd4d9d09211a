package syncer

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/db"
)

// batchLockKey is the advisory lock that lets one replica at a time run
// the customer batch.
const batchLockKey int64 = 0x68736c6f67_01 // "hslog" 1

// batchSize bounds the updates one batch run takes.
const batchSize = 5000

// defaultBatchInterval applies when no interval is configured.
const defaultBatchInterval = time.Minute

// batchLoop runs the customer batch every batchInterval until ctx ends.
func (s *Service) batchLoop(ctx context.Context) {
	for {
		d := s.batchInterval()
		if d <= 0 {
			d = defaultBatchInterval
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if s.paused() {
			continue
		}
		n, err := s.runBatch(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Msg("customer batch failed")
		}
		if n > 0 {
			s.notify()
		}
	}
}

// runBatch makes the customer updates waiting for the batch due in one
// pass, one replica at a time. Several updates of one customer are
// coalesced into one call: the latest job carries the merged record (the
// latest value of each field wins) and the others finish SUCCESS, their
// details naming the event that carried them. It returns how many calls
// it made due.
func (s *Service) runBatch(ctx context.Context) (int, error) {
	now := time.Now().UTC()
	batchID := "batch-" + now.Format("20060102T150405.000")
	var due int
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var locked bool
		if err := tx.NewRaw("SELECT pg_try_advisory_xact_lock(?)", batchLockKey).Scan(ctx, &locked); err != nil {
			return fmt.Errorf("error taking the batch lock: %w", err)
		}
		if !locked {
			return nil
		}
		jobs, err := s.jobs.WaitingUpdates(ctx, tx, batchSize)
		if err != nil {
			return err
		}
		groups := map[string][]*db.SyncJob{}
		var order []string
		for _, j := range jobs {
			email := ""
			if j.CustomerEmail != nil {
				email = *j.CustomerEmail
			}
			if _, ok := groups[email]; !ok {
				order = append(order, email)
			}
			groups[email] = append(groups[email], j)
		}
		for _, email := range order {
			if err := s.batchCustomer(ctx, tx, groups[email], batchID, now); err != nil {
				return err
			}
			due++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("error running the customer batch: %w", err)
	}
	if due > 0 {
		s.log.Info().Str("batch", batchID).Int("customers", due).Msg("customer batch queued")
	}
	return due, nil
}

// batchCustomer coalesces one customer's waiting updates (oldest first)
// into the latest one and makes it due.
func (s *Service) batchCustomer(ctx context.Context, tx bun.Tx, jobs []*db.SyncJob, batchID string, now time.Time) error {
	carrier := jobs[len(jobs)-1]
	merged := map[string]any{}
	for _, j := range jobs {
		var rec map[string]any
		if err := json.Unmarshal(j.Payload, &rec); err != nil {
			return fmt.Errorf("error decoding job %d: %w", j.ID, err)
		}
		for k, v := range rec {
			if v != nil && v != "" {
				merged[k] = v
			}
		}
	}
	payload, err := json.Marshal(merged)
	if err != nil {
		return fmt.Errorf("error encoding the merged record of job %d: %w", carrier.ID, err)
	}
	var rec CustomerRecord
	if err := json.Unmarshal(payload, &rec); err != nil {
		return fmt.Errorf("error decoding the merged record of job %d: %w", carrier.ID, err)
	}
	carrierEvent, err := s.jobs.Event(ctx, tx, *carrier.EventID)
	if err != nil {
		return err
	}
	var coalesced []int64
	for _, j := range jobs[:len(jobs)-1] {
		e, err := s.jobs.Event(ctx, tx, *j.EventID)
		if err != nil {
			return err
		}
		// The event stays PENDING until the attempt that carries its
		// change has an outcome, which it then takes (settleCoalesced).
		coalesced = append(coalesced, e.ID)
		e.Details["batchId"] = batchID
		e.Details["coalescedInto"] = carrierEvent.ID
		e.Details["note"] = fmt.Sprintf("sent with the later update of event %d", carrierEvent.ID)
		e.Source = db.SourceBatch
		if err := s.jobs.FinishEvent(ctx, tx, e); err != nil {
			return err
		}
		j.State = db.JobDone
		j.Result = db.JSONText(fmt.Sprintf(`{"coalescedInto":%d}`, carrierEvent.ID))
		if err := s.jobs.Update(ctx, tx, j); err != nil {
			return err
		}
	}
	d := customerDetails(rec)
	for k, v := range d {
		carrierEvent.Details[k] = v
	}
	carrierEvent.Details["batchId"] = batchID
	if len(coalesced) > 0 {
		carrierEvent.Details["coalesced"] = coalesced
	}
	carrierEvent.Source = db.SourceBatch
	if err := s.jobs.FinishEvent(ctx, tx, carrierEvent); err != nil {
		return err
	}
	if err := s.jobs.UpdatePayload(ctx, tx, carrier.ID, payload); err != nil {
		return err
	}
	carrier.RunAt = now
	return s.jobs.Update(ctx, tx, carrier)
}

// settleCoalesced gives the updates coalesced into a batched customer
// update (see batchCustomer) the final outcome of the attempt that carried
// them: SUCCESS, or FAILED with its error, and a note saying which event
// to retry, since retrying the carrier sends their changes too.
func (s *Service) settleCoalesced(ctx context.Context, tx bun.Tx, carrier *db.SyncEvent) error {
	ids, _ := carrier.Details["coalesced"].([]any)
	for _, v := range ids {
		id, ok := v.(float64)
		if !ok {
			continue
		}
		e, err := s.jobs.Event(ctx, tx, int64(id))
		if err != nil {
			return err
		}
		if e.Status != db.StatusPending {
			continue
		}
		e.Status, e.ErrorCode, e.ErrorMessage, e.HTTPStatus = carrier.Status, carrier.ErrorCode, carrier.ErrorMessage, carrier.HTTPStatus
		zero := 0
		e.DurationMs = &zero
		e.Details["coalescedInto"] = carrier.ID
		e.Details["note"] = fmt.Sprintf("sent with the later update of event %d", carrier.ID)
		if carrier.Status == db.StatusFailed {
			e.Details["note"] = fmt.Sprintf("sent with the later update of event %d, which failed; retrying event %d sends this change again", carrier.ID, carrier.ID)
		}
		if err := s.jobs.FinishEvent(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}
