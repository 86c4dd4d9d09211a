// Package helpscoutsim owns a simulator of HelpScout's Mailbox API 2.0 for
// tests, benchmarks and the demo: the same endpoints our client uses (the
// OAuth2 token endpoint, conversations, customers, mailboxes), the same
// status codes, headers (Resource-Id, Location, Correlation-Id, the
// per-minute rate-limit headers), HAL and vnd.error bodies and validation
// messages, a per-minute rate limit in which writes count double, faults
// switchable at run time (expired or revoked credentials, rate limiting,
// latency, hanging requests, 5xx bursts, random failures) through Go
// methods or a JSON control endpoint under /_sim/, and signed webhooks sent
// to a URL as HelpScout sends them. All state is in memory; a Server is
// safe for concurrent use.
//
// Where our reference (shared/reference/helpscout-api.md) marks HelpScout's
// behaviour UNCONFIRMED, the simulator makes these choices:
//   - Wrong client credentials get 401 {"error":"invalid_client",...}; a
//     wrong grant_type 400 {"error":"unsupported_grant_type",...}.
//   - An unknown, expired or revoked token gets 401 with a Kong-style
//     {"error":"invalid_token",...} body (clients must rely on the status).
//   - The token endpoint neither counts against the rate limit nor sends
//     rate-limit headers (the recordings of it show none); 401s are answered
//     before the rate limit is applied and do not count either (Kong runs
//     authentication before rate limiting).
//   - The rate limit is a fixed window per clock minute (as Kong's
//     rate-limiting plugin counts), per account (per simulator). A request
//     refused with 429 costs nothing; its X-RateLimit-Retry-After is the
//     number of seconds until the next minute starts, at least 1.
//   - An unknown mailboxId on a create is a 400 vnd.error with path
//     "mailboxId" and message "Invalid mailbox"; GET of an unknown mailbox,
//     conversation or customer is a 404 vnd.error "Resource not found".
//   - A NUL character in any string, or a body that is not UTF-8, is a 400
//     vnd.error whose message speaks of an invalid character or encoding.
//   - Creating a customer with an email another customer already has is a
//     409 vnd.error (v1 answered 409; v2 is not documented).
//   - PATCH of a customer answers 204; PUT overwrites the scalar fields
//     (omitted ones become empty) and leaves emails and phones alone.
//   - Conversation lists default to status "active" like the real API, and
//     the query (email:"x") matches customer emails containing x.
//   - Webhooks are sent once; HelpScout's retry policy is not known, so a
//     test that wants a redelivery calls SendWebhook again.
package helpscoutsim
