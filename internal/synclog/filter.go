package synclog

import (
	"fmt"
	"strings"
	"time"
	// The tz database is built in, so that time zones resolve on hosts
	// without one installed.
	_ "time/tzdata"
	"unicode/utf8"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
)

// MaxRange is the widest time range a filter or summary may span.
const MaxRange = 366 * 24 * time.Hour

// MaxHourlyRange is the widest range a summary may split into hourly buckets.
const MaxHourlyRange = 31 * 24 * time.Hour

// MaxSearchLength caps the search box, in characters.
const MaxSearchLength = 200

// RelativeRange is a time range computed when the request runs.
type RelativeRange string

// The relative ranges.
const (
	LastHour    RelativeRange = "LAST_HOUR"
	Last24Hours RelativeRange = "LAST_24_HOURS"
	Last48Hours RelativeRange = "LAST_48_HOURS"
	Today       RelativeRange = "TODAY"
	Yesterday   RelativeRange = "YESTERDAY"
	Last7Days   RelativeRange = "LAST_7_DAYS"
	Last30Days  RelativeRange = "LAST_30_DAYS"
)

// RelativeRanges lists every relative range.
var RelativeRanges = []RelativeRange{LastHour, Last24Hours, Last48Hours, Today, Yesterday, Last7Days, Last30Days}

// Bounds returns the range's [from, to) at now, in UTC, with days
// (TODAY, YESTERDAY) from midnight UTC.
func (r RelativeRange) Bounds(now time.Time) (time.Time, time.Time, bool) {
	return r.BoundsIn(now, time.UTC)
}

// BoundsIn returns the range's [from, to) at now, in UTC, with days
// (TODAY, YESTERDAY) from midnight in loc.
func (r RelativeRange) BoundsIn(now time.Time, loc *time.Location) (time.Time, time.Time, bool) {
	now = now.UTC()
	switch r {
	case LastHour:
		return now.Add(-time.Hour), now, true
	case Last24Hours:
		return now.Add(-24 * time.Hour), now, true
	case Last48Hours:
		return now.Add(-48 * time.Hour), now, true
	case Today:
		return db.StartOfDay(now, 0, loc).UTC(), now, true
	case Yesterday:
		return db.StartOfDay(now, -1, loc).UTC(), db.StartOfDay(now, 0, loc).UTC(), true
	case Last7Days:
		return now.AddDate(0, 0, -7), now, true
	case Last30Days:
		return now.AddDate(0, 0, -30), now, true
	}
	return time.Time{}, time.Time{}, false
}

// EndsNow reports whether the range ends at the time it is resolved, as
// every range but YESTERDAY does.
func (r RelativeRange) EndsNow() bool { return r != Yesterday }

// Location returns the time zone of an IANA name such as Europe/Berlin;
// nil or empty is UTC. argument names the input in errors.
func Location(name *string, argument string) (*time.Location, error) {
	if name == nil || *name == "" {
		return time.UTC, nil
	}
	// "Local" would be the server's own zone, which callers cannot know;
	// the host's right/ zones count leap seconds, which no clock shows.
	if *name != "Local" && !strings.HasPrefix(*name, "right/") && utf8.ValidString(*name) && !strings.ContainsRune(*name, 0) {
		if loc, err := time.LoadLocation(*name); err == nil {
			return loc, nil
		}
	}
	return nil, apperr.BadInput(argument, "unknown time zone %s: give an IANA time zone name, spelled as in the tz database, such as Europe/Berlin, America/Chicago or UTC", apperr.Quote(*name))
}

// FilterInput is the sync-event filter as clients send it, through GraphQL
// or the CSV export's query parameters.
type FilterInput struct {
	From       *time.Time
	To         *time.Time
	Within     *RelativeRange
	Types      []db.EventType
	Statuses   []db.EventStatus
	Directions []db.Direction
	ErrorCodes []db.ErrorCode
	Sources    []db.EventSource
	Search     *string
	// TimeZone is the IANA zone whose midnights start TODAY and YESTERDAY.
	TimeZone *string
}

// TimeRangeInput is a period as clients send it.
type TimeRangeInput struct {
	From   *time.Time
	To     *time.Time
	Within *RelativeRange
	// TimeZone is the IANA zone whose midnights start TODAY, YESTERDAY
	// and a summary's daily buckets.
	TimeZone *string
}

// hasRange reports whether the filter sets a time range.
func (in *FilterInput) hasRange() bool {
	return in != nil && (in.From != nil || in.To != nil || in.Within != nil)
}

