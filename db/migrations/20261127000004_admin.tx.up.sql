-- Jobs stopped by a permanent error, counted by the diagnostics queue
-- without scanning the finished jobs.
CREATE INDEX sync_jobs_failed_idx ON sync_jobs (id) WHERE state = 'FAILED';
