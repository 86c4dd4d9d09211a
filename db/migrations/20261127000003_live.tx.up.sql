-- The transaction that inserted each event. The change feed compares it
-- with change_xid to tell a new event (stamped by its insert) from a
-- changed one (stamped again by an update). Updates never touch it.
ALTER TABLE sync_events
    ADD COLUMN insert_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
