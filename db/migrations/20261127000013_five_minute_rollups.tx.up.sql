-- Five-minute rollups, kept current by the same triggers as the hourly and
-- daily ones, so that the partial hours at the edges of a range are read
-- from them, leaving at most a few minutes of events to count at each
-- edge. bucket is the start of the five minutes (UTC).
--
-- Writes wait while the table is filled, so that no event is counted by
-- the old triggers alone.
LOCK TABLE sync_events IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE sync_event_5min (LIKE sync_event_hourly INCLUDING ALL);

INSERT INTO sync_event_5min (bucket, type, status, direction, error_code, n)
SELECT date_bin('5 minutes', occurred_at, 'epoch'), type, status, direction, coalesce(error_code, ''), count(*)
FROM sync_events
GROUP BY 1, 2, 3, 4, 5;

-- sync_events_rollup_apply adds signed counts, grouped by five minutes,
-- to the three rollup tables. Rows are upserted in key order so that
-- concurrent statements lock them in the same order.
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
    )
    INSERT INTO sync_event_daily AS dd (bucket, type, status, direction, error_code, n)
    SELECT date_trunc('day', bucket, 'UTC'), type, status, direction, error_code, sum(n) FROM d
    GROUP BY 1, 2, 3, 4, 5
    HAVING sum(n) <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (bucket, type, status, direction, error_code) DO UPDATE SET n = dd.n + EXCLUDED.n;
$$;

CREATE OR REPLACE FUNCTION sync_events_rollup_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sync_events_rollup_apply(coalesce(jsonb_agg(to_jsonb(d)), '[]'::jsonb))
    FROM (
        SELECT date_bin('5 minutes', occurred_at, 'epoch') AS bucket, type, status, direction,
               coalesce(error_code, '') AS error_code, count(*) AS n
        FROM new_rows
        GROUP BY 1, 2, 3, 4, 5
    ) AS d;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION sync_events_rollup_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sync_events_rollup_apply(coalesce(jsonb_agg(to_jsonb(d)), '[]'::jsonb))
    FROM (
        SELECT bucket, type, status, direction, error_code, sum(n) AS n
        FROM (
            SELECT date_bin('5 minutes', occurred_at, 'epoch') AS bucket, type, status, direction,
                   coalesce(error_code, '') AS error_code, -1 AS n
            FROM old_rows
            UNION ALL
            SELECT date_bin('5 minutes', occurred_at, 'epoch'), type, status, direction,
                   coalesce(error_code, ''), 1
            FROM new_rows
        ) AS x
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(n) <> 0
    ) AS d;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION sync_events_rollup_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sync_events_rollup_apply(coalesce(jsonb_agg(to_jsonb(d)), '[]'::jsonb))
    FROM (
        SELECT date_bin('5 minutes', occurred_at, 'epoch') AS bucket, type, status, direction,
               coalesce(error_code, '') AS error_code, -count(*) AS n
        FROM old_rows
        GROUP BY 1, 2, 3, 4, 5
    ) AS d;
    RETURN NULL;
END
$$;
