-- When an agent first replied in HelpScout, as its convo.agent.reply.created
-- webhooks told: the earliest one, since deliveries may come out of order.
-- A nullable column without a default is added without rewriting the table.
ALTER TABLE conversations ADD COLUMN first_reply_at timestamptz;
