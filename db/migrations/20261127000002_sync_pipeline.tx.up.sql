-- The sync pipeline: jobs that workers on any replica claim, the shared
-- HelpScout rate-limit budget, worker heartbeats, API usage per minute, the
-- integration settings, and a change feed on sync_events for subscriptions.

-- A job is one operation to carry out in HelpScout (create a conversation
-- from a contact form, create or update a customer). Each attempt is a
-- sync event; event_id is the latest one.
CREATE TABLE sync_jobs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL,
    -- Unique per operation, for example contact-form:<submission id>, so
    -- that the same submission never creates a second ticket.
    idempotency_key text UNIQUE,
    payload         jsonb NOT NULL,
    -- QUEUED (waiting until run_at), RUNNING (claimed until locked_until),
    -- DONE, or FAILED (a permanent error: waits for someone to retry it).
    state           text NOT NULL DEFAULT 'QUEUED',
    attempts        integer NOT NULL DEFAULT 0,
    run_at          timestamptz NOT NULL DEFAULT now(),
    locked_by       text,
    locked_until    timestamptz,
    -- Set when an attempt ended without knowing whether HelpScout carried
    -- out the write (timeout, crash): the next attempt looks first.
    outcome_unknown boolean NOT NULL DEFAULT false,
    customer_email  text,
    event_id        bigint,
    last_error_code text,
    result          jsonb,
    duplicates      integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Due jobs in order, for FOR UPDATE SKIP LOCKED claims.
CREATE INDEX sync_jobs_due_idx ON sync_jobs (run_at, id) WHERE state = 'QUEUED';
-- Expired leases of crashed workers.
CREATE INDEX sync_jobs_lease_idx ON sync_jobs (locked_until) WHERE state = 'RUNNING';
CREATE INDEX sync_jobs_customer_idx ON sync_jobs (customer_email) WHERE customer_email IS NOT NULL;

ALTER TABLE sync_events ADD COLUMN job_id bigint;
CREATE INDEX sync_events_job_idx ON sync_events (job_id) WHERE job_id IS NOT NULL;

-- The account-wide HelpScout budget shared by every replica: units spent
-- in the current minute window, the latest reading of HelpScout headers,
-- and a pause until which nobody calls (after a 429).
CREATE TABLE helpscout_budget (
    id             integer PRIMARY KEY CHECK (id = 1),
    window_start   timestamptz NOT NULL,
    used           integer NOT NULL DEFAULT 0,
    limit_per_min  integer NOT NULL DEFAULT 400,
    remaining      integer,
    read_at        timestamptz,
    paused_until   timestamptz,
    warned_window  timestamptz
);
INSERT INTO helpscout_budget (id, window_start) VALUES (1, date_trunc('minute', now()));

-- HelpScout API calls per minute, for the apiUsage query.
CREATE TABLE helpscout_api_usage (
    minute        timestamptz PRIMARY KEY,
    calls         integer NOT NULL DEFAULT 0,
    units         integer NOT NULL DEFAULT 0,
    rate_limited  integer NOT NULL DEFAULT 0,
    failed        integer NOT NULL DEFAULT 0,
    min_remaining integer,
    limit_per_min integer
);

-- One row per worker process, refreshed while it runs.
CREATE TABLE sync_workers (
    id           text PRIMARY KEY,
    hostname     text NOT NULL,
    version      text NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    jobs_done    bigint NOT NULL DEFAULT 0,
    jobs_failed  bigint NOT NULL DEFAULT 0
);

-- Integration settings edited by Administrators; NULL columns fall back to
-- the environment. Secrets are stored but never returned by the API.
CREATE TABLE integration_settings (
    id             integer PRIMARY KEY CHECK (id = 1),
    api_url        text,
    client_id      text,
    client_secret  text,
    mailbox_id     bigint,
    webhook_secret text,
    batch_interval_seconds integer,
    paused         boolean NOT NULL DEFAULT false,
    updated_by     text,
    updated_at     timestamptz
);

-- Change feed for live subscriptions. Every insert and every update of an
-- event stamps the row with the writing transaction id and a sequence
-- number. A reader that only takes rows whose transaction id is below the
-- oldest transaction still running sees every change exactly once, in
-- (change_xid, change_seq) order, even though transactions commit out of
-- sequence order.
CREATE SEQUENCE sync_event_change_seq;
ALTER TABLE sync_events
    ADD COLUMN change_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    ADD COLUMN change_seq bigint NOT NULL DEFAULT nextval('sync_event_change_seq');
CREATE INDEX sync_events_change_idx ON sync_events (change_xid, change_seq);

CREATE FUNCTION sync_events_stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_xid := pg_current_xact_id();
    NEW.change_seq := nextval('sync_event_change_seq');
    RETURN NEW;
END
$$;

CREATE TRIGGER sync_events_stamp_change BEFORE UPDATE ON sync_events
    FOR EACH ROW EXECUTE FUNCTION sync_events_stamp_change();

-- Listeners learn of changes from a NOTIFY on sync_events_changed that the
-- service sends after its writes commit (see db/notify.go), not from a
-- trigger: PostgreSQL serialises the commits of notifying transactions.
