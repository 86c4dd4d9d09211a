-- What Administrators did by hand (retries, tickets) is a small share of
-- the log: listing and counting it by time reads this small index instead
-- of the whole time index. Other sources are large shares, which the time
-- index finds quickly.
CREATE INDEX sync_events_manual_time_idx ON sync_events (occurred_at, id) WHERE source = 'MANUAL';
