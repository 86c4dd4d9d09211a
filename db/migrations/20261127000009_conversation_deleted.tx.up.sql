-- When HelpScout reported the conversation deleted (convo.deleted), null
-- while it exists: a deleted conversation keeps its row and history, and
-- its link leads nowhere until it is restored from the trash. A nullable
-- column without a default is added without rewriting the table.
ALTER TABLE conversations ADD COLUMN deleted_at timestamptz;
