-- ticket_repeats keeps, beside each ticket, what the duplicate-ticket
-- search groups by: its submission (source, source_ref), its customer email
-- and the key of its subject. The search then reads these narrow rows
-- alone, instead of joining every ticket of its range to its event and
-- normalizing each subject again.
--
-- For that, a row is kept exact: it exists only while its event is a
-- successful ticket, and holds the event values of now. A row may still
-- outlive the reason it was written for (a neighbour deleted or changed):
-- the search then reads a row it did not need, never misses one.
ALTER TABLE ticket_repeats
    ADD COLUMN source text,
    ADD COLUMN source_ref text,
    ADD COLUMN customer_email text,
    ADD COLUMN subject_key text;

-- Writes wait while the rows are filled, so that none is left stale.
LOCK TABLE sync_events IN SHARE ROW EXCLUSIVE MODE;

DELETE FROM ticket_repeats AS r
USING sync_events AS e
WHERE e.id = r.event_id AND NOT (e.type = 'TICKET_CREATED' AND e.status = 'SUCCESS');

UPDATE ticket_repeats AS r
SET occurred_at = e.occurred_at, source = e.source, source_ref = e.source_ref,
    customer_email = e.customer_email, subject_key = ticket_subject_key(e.details->>'subject')
FROM sync_events AS e
WHERE e.id = r.event_id;

ALTER TABLE ticket_repeats ALTER COLUMN source SET NOT NULL;

-- ticket_repeats_note records what the successful tickets ids repeat, and
-- what repeats them: the other tickets of their submissions, and the
-- tickets of the same email and subject within a day of them. Every ticket
-- within a day of a noted one lies in its email span, so each pair closer
-- than a day is adjacent, or has a closer ticket between, in the window
-- below. One statement writes the rows in the order of their ids, so that
-- two transactions noting neighbouring tickets wait for each other instead
-- of deadlocking.
CREATE OR REPLACE FUNCTION ticket_repeats_note(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(cardinality(ids), 0) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO ticket_repeats AS r (event_id, occurred_at, same_submission, nearest_gap,
                                     source, source_ref, customer_email, subject_key)
    SELECT e.id, e.occurred_at, bool_or(x.same_submission), min(x.gap),
           e.source, e.source_ref, e.customer_email, ticket_subject_key(e.details->>'subject')
    FROM (
        SELECT id, true AS same_submission, NULL::interval AS gap
        FROM (
            SELECT e.id, count(*) OVER (PARTITION BY e.source, e.source_ref) AS copies
            FROM sync_events AS e
            WHERE (e.source, e.source_ref) IN (
                    SELECT source, source_ref FROM sync_events
                    WHERE id = ANY (ids) AND source_ref IS NOT NULL)
              AND e.type = 'TICKET_CREATED' AND e.status = 'SUCCESS'
        ) AS s
        WHERE copies > 1
        UNION ALL
        SELECT id, false, gap
        FROM (
            SELECT id,
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
    JOIN sync_events AS e ON e.id = x.id
    GROUP BY e.id
    ORDER BY e.id
    ON CONFLICT (event_id) DO UPDATE
        SET same_submission = r.same_submission OR excluded.same_submission,
            nearest_gap = least(r.nearest_gap, excluded.nearest_gap),
            occurred_at = excluded.occurred_at,
            source = excluded.source,
            source_ref = excluded.source_ref,
            customer_email = excluded.customer_email,
            subject_key = excluded.subject_key;
END
$$;

-- An update removes the rows of the events it made other than successful
-- tickets, gives the other rows of the events it changed their new values,
-- and notes the tickets it made successful, and those whose time,
-- submission, email or subject it changed.
CREATE OR REPLACE FUNCTION ticket_repeats_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM ticket_repeats AS r
    USING new_rows AS n
    WHERE r.event_id = n.id AND NOT (n.type = 'TICKET_CREATED' AND n.status = 'SUCCESS');
    UPDATE ticket_repeats AS r
    SET occurred_at = n.occurred_at, source = n.source, source_ref = n.source_ref,
        customer_email = n.customer_email, subject_key = ticket_subject_key(n.details->>'subject')
    FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
    WHERE r.event_id = n.id
      AND (o.occurred_at, o.source, o.source_ref, o.customer_email, o.details->>'subject')
          IS DISTINCT FROM
          (n.occurred_at, n.source, n.source_ref, n.customer_email, n.details->>'subject');
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
