-- A conversation row that the sync wrote when it created the conversation
-- in HelpScout holds only what was sent (subject, mailbox, customer) and
-- our own clock. The first webhook about the conversation replaces it,
-- whatever the time the webhook carries: HelpScout stamps its changes with
-- its own clock, and a workflow that assigned the new ticket before our
-- create call returned must not be taken for an older change.
ALTER TABLE conversations ADD COLUMN placeholder boolean NOT NULL DEFAULT false;
