-- Retention deletes events older than RETENTION_DAYS. A retry may outlive
-- the attempt it retried: its retry_of then becomes NULL instead of
-- blocking the delete.
ALTER TABLE sync_events DROP CONSTRAINT sync_events_retry_of_fkey;
ALTER TABLE sync_events ADD CONSTRAINT sync_events_retry_of_fkey
    FOREIGN KEY (retry_of) REFERENCES sync_events (id) ON DELETE SET NULL;
