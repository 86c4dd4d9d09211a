package synclog

import (
	"context"
	"time"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
)

// ResolveFilter checks a filter argument and turns it into a store filter
// with its search resolved, for operations other than the list query
// (bulk retry, live subscriptions).
func (s *Service) ResolveFilter(ctx context.Context, in *FilterInput, argument string) (db.EventFilter, error) {
	f, err := in.Resolve(s.Now(), argument)
	if err != nil {
		return f, err
	}
	if err := s.ResolveSearch(ctx, &f); err != nil {
		return f, err
	}
	return f, nil
}

// LiveFilter is ResolveFilter for a live feed: a relative range that ends
// now, such as LAST_24_HOURS, keeps its start but stays open at the end,
// so that events written after the subscription started still match. One
// that ends before now (YESTERDAY) keeps its end: its feed follows the
// changes of those events only.
func (s *Service) LiveFilter(ctx context.Context, in *FilterInput, argument string) (db.EventFilter, error) {
	f, err := s.ResolveFilter(ctx, in, argument)
	if err != nil {
		return f, err
	}
	if in != nil && in.Within != nil && in.Within.EndsNow() {
		f.To = nil
	}
	return f, nil
}

// Period resolves an optional time range argument into absolute bounds
// and the time zone of its days: def in UTC when rng is nil, and at most
// max long.
func (s *Service) Period(rng *TimeRangeInput, def RelativeRange, max time.Duration, argument string) (from, to time.Time, loc *time.Location, err error) {
	now := s.Now()
	if rng == nil {
		from, to, _ = def.Bounds(now)
		return from, to, time.UTC, nil
	}
	f, t, loc, err := rng.resolve(now, argument)
	if err != nil {
		return from, to, nil, err
	}
	from = f.UTC()
	to = now.UTC()
	if t != nil {
		to = t.UTC()
	}
	if !from.Before(to) {
		return from, to, nil, rangeOrderError(argument+".from", from, to)
	}
	if to.Sub(from) > max {
		return from, to, nil, apperr.BadInput(argument, "the period spans %s; at most %s are allowed", humanDays(to.Sub(from)), humanDays(max))
	}
	return from, to, loc, nil
}
