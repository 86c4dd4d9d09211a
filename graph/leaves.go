package graph

import (
	"io"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/graph/model"
	"github.com/kivalogic/helpscout-log/internal/leafobj"
)

// LeafObjects returns the field interceptor that writes the log's records
// in one pass when only their plain fields are selected (see
// internal/leafobj): events, customers and conversations, and the
// breakdowns and timeline of a summary. Each writer here writes what the
// generated marshaler of its field writes; the fields with resolvers
// (an event's customer, conversation, retryOf and retries; the lists of a
// customer or a conversation) are not here, so a selection of them is
// executed by gqlgen as before.
func LeafObjects() *leafobj.Extension {
	return leafobj.New(syncEventLeaves, customerLeaves, conversationLeaves, typeCountLeaves, errorCodeCountLeaves, timelineBucketLeaves)
}

var syncEventLeaves = &leafobj.Object[db.SyncEvent]{
	Name: "SyncEvent",
	Fields: map[string]leafobj.Field[db.SyncEvent]{
		"id":             func(w io.Writer, e *db.SyncEvent) { model.MarshalInt64ID(e.ID).MarshalGQL(w) },
		"occurredAt":     func(w io.Writer, e *db.SyncEvent) { model.MarshalTime(e.OccurredAt).MarshalGQL(w) },
		"type":           func(w io.Writer, e *db.SyncEvent) { leafobj.Enum(w, e.Type) },
		"status":         func(w io.Writer, e *db.SyncEvent) { leafobj.Enum(w, e.Status) },
		"direction":      func(w io.Writer, e *db.SyncEvent) { leafobj.Enum(w, e.Direction) },
		"customerEmail":  func(w io.Writer, e *db.SyncEvent) { leafobj.OptString(w, e.CustomerEmail) },
		"conversationId": func(w io.Writer, e *db.SyncEvent) { leafobj.Marshal(w, e.ConversationID, model.MarshalInt64ID) },
		"ticketNumber":   func(w io.Writer, e *db.SyncEvent) { leafobj.OptInt64(w, e.TicketNumber) },
		"helpScoutUrl":   func(w io.Writer, e *db.SyncEvent) { leafobj.OptString(w, e.HelpScoutURL()) },
		"details":        func(w io.Writer, e *db.SyncEvent) { leafobj.Map(w, e.DetailsObject()) },
		"errorCode":      func(w io.Writer, e *db.SyncEvent) { leafobj.OptEnum(w, e.ErrorCode) },
		"errorMessage":   func(w io.Writer, e *db.SyncEvent) { leafobj.OptString(w, e.ErrorMessage) },
		"httpStatus":     func(w io.Writer, e *db.SyncEvent) { leafobj.OptInt(w, e.HTTPStatus) },
		"durationMs":     func(w io.Writer, e *db.SyncEvent) { leafobj.OptInt(w, e.DurationMs) },
		"attempt":        func(w io.Writer, e *db.SyncEvent) { leafobj.Int(w, e.Attempt) },
		"source":         func(w io.Writer, e *db.SyncEvent) { leafobj.Enum(w, e.Source) },
		"sourceRef":      func(w io.Writer, e *db.SyncEvent) { leafobj.OptString(w, e.SourceRef) },
		"actor":          func(w io.Writer, e *db.SyncEvent) { leafobj.OptString(w, e.Actor) },
	},
}

var customerLeaves = &leafobj.Object[db.Customer]{
	Name: "Customer",
	Fields: map[string]leafobj.Field[db.Customer]{
		"email":             func(w io.Writer, c *db.Customer) { leafobj.String(w, c.Email) },
		"name":              func(w io.Writer, c *db.Customer) { leafobj.OptString(w, c.Name) },
		"helpScoutId":       func(w io.Writer, c *db.Customer) { leafobj.Marshal(w, c.HelpScoutID, model.MarshalInt64ID) },
		"firstSyncedAt":     func(w io.Writer, c *db.Customer) { leafobj.Marshal(w, c.FirstSyncedAt, model.MarshalTime) },
		"lastSyncedAt":      func(w io.Writer, c *db.Customer) { leafobj.Marshal(w, c.LastSyncedAt, model.MarshalTime) },
		"lastSyncStatus":    func(w io.Writer, c *db.Customer) { leafobj.OptEnum(w, c.LastSyncStatus) },
		"lastSyncErrorCode": func(w io.Writer, c *db.Customer) { leafobj.OptEnum(w, c.LastSyncErrorCode) },
		"lastSyncError":     func(w io.Writer, c *db.Customer) { leafobj.OptString(w, c.LastSyncError) },
		"lastEventAt":       func(w io.Writer, c *db.Customer) { model.MarshalTime(c.LastEventAt).MarshalGQL(w) },
	},
}

