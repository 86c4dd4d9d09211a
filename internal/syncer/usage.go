package syncer

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
)

// usageWriteTimeout bounds the recording of an operation's calls, which
// goes on after the operation's own context ended.
const usageWriteTimeout = 5 * time.Second

// tokenPath is the OAuth2 token endpoint; token requests are not API calls
// and cost nothing against the rate limit.
const tokenPath = "/v2/oauth2/token"

// usageRows turns an operation's calls into per-minute usage. Every API
// request counts as a call; the units are those HelpScout charged (see
// helpscout.Call.Charged), so a request refused with 401 or 429, or never
// answered, costs none. A call is placed
// in the minute of its rate-limit reading, else in the minute of now.
func usageRows(res helpscout.Result, now time.Time) []db.APIUsageMinute {
	var rows []db.APIUsageMinute
	byMinute := map[time.Time]int{}
	for _, c := range res.Calls {
		if strings.HasPrefix(c.Path, tokenPath) {
			continue
		}
		at := now
		if !c.RateLimit.At.IsZero() {
			at = c.RateLimit.At
		}
		m := at.UTC().Truncate(time.Minute)
		i, ok := byMinute[m]
		if !ok {
			i = len(rows)
			byMinute[m] = i
			rows = append(rows, db.APIUsageMinute{Minute: m})
		}
		r := &rows[i]
		r.Calls++
		switch {
		case c.Status == http.StatusTooManyRequests:
			r.RateLimited++
		case c.Status == 0 || c.Status >= 400:
			r.Failed++
		}
		if c.Charged() {
			r.Units += c.Cost()
		}
		if !c.RateLimit.At.IsZero() {
			if rem := c.RateLimit.Remaining; rem >= 0 && (r.MinRemaining == nil || rem < *r.MinRemaining) {
				r.MinRemaining = &rem
			}
			if lim := c.RateLimit.Limit; lim > 0 {
				r.LimitPerMin = &lim
			}
		}
	}
	return rows
}

// maxUsageBacklog bounds the minutes of API usage kept in memory while
// the database cannot store them: a day.
const maxUsageBacklog = 24 * 60

// usageBacklog holds the API usage that could not be stored, one row per
// minute, to be stored with the next.
type usageBacklog struct {
	mu   sync.Mutex
	rows []db.APIUsageMinute
}

// recordUsage adds an operation's HTTP calls to the per-minute API usage.
// It never fails the caller: when the database cannot take the rows (an
// outage), they are logged and kept, up to maxUsageBacklog minutes, and
// stored with the next operation's, so that the calls made during an
// outage still count.
func (s *Service) recordUsage(ctx context.Context, res helpscout.Result) {
	rows := usageRows(res, time.Now())
	if len(rows) == 0 {
		return
	}
	s.usage.mu.Lock()
	rows = append(s.usage.rows, rows...)
	s.usage.rows = nil
	s.usage.mu.Unlock()
	if err := s.storeUsage(ctx, rows); err != nil {
		s.usage.mu.Lock()
		kept := db.MergeUsageMinutes(append(s.usage.rows, rows...))
		if n := len(kept) - maxUsageBacklog; n > 0 {
			kept = kept[n:]
		}
		s.usage.rows = kept
		s.usage.mu.Unlock()
		s.log.Error().Err(err).Int("calls", len(res.Calls)).Int("minutes_kept", len(kept)).
			Msg("error recording HelpScout API usage; kept to be recorded with the next calls")
	}
}

// flushUsage stores, at shutdown, the API usage kept since a database
// outage, which no later call would carry. What still cannot be stored
// is lost with the process, so the log says how much.
func (s *Service) flushUsage() {
	s.usage.mu.Lock()
	rows := s.usage.rows
	s.usage.rows = nil
	s.usage.mu.Unlock()
	if len(rows) == 0 {
		return
	}
	calls := 0
	for _, r := range rows {
		calls += r.Calls
	}
	if err := s.storeUsage(context.Background(), rows); err != nil {
		s.log.Error().Err(err).Int("minutes", len(rows)).Int("calls", calls).
			Msg("the API usage kept since a database outage could not be stored before stopping: apiUsage will not count these calls")
		return
	}
	s.log.Info().Int("minutes", len(rows)).Int("calls", calls).Msg("stored the API usage kept since a database outage")
}

// storeUsage adds rows to the stored per-minute usage, within
// usageWriteTimeout whether or not ctx has ended.
func (s *Service) storeUsage(ctx context.Context, rows []db.APIUsageMinute) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), usageWriteTimeout)
	defer cancel()
	return db.NewUsageStore(s.db).Add(ctx, rows)
}

// usageUnits are the date_trunc units of the bucket widths.
var usageUnits = map[UsageBucket]string{UsageMinute: "minute", UsageHour: "hour", UsageDay: "day"}

// APIUsage reports HelpScout API use between from and to in buckets of
// the given width, with totals, the busiest minute and the limit. Minutes
// and hours are those of UTC; days begin at midnight in loc (UTC when nil).
func (s *Service) APIUsage(ctx context.Context, from, to time.Time, bucket UsageBucket, loc *time.Location) (*APIUsage, error) {
	unit, ok := usageUnits[bucket]
	if !ok {
		return nil, fmt.Errorf("error reporting API usage: unknown bucket %q", bucket)
	}
	us := db.NewUsageStore(s.db)
	rows, err := us.Buckets(ctx, from, to, unit, loc)
	if err != nil {
		return nil, err
	}
	limit, err := us.LimitPerMinute(ctx, from, to)
	if err != nil {
		return nil, err
	}
	out := &APIUsage{From: from.UTC(), To: to.UTC(), LimitPerMinute: limit, Buckets: make([]APIUsageBucket, 0, len(rows))}
	for _, r := range rows {
		out.Buckets = append(out.Buckets, APIUsageBucket{
			Start: r.Start, Calls: r.Calls, Units: r.Units, RateLimited: r.RateLimited, Failed: r.Failed,
			PeakUnitsPerMinute: r.PeakUnitsPerMinute, MinRemaining: r.MinRemaining,
		})
		out.Calls += r.Calls
		out.Units += r.Units
		out.RateLimited += r.RateLimited
		out.PeakUnitsPerMinute = max(out.PeakUnitsPerMinute, r.PeakUnitsPerMinute)
	}
	return out, nil
}
