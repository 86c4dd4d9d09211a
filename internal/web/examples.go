package web

import (
	"fmt"
	"time"

	"github.com/kivalogic/helpscout-log/internal/seed"
)

// ExampleEmail is the customer the examples look up: the seed's showcase
// customer, whose story (tickets created, customer syncs and updates, and
// failures) every demo database holds.
const ExampleEmail = seed.ShowcaseEmail

// DefaultExamples returns the example operations the playground opens with:
// one per task of the HelpScout Log's Quick Reference Card, then "Who am I"
// and paging. Each is a named query with variables, written against the
// schema in schema/*.graphqls (the package's tests validate them against
// it), and starts with a comment saying what it answers. Variables that
// name a time are relative to when the page is served, and the ticket to
// find is one the log holds (VariablesAt). The result is a new slice on
// every call.
func DefaultExamples() []Example {
	return []Example{
		{
			Name: "Check if a ticket was created",
			Query: `# Check if a ticket was created: did this customer's contact form
# become a HelpScout ticket? Lists the "Ticket Created" events for
# a customer email (the search also takes a ticket number, a
# conversation id or an event id), newest first. Match occurredAt
# with the form submission (sourceRef is the submission id); on
# SUCCESS, helpScoutUrl opens the ticket in HelpScout, and
# conversation says whether it was assigned and answered there (as
# HelpScout's webhooks reported); on FAILED, errorCode and
# errorMessage say why. No event at all: the form may have failed
# before the sync, or the customer used another email address.
query CheckTicketCreated($email: String!, $first: Int = 20) {
  syncEvents(filter: {search: $email, types: [TICKET_CREATED]}, first: $first) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    nodes {
      id
      occurredAt
      status
      customerEmail
      conversationId
      ticketNumber
      helpScoutUrl
      conversation {
        status
        assignee
        firstReplyAt
      }
      errorCode
      errorMessage
      sourceRef
    }
  }
}
`,
			Variables: `{
  "email": "` + ExampleEmail + `",
  "first": 20
}`,
		},
		{
			Name: "View sync errors",
			Query: `# View sync errors: which syncs failed in the last 24 hours, and
# why? errorCode is our classification (INVALID_EMAIL,
# MAILBOX_NOT_FOUND, AUTHENTICATION_FAILED, RATE_LIMITED, ...),
# errorMessage HelpScout's own words, httpStatus its answer.
# retries lists later attempts of the same sync; an Administrator
# can retry one with:
#   mutation { retrySync(id: "...") { id status attempt } }
# and, where HelpScout refused the data (INVALID_EMAIL,
# MISSING_REQUIRED_FIELD, ...), send it corrected:
#   mutation { retrySync(id: "...", corrections: {email: "..."}) { id status } }
#
# The same list as a CSV file (opens in a spreadsheet):
#   GET /export/sync-events.csv?status=FAILED&within=LAST_24_HOURS
# It takes the same filter as query parameters; authenticate with
# the Authorization header or, for a plain download link, an
# access_token parameter.
query ViewSyncErrors($within: RelativeRange = LAST_24_HOURS, $first: Int = 50) {
  syncEvents(filter: {statuses: [FAILED], within: $within}, first: $first) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    nodes {
      id
      occurredAt
      type
      direction
      customerEmail
      ticketNumber
      errorCode
      errorMessage
      httpStatus
      durationMs
      attempt
      source
      sourceRef
      retries {
        id
        status
      }
    }
  }
}
`,
			Variables: `{
  "within": "LAST_24_HOURS",
  "first": 50
}`,
		},
		{
			Name: "Monitor integration health",
			Query: `# Monitor integration health: is the HelpScout integration
# working? All events of the last 48 hours. successRate should be
# 0.95 or more (health HEALTHY); DEGRADED is 80-95%, FAILING under
# 80%. byErrorCode shows persistent errors, rate-limit warnings
# (RATE_LIMITED) and connection timeouts (TIMEOUT); apiCalls
# counts the calls made to HelpScout's API; timeline is hourly.
query MonitorIntegrationHealth($within: RelativeRange = LAST_48_HOURS) {
  summary(range: {within: $within}) {
    from
    to
    total
    succeeded
    failed
    pending
    successRate
    errorRate
    health
    ticketsCreated
    customersSynced
    customersUpdated
    apiCalls
    byType {
      type
      total
      succeeded
      failed
      pending
    }
    byErrorCode {
      code
      count
    }
    timeline {
      start
      total
      succeeded
      failed
      pending
    }
    bucket
  }
}
`,
			Variables: `{
  "within": "LAST_48_HOURS"
}`,
		},
		{
			Name: "Find a conversation",
			Query: `# Find a conversation in HelpScout: by its ticket number (with or
# without #); helpScoutUrl opens it in HelpScout. events is its
# sync history, newest first. By HelpScout conversation id instead
# (give exactly one of the two):
#   conversation(id: "2716453210") { ... }
#
# null means the integration never created or heard of that
# conversation. firstReplyAt is when an agent first answered, and
# deletedAt is set when HelpScout deleted it (the link then leads
# nowhere until it is restored from the trash), as HelpScout's
# webhooks reported.
query FindConversation($number: String!) {
  conversation(number: $number) {
    id
    number
    subject
    status
    mailboxName
    assignee
    customerEmail
    createdAt
    updatedAt
    firstReplyAt
    deletedAt
    helpScoutUrl
    events(first: 20) {
      totalCount
      nodes {
        id
        occurredAt
        type
        status
        direction
        errorCode
        errorMessage
        source
        actor
      }
    }
  }
}
`,
			Variables:   conversationVariables(Facts{}),
			VariablesAt: conversationVariables,
		},
		{
			Name: "Daily failed tickets check",
			Query: `# Daily failed tickets check (each morning): which contact forms
# failed to become tickets today? Create these tickets by hand in
# HelpScout, or have an Administrator retry them (mutation
# retrySync), and look into recurring error codes. Use YESTERDAY
# for the whole previous day. Today begins at midnight in
# timeZone: put your own, such as America/Chicago or Europe/Berlin.
query DailyFailedTickets($within: RelativeRange = TODAY, $timeZone: String = "UTC", $first: Int = 100) {
  syncEvents(filter: {statuses: [FAILED], types: [TICKET_CREATED], within: $within, timeZone: $timeZone}, first: $first) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    nodes {
      id
      occurredAt
      customerEmail
      errorCode
      errorMessage
      httpStatus
      attempt
      sourceRef
      retries {
        id
        status
        occurredAt
      }
    }
  }
}
`,
			Variables: `{
  "within": "TODAY",
  "timeZone": "UTC",
  "first": 100
}`,
		},
		{
			Name: "Customer sync status",
			Query: `# Customer sync status: is this customer's data in HelpScout up to
# date, and if not, why? The customer's latest sync result, its
# "Customer Synced" (first creation in HelpScout) and "Customer
# Updated" events, and its conversations. Common errors:
# INVALID_EMAIL, RATE_LIMITED, MISSING_REQUIRED_FIELD,
# INVALID_ENCODING (characters in the name). An Administrator sends
# a refused record again corrected, e.g.
#   mutation { retrySync(id: "...", corrections: {firstName: "..."}) { id status } }
# null: the log knows no such customer.
query CustomerSyncStatus($email: String!) {
  customer(email: $email) {
    email
    name
    helpScoutId
    firstSyncedAt
    lastSyncedAt
    lastSyncStatus
    lastSyncErrorCode
    lastSyncError
    lastEventAt
    events(filter: {types: [CUSTOMER_SYNCED, CUSTOMER_UPDATED]}, first: 20) {
      totalCount
      nodes {
        id
        occurredAt
        type
        status
        direction
        errorCode
        errorMessage
        httpStatus
        attempt
        source
        sourceRef
      }
    }
    conversations(first: 10) {
      totalCount
      nodes {
        id
        number
        subject
        status
        createdAt
        helpScoutUrl
      }
    }
  }
}
`,
			Variables: `{
  "email": "` + ExampleEmail + `"
}`,
		},
		{
			Name: "Investigate a missing ticket",
			Query: `# Investigate a missing ticket: a customer says they submitted
# the contact form but got no answer. What does the log hold for
# their email around that time? The verdict says whether a ticket
# was created (with its link), is pending, failed (and why), or
# whether nothing reached the sync at all. "at" is when the customer
# says they sent the form (this page fills in two hours before it was
# opened); the window reaches windowMinutes either side of it.
query InvestigateMissingTicket($email: String!, $at: Time!) {
  missingTicketInvestigation(email: $email, at: $at, windowMinutes: 180) {
    verdict
    explanation
    from
    to
    customer { email name lastSyncStatus lastSyncError }
    tickets { id occurredAt status conversationId ticketNumber helpScoutUrl errorCode errorMessage }
    events { id occurredAt type status errorCode }
  }
}
`,
			Variables:   missingTicketVariables(Facts{Now: time.Now()}),
			VariablesAt: missingTicketVariables,
		},
		{
			Name: "Find duplicate tickets",
			Query: `# Find duplicate tickets: one form submission that became several
# tickets (a webhook or retry firing twice), or one customer sending
# the same subject again within minutes. Merge them in HelpScout;
# each event's conversation shows its status there, and deletedAt
# once HelpScout reported it deleted.
query DuplicateTickets {
  duplicateTickets(range: {within: LAST_7_DAYS}, windowMinutes: 10, first: 20) {
    reason
    count
    customerEmail
    subject
    sourceRef
    firstAt
    lastAt
    events {
      id
      occurredAt
      ticketNumber
      helpScoutUrl
      conversation { id status deletedAt }
    }
  }
}
`,
		},
		{
			Name: "Audit what was done by hand",
			Query: `# Audit what was done by hand: the retries and tickets that
# Administrators started (source MANUAL), newest first, with who
# (actor), what they retried (retryOf) and what they corrected
# (details.corrected). The same filter exports as CSV:
#   GET /export/sync-events.csv?source=MANUAL&within=LAST_30_DAYS
query AuditManualActions($within: RelativeRange = LAST_30_DAYS) {
  syncEvents(filter: {sources: [MANUAL], within: $within}, first: 50) {
    totalCount
    nodes {
      id
      occurredAt
      actor
      type
      status
      customerEmail
      ticketNumber
      retryOf {
        id
        errorCode
      }
      details
    }
  }
}
`,
			Variables: `{
  "within": "LAST_30_DAYS"
}`,
		},
		{
			Name: "Who am I",
			Query: `# Who am I: whose token is in the Headers tab, with which role,
# until when, and may it retry failed syncs (Administrator) or
# read diagnostics (Kiva Admin)?
query WhoAmI {
  viewer {
    subject
    role
    expiresAt
    canRetry
    canDiagnose
  }
}
`,
		},
		{
			Name: "Page through sync events",
			Query: `# Page through sync events: the whole log of the last 7 days, a
# page at a time, newest first. To get the next page, copy
# pageInfo.endCursor into the "after" variable and run again; stop
# when hasNextPage is false. Pages hold 50 events by default, 500
# at most. Backwards: last and before (startCursor).
query PageThroughSyncEvents($within: RelativeRange = LAST_7_DAYS, $first: Int = 50, $after: String) {
  syncEvents(filter: {within: $within}, first: $first, after: $after, orderBy: {direction: DESC}) {
    totalCount
    pageInfo {
      hasNextPage
      hasPreviousPage
      startCursor
      endCursor
    }
    edges {
      cursor
      node {
        id
        occurredAt
        type
        status
        direction
        customerEmail
        ticketNumber
        errorCode
      }
    }
  }
}
`,
			Variables: `{
  "within": "LAST_7_DAYS",
  "first": 50,
  "after": null
}`,
		},
	}
}

// missingTicketVariables are the variables of "Investigate a missing
// ticket" for a page served at f.Now: the claimed submission two hours
// earlier, to the minute.
func missingTicketVariables(f Facts) string {
	at := f.Now.UTC().Add(-2 * time.Hour).Truncate(time.Minute)
	return fmt.Sprintf(`{
  "email": %q,
  "at": %q
}`, ExampleEmail, at.Format(time.RFC3339))
}

// defaultTicketNumber is the conversation example's number when the page
// knows none of the log's: one of the demo data's first start.
const defaultTicketNumber = 10482

// conversationVariables asks for a ticket the log holds.
func conversationVariables(f Facts) string {
	n := f.TicketNumber
	if n <= 0 {
		n = defaultTicketNumber
	}
	return fmt.Sprintf(`{
  "number": "%d"
}`, n)
}
