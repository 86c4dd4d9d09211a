-- A customer's sync status is that of its latest finished attempt, as the
-- sync writes it; demo data loaded before said PENDING for customers whose
-- latest attempt was still waiting. Those take their latest finished
-- attempt's outcome, or none.
UPDATE customers c
SET (last_sync_status, last_sync_error_code, last_sync_error) = (
    SELECT e.status, e.error_code, e.error_message
    FROM sync_events e
    WHERE e.customer_email = c.email
      AND e.type IN ('TICKET_CREATED', 'CUSTOMER_SYNCED', 'CUSTOMER_UPDATED')
      AND e.status <> 'PENDING'
    ORDER BY e.occurred_at DESC, e.id DESC
    LIMIT 1)
WHERE c.last_sync_status = 'PENDING';
