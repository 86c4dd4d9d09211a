-- The successful tickets that may belong to a duplicate-ticket group (see
-- EventStore.DuplicateTickets), so that a search reads these few rows
-- instead of every ticket of its range: every ticket of a form submission
-- with more than one, and every ticket with another of the same customer
-- email and subject (letter case and spacing aside) within a day, with the
-- smallest such gap. A search with a window of W minutes reads the rows of
-- the first kind and those whose gap is at most W. Triggers keep the table
-- current; its rows go with their events. A row may outlive the reason it
-- was written for (a neighbour deleted by retention): the search then reads
-- a row it did not need, never misses one.
CREATE TABLE ticket_repeats (
    event_id        bigint PRIMARY KEY REFERENCES sync_events (id) ON DELETE CASCADE,
    occurred_at     timestamptz NOT NULL,
    same_submission boolean NOT NULL DEFAULT false,
    nearest_gap     interval
);
CREATE INDEX ticket_repeats_time_idx ON ticket_repeats (occurred_at);

-- The key under which two ticket subjects are the same.
CREATE FUNCTION ticket_subject_key(subject text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN lower(regexp_replace(btrim(subject), '\s+', ' ', 'g'));

-- ticket_repeats_note records what the successful tickets ids repeat, and
-- what repeats them: the other tickets of their submissions, and the
-- tickets of the same email and subject within a day of them.
-- ticket_repeats_note records what the successful tickets ids repeat, and
-- what repeats them: the other tickets of their submissions, and the
-- tickets of the same email and subject within a day of them. Every ticket
-- within a day of a noted one lies in its email span, so each pair closer
-- than a day is adjacent, or has a closer ticket between, in the window
-- below. One statement writes the rows in the order of their ids, so that
-- two transactions noting neighbouring tickets wait for each other instead
-- of deadlocking.
CREATE FUNCTION ticket_repeats_note(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(cardinality(ids), 0) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO ticket_repeats AS r (event_id, occurred_at, same_submission, nearest_gap)
    SELECT id, occurred_at, bool_or(same_submission), min(gap)
    FROM (
        SELECT id, occurred_at, true AS same_submission, NULL::interval AS gap
        FROM (
            SELECT e.id, e.occurred_at, count(*) OVER (PARTITION BY e.source, e.source_ref) AS copies
            FROM sync_events AS e
            WHERE (e.source, e.source_ref) IN (
                    SELECT source, source_ref FROM sync_events
                    WHERE id = ANY (ids) AND source_ref IS NOT NULL)
              AND e.type = 'TICKET_CREATED' AND e.status = 'SUCCESS'
        ) AS s
        WHERE copies > 1
        UNION ALL
        SELECT id, occurred_at, false, gap
        FROM (
            SELECT id, occurred_at,
                   least(occurred_at - lag(occurred_at) OVER w, lead(occurred_at) OVER w - occurred_at) AS gap
            FROM (
                SELECT e.id, e.occurred_at, e.customer_email, ticket_subject_key(e.details->>'subject') AS subject
                FROM sync_events AS e
                JOIN (
                    SELECT customer_email,
                           min(occurred_at) - interval '1 day' AS lo,
                           max(occurred_at) + interval '1 day' AS hi
                    FROM sync_events
                    WHERE id = ANY (ids) AND customer_email IS NOT NULL AND details->>'subject' IS NOT NULL
                    GROUP BY customer_email
                ) AS span ON e.customer_email = span.customer_email AND e.occurred_at BETWEEN span.lo AND span.hi
                WHERE e.type = 'TICKET_CREATED' AND e.status = 'SUCCESS' AND e.details->>'subject' IS NOT NULL
            ) AS t
            WINDOW w AS (PARTITION BY customer_email, subject ORDER BY occurred_at, id)
        ) AS g
        WHERE gap <= interval '1 day'
    ) AS x
    GROUP BY id, occurred_at
    ORDER BY id
    ON CONFLICT (event_id) DO UPDATE
        SET same_submission = r.same_submission OR excluded.same_submission,
            nearest_gap = least(r.nearest_gap, excluded.nearest_gap),
            occurred_at = excluded.occurred_at;
END
$$;

CREATE FUNCTION ticket_repeats_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_repeats_note(array(
        SELECT id FROM new_rows WHERE type = 'TICKET_CREATED' AND status = 'SUCCESS'));
    RETURN NULL;
END
$$;

-- An update notes the tickets it made successful, and those whose time,
-- submission, email or subject it changed.
CREATE FUNCTION ticket_repeats_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_repeats_note(array(
        SELECT n.id
        FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
        WHERE n.type = 'TICKET_CREATED' AND n.status = 'SUCCESS'
          AND (o.type, o.status, o.occurred_at, o.source, o.source_ref, o.customer_email, o.details->>'subject')
              IS DISTINCT FROM
              (n.type, n.status, n.occurred_at, n.source, n.source_ref, n.customer_email, n.details->>'subject')));
    RETURN NULL;
END
$$;

CREATE TRIGGER ticket_repeats_insert AFTER INSERT ON sync_events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ticket_repeats_insert();
CREATE TRIGGER ticket_repeats_update AFTER UPDATE ON sync_events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ticket_repeats_update();

-- The tickets already logged.
SELECT ticket_repeats_note(array(
    SELECT id FROM sync_events WHERE type = 'TICKET_CREATED' AND status = 'SUCCESS'));