var conversationLeaves = &leafobj.Object[db.Conversation]{
	Name: "Conversation",
	Fields: map[string]leafobj.Field[db.Conversation]{
		"id":            func(w io.Writer, c *db.Conversation) { model.MarshalInt64ID(c.ID).MarshalGQL(w) },
		"number":        func(w io.Writer, c *db.Conversation) { leafobj.Int64(w, c.Number) },
		"subject":       func(w io.Writer, c *db.Conversation) { leafobj.String(w, c.Subject) },
		"status":        func(w io.Writer, c *db.Conversation) { leafobj.Enum(w, c.Status) },
		"mailboxId":     func(w io.Writer, c *db.Conversation) { model.MarshalInt64ID(c.MailboxID).MarshalGQL(w) },
		"mailboxName":   func(w io.Writer, c *db.Conversation) { leafobj.OptString(w, c.MailboxName) },
		"assignee":      func(w io.Writer, c *db.Conversation) { leafobj.OptString(w, c.Assignee) },
		"customerEmail": func(w io.Writer, c *db.Conversation) { leafobj.OptString(w, c.CustomerEmail) },
		"createdAt":     func(w io.Writer, c *db.Conversation) { model.MarshalTime(c.CreatedAt).MarshalGQL(w) },
		"updatedAt":     func(w io.Writer, c *db.Conversation) { model.MarshalTime(c.UpdatedAt).MarshalGQL(w) },
		"helpScoutUrl":  func(w io.Writer, c *db.Conversation) { leafobj.String(w, c.HelpScoutURL()) },
		"firstReplyAt":  func(w io.Writer, c *db.Conversation) { leafobj.Marshal(w, c.FirstReplyAt, model.MarshalTime) },
		"deletedAt":     func(w io.Writer, c *db.Conversation) { leafobj.Marshal(w, c.DeletedAt, model.MarshalTime) },
	},
}

var typeCountLeaves = &leafobj.Object[db.TypeCount]{
	Name: "TypeCount",
	Fields: map[string]leafobj.Field[db.TypeCount]{
		"type":      func(w io.Writer, c *db.TypeCount) { leafobj.Enum(w, c.Type) },
		"total":     func(w io.Writer, c *db.TypeCount) { leafobj.Int64(w, c.Total) },
		"succeeded": func(w io.Writer, c *db.TypeCount) { leafobj.Int64(w, c.Succeeded) },
		"failed":    func(w io.Writer, c *db.TypeCount) { leafobj.Int64(w, c.Failed) },
		"pending":   func(w io.Writer, c *db.TypeCount) { leafobj.Int64(w, c.Pending) },
	},
}

var errorCodeCountLeaves = &leafobj.Object[db.ErrorCodeCount]{
	Name: "ErrorCodeCount",
	Fields: map[string]leafobj.Field[db.ErrorCodeCount]{
		"code":  func(w io.Writer, c *db.ErrorCodeCount) { leafobj.Enum(w, c.Code) },
		"count": func(w io.Writer, c *db.ErrorCodeCount) { leafobj.Int64(w, c.Count) },
	},
}

var timelineBucketLeaves = &leafobj.Object[db.TimelineBucket]{
	Name: "TimelineBucket",
	Fields: map[string]leafobj.Field[db.TimelineBucket]{
		"start":     func(w io.Writer, b *db.TimelineBucket) { model.MarshalTime(b.Start).MarshalGQL(w) },
		"total":     func(w io.Writer, b *db.TimelineBucket) { leafobj.Int64(w, b.Total) },
		"succeeded": func(w io.Writer, b *db.TimelineBucket) { leafobj.Int64(w, b.Succeeded) },
		"failed":    func(w io.Writer, b *db.TimelineBucket) { leafobj.Int64(w, b.Failed) },
		"pending":   func(w io.Writer, b *db.TimelineBucket) { leafobj.Int64(w, b.Pending) },
	},
}