// resolveRange checks a from/to/within triple and returns the absolute
// range; the days of within begin at midnight in loc.
func resolveRange(from, to *time.Time, within *RelativeRange, loc *time.Location, now time.Time, prefix string) (*time.Time, *time.Time, error) {
	if within != nil {
		if from != nil || to != nil {
			return nil, nil, apperr.BadInput(prefix+"within", "give either within or from/to, not both")
		}
		f, t, ok := within.BoundsIn(now, loc)
		if !ok {
			return nil, nil, apperr.BadInput(prefix+"within", "unknown range %q", *within)
		}
		return &f, &t, nil
	}
	if from != nil && to != nil {
		if !from.Before(*to) {
			return nil, nil, rangeOrderError(prefix+"from", *from, *to)
		}
		if to.Sub(*from) > MaxRange {
			return nil, nil, apperr.BadInput(prefix+"to", "the range spans %s; at most %d days are allowed",
				humanDays(to.Sub(*from)), int(MaxRange.Hours()/24))
		}
	}
	return from, to, nil
}

// resolve checks the range and returns its bounds (to is nil when not
// given) and the zone of its days; argument names the range in errors.
func (r *TimeRangeInput) resolve(now time.Time, argument string) (*time.Time, *time.Time, *time.Location, error) {
	loc, err := Location(r.TimeZone, argument+".timeZone")
	if err != nil {
		return nil, nil, nil, err
	}
	if r.Within == nil && r.From == nil {
		return nil, nil, nil, apperr.BadInput(argument+".from", "required unless %s.within is given", argument)
	}
	from, to, err := resolveRange(r.From, r.To, r.Within, loc, now, argument+".")
	return from, to, loc, err
}

func humanDays(d time.Duration) string {
	return fmt.Sprintf("%.1f days", d.Hours()/24)
}

// Resolve checks the filter and turns it into a store filter; relative
// ranges are computed at now. argument prefixes the names in errors
// (empty for the CSV export, whose parameters stand alone).
func (in *FilterInput) Resolve(now time.Time, argument string) (db.EventFilter, error) {
	var f db.EventFilter
	if in == nil {
		return f, nil
	}
	prefix := ""
	if argument != "" {
		prefix = argument + "."
	}
	loc, err := Location(in.TimeZone, prefix+"timeZone")
	if err != nil {
		return f, err
	}
	from, to, err := resolveRange(in.From, in.To, in.Within, loc, now, prefix)
	if err != nil {
		return f, err
	}
	f.From, f.To = utc(from), utc(to)
	f.Types, f.Statuses, f.Directions, f.ErrorCodes, f.Sources = in.Types, in.Statuses, in.Directions, in.ErrorCodes, in.Sources
	for _, t := range in.Types {
		if !validEnum(t, db.EventTypes) {
			return f, apperr.BadInput(prefix+"types", "unknown event type %q", t)
		}
	}
	for _, s := range in.Statuses {
		if !validEnum(s, db.EventStatuses) {
			return f, apperr.BadInput(prefix+"statuses", "unknown status %q", s)
		}
	}
	for _, d := range in.Directions {
		if !validEnum(d, db.Directions) {
			return f, apperr.BadInput(prefix+"directions", "unknown direction %q", d)
		}
	}
	for _, c := range in.ErrorCodes {
		if !validEnum(c, db.ErrorCodes) {
			return f, apperr.BadInput(prefix+"errorCodes", "unknown error code %q", c)
		}
	}
	for _, s := range in.Sources {
		if !validEnum(s, db.EventSources) {
			return f, apperr.BadInput(prefix+"sources", "unknown source %q", s)
		}
	}
	if in.Search != nil {
		if err := checkSearch(*in.Search, prefix+"search"); err != nil {
			return f, err
		}
		f.Search = db.ParseSearch(*in.Search)
	}
	return f, nil
}

func checkSearch(s, argument string) error {
	if n := utf8.RuneCountInString(s); n > MaxSearchLength {
		return apperr.BadInput(argument, "at most %d characters, got %d", MaxSearchLength, n)
	}
	if !utf8.ValidString(s) {
		return apperr.BadInput(argument, "not valid UTF-8")
	}
	if strings.ContainsRune(s, 0) {
		return apperr.BadInput(argument, "contains a NUL character (\\u0000), which no text may hold")
	}
	return nil
}

func validEnum[T comparable](v T, all []T) bool {
	for _, a := range all {
		if a == v {
			return true
		}
	}
	return false
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// rangeOrderError refuses a range whose from (the argument) is not before
// its to. When both are the same midnight in UTC, as when one date is
// given for both, it says that to is excluded and which date to give for
// that whole day.
func rangeOrderError(argument string, from, to time.Time) error {
	from, to = from.UTC(), to.UTC()
	if from.Equal(to) && from.Equal(from.Truncate(24*time.Hour)) {
		return apperr.BadInput(argument, "must be before to, which is excluded (both are %s): for the whole day, give from %s and to %s",
			from.Format(time.RFC3339), from.Format("2006-01-02"), from.AddDate(0, 0, 1).Format("2006-01-02"))
	}
	return apperr.BadInput(argument, "must be before to (from %s, to %s)", from.Format(time.RFC3339), to.Format(time.RFC3339))
}
