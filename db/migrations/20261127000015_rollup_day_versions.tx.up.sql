-- A version for each UTC day of the rollups, raised by every statement
-- that changes a rollup row of that day, in the same transaction. Two
-- snapshots that read the same version of a day read the same rollup rows
-- for it, so a reader may keep what it computed from a finished day and
-- reuse it for as long as the version stays the same. A day without a row
-- has version 0; rows are never deleted, so a version never repeats.
CREATE TABLE sync_event_day_versions (
    day     timestamptz PRIMARY KEY,
    version bigint NOT NULL
);

-- Writes wait while the function is replaced, so that no change made
-- under the old function commits after a reader starts trusting versions.
LOCK TABLE sync_events IN SHARE ROW EXCLUSIVE MODE;

-- Every day that has rollups starts at version 1.
INSERT INTO sync_event_day_versions (day, version)
SELECT DISTINCT bucket, 1 FROM sync_event_daily;

-- sync_events_rollup_apply adds signed counts, grouped by five minutes,
-- to the three rollup tables and raises the version of each day it
-- touches. Rows are upserted in key order so that concurrent statements
-- lock them in the same order.
CREATE OR REPLACE FUNCTION sync_events_rollup_apply(deltas jsonb) RETURNS void LANGUAGE sql AS $$
    WITH d AS (
        SELECT (x->>'bucket')::timestamptz AS bucket, x->>'type' AS type, x->>'status' AS status,
               x->>'direction' AS direction, x->>'error_code' AS error_code, (x->>'n')::bigint AS n
        FROM jsonb_array_elements(deltas) AS x
    ), f AS (
        INSERT INTO sync_event_5min AS f (bucket, type, status, direction, error_code, n)
        SELECT bucket, type, status, direction, error_code, n FROM d
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (bucket, type, status, direction, error_code) DO UPDATE SET n = f.n + EXCLUDED.n
    ), h AS (
        INSERT INTO sync_event_hourly AS h (bucket, type, status, direction, error_code, n)
        SELECT date_trunc('hour', bucket, 'UTC'), type, status, direction, error_code, sum(n) FROM d
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(n) <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (bucket, type, status, direction, error_code) DO UPDATE SET n = h.n + EXCLUDED.n
    ), v AS (
        INSERT INTO sync_event_day_versions AS v (day, version)
        SELECT DISTINCT date_trunc('day', bucket, 'UTC'), 1 FROM d
        ORDER BY 1
        ON CONFLICT (day) DO UPDATE SET version = v.version + 1
    )
    INSERT INTO sync_event_daily AS dd (bucket, type, status, direction, error_code, n)
    SELECT date_trunc('day', bucket, 'UTC'), type, status, direction, error_code, sum(n) FROM d
    GROUP BY 1, 2, 3, 4, 5
    HAVING sum(n) <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (bucket, type, status, direction, error_code) DO UPDATE SET n = dd.n + EXCLUDED.n;
$$;
