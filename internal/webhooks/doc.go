// Package webhooks owns POST /webhooks/helpscout: it authenticates the
// webhooks HelpScout sends, turns each accepted one into a FROM_HELPSCOUT
// sync event, and keeps the stored conversations and customers current.
//
// The order of work for one request:
//
//  1. The raw body is read, at most MaxBody bytes (more: 413).
//  2. X-HelpScout-Signature is checked against the raw bytes with the
//     configured secret (helpscout.VerifySignature, constant time) before
//     anything else. A missing or bad signature, or no configured secret,
//     answers 401 and is logged as an ERROR / FAILED event with code
//     AUTHENTICATION_FAILED whose details hold only the event header, the
//     body size and the remote address, never the body. At most
//     RejectedPerMinute refusals a minute are recorded so, since anyone
//     can send them; the next one recorded counts those that were not
//     (details.notRecorded).
//  3. The event is classified. Events we do not use (satisfaction.ratings,
//     beacon.*, tag.*, ...) answer 202 and are only logged at debug level:
//     they say nothing about the sync, and recording them would fill the
//     log with noise.
//  4. An accepted event becomes one sync event (direction FROM_HELPSCOUT,
//     source WEBHOOK, status SUCCESS) whose source_ref is the delivery id,
//     the hex SHA-256 of the event name and the raw body:
//     - convo.* is CONVERSATION_UPDATED, with the conversation id, ticket
//     number and primary customer's email; the conversation is upserted
//     (status, assignee, subject, mailbox, customer, updated time). A
//     convo.deleted body holds only the id: the stored row is kept,
//     marked CLOSED with deletedAt set, since the history of a deleted
//     ticket must stay searchable; a later convo.* about it (restored from
//     the trash) clears deletedAt. convo.agent.reply.created also sets
//     firstReplyAt, the earliest reply reported.
//     - customer.* is CUSTOMER_UPDATED, with the customer's first email;
//     customer.created/updated upsert a customer row per email (name,
//     HelpScout id). customer.deleted keeps the rows and records the event.
//     - helpscout.test, the ping HelpScout sends when a webhook is saved, is
//     CONVERSATION_SYNCED with no conversation: it shows in the log that
//     the webhook reaches us, without counting as an update or an error.
//     Every email an event carries gets a customer row, so that the search
//     box finds the event.
//  5. A delivery id already recorded writes nothing and answers 200
//     {"ok":true,"duplicate":true}: HelpScout retries, so redeliveries are
//     expected. A signed body we cannot read (for example a notification
//     webhook that carries only a URI) is recorded once as an ERROR /
//     FAILED event with code VALIDATION_FAILED and answers 400.
//
// The work is one short transaction of a few single-row statements, well
// under HelpScout's timeout, so it runs before answering: the answer then
// says truthfully whether the webhook was stored, and HelpScout's retry
// covers a failure (500) without a queue of our own.
package webhooks
