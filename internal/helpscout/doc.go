// Package helpscout owns our side of HelpScout's Mailbox API 2.0: the OAuth2
// client-credentials token, the conversation, customer and mailbox calls the
// sync pipeline makes, the reading of HelpScout's rate-limit headers, the
// mapping of every failure to our error codes (db.ErrorCode), and the
// signature of HelpScout webhooks (Sign, VerifySignature).
//
// Every operation returns a Result that describes the HTTP calls it made
// (method, path, status, duration, logRef, rate-limit reading) so that the
// sync log can record real work, and failures are *Error values that keep
// HelpScout's own message, status and logRef next to our code.
//
// The client retries only in one case: after a 401 it drops its token,
// fetches a new one once and repeats the call once (as HelpScout's PHP SDK
// does). Every other retry, with its backoff and its respect of
// X-RateLimit-Retry-After, belongs to the caller, which knows whether an
// operation may be repeated.
//
// Choices made where our reference (shared/reference/helpscout-api.md) marks
// HelpScout's behaviour UNCONFIRMED, each the safer option for us:
//   - The body of a 401 is never read to decide anything; only the status
//     counts (reference §1).
//   - A token answer without expires_in is cached for 7200 s, the shortest
//     lifetime ever recorded, and every token is renewed a little before it
//     expires (one minute, or a tenth of its lifetime when that is shorter).
//   - The token endpoint's answer to wrong credentials is unknown: any 400,
//     401 or 403 from it is AUTHENTICATION_FAILED.
//   - A 404 or 400 that names the mailbox (path "mailboxId", or a message or
//     request path mentioning a mailbox), and any 404 to a conversation
//     create, is MAILBOX_NOT_FOUND: the mailbox is the only resource a create
//     refers to, and a wrong mailbox is a configuration error an
//     Administrator must see.
//   - 409, 413 and 422 (bodies unknown in v2) are treated like a 400: the
//     request was refused for its content, VALIDATION_FAILED unless the
//     message says more. Other unexpected statuses are UNKNOWN.
//   - A 429 without X-RateLimit-Retry-After (or Retry-After) is assumed to
//     last DefaultRetryAfter, so that callers never hammer the API.
//   - Every 5xx, timeout or broken connection during a write sets
//     Error.OutcomeUnknown: HelpScout may have carried the write out, so a
//     caller must look before repeating a create.
//   - Strings that are not valid UTF-8 are refused before sending
//     (INVALID_ENCODING, no call made), because encoding/json would silently
//     replace the bad bytes. Whether HelpScout refuses NUL characters is not
//     known; they are sent, and an answer mentioning encoding or an invalid
//     character is INVALID_ENCODING.
package helpscout
