package graph

import (
	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/graph/model"
	"github.com/kivalogic/helpscout-log/internal/leafobj"
	"github.com/kivalogic/helpscout-log/internal/synclog"
)

// LeafObjects returns the field interceptor that writes the log's records
// in one pass when only their plain fields are selected (see
// internal/leafobj): events, customers and conversations, the edges of
// their connections, and the breakdowns and timeline of a summary. Each
// writer here writes what the generated marshaler of its field writes.
// The fields with resolvers (an event's customer, conversation, retryOf
// and retries; the lists of a customer or a conversation) are not here,
// so a selection of them is executed by gqlgen as before. Each call
// returns objects of its own, with their own caches.
func LeafObjects() *leafobj.Extension {
	events := &leafobj.Object[db.SyncEvent]{Name: "SyncEvent", Fields: syncEventFields}
	customers := &leafobj.Object[db.Customer]{Name: "Customer", Fields: customerFields}
	conversations := &leafobj.Object[db.Conversation]{Name: "Conversation", Fields: conversationFields}
	return leafobj.New(events, customers, conversations,
		&leafobj.Object[db.TypeCount]{Name: "TypeCount", Fields: typeCountFields},
		&leafobj.Object[db.ErrorCodeCount]{Name: "ErrorCodeCount", Fields: errorCodeCountFields},
		&leafobj.Object[db.TimelineBucket]{Name: "TimelineBucket", Fields: timelineBucketFields},
		edges("SyncEventEdge", events, func(e *synclog.EventEdge) (string, *db.SyncEvent) { return e.Cursor, e.Node }),
		edges("CustomerEdge", customers, func(e *synclog.CustomerEdge) (string, *db.Customer) { return e.Cursor, e.Node }),
		edges("ConversationEdge", conversations, func(e *synclog.ConversationEdge) (string, *db.Conversation) { return e.Cursor, e.Node }))
}

// edges returns the object of a connection's edges, E, with a cursor and
// the record, N, written by node in the same pass when only plain fields
// of the record are selected.
func edges[E, N any](name string, node *leafobj.Object[N], parts func(*E) (string, *N)) *leafobj.Object[E] {
	return &leafobj.Object[E]{
		Name: name,
		Fields: map[string]leafobj.Field[E]{"cursor": func(b []byte, e *E) []byte {
			cursor, _ := parts(e)
			return leafobj.String(b, cursor)
		}},
		Children: map[string]leafobj.Child[E]{"node": leafobj.One(node, func(e *E) *N {
			_, n := parts(e)
			return n
		})},
	}
}

var syncEventFields = map[string]leafobj.Field[db.SyncEvent]{
	"id":             func(b []byte, e *db.SyncEvent) []byte { return model.AppendInt64ID(b, e.ID) },
	"occurredAt":     func(b []byte, e *db.SyncEvent) []byte { return model.AppendTime(b, e.OccurredAt) },
	"type":           func(b []byte, e *db.SyncEvent) []byte { return leafobj.Enum(b, e.Type) },
	"status":         func(b []byte, e *db.SyncEvent) []byte { return leafobj.Enum(b, e.Status) },
	"direction":      func(b []byte, e *db.SyncEvent) []byte { return leafobj.Enum(b, e.Direction) },
	"customerEmail":  func(b []byte, e *db.SyncEvent) []byte { return leafobj.OptString(b, e.CustomerEmail) },
	"conversationId": func(b []byte, e *db.SyncEvent) []byte { return leafobj.Opt(b, e.ConversationID, model.AppendInt64ID) },
	"ticketNumber":   func(b []byte, e *db.SyncEvent) []byte { return leafobj.OptInt64(b, e.TicketNumber) },
	"helpScoutUrl":   func(b []byte, e *db.SyncEvent) []byte { return leafobj.OptString(b, e.HelpScoutURL()) },
	"details":        func(b []byte, e *db.SyncEvent) []byte { return leafobj.Map(b, e.DetailsObject()) },
	"errorCode":      func(b []byte, e *db.SyncEvent) []byte { return leafobj.OptEnum(b, e.ErrorCode) },
	"errorMessage":   func(b []byte, e *db.SyncEvent) []byte { return leafobj.OptString(b, e.ErrorMessage) },
	"httpStatus":     func(b []byte, e *db.SyncEvent) []byte { return leafobj.OptInt(b, e.HTTPStatus) },
	"durationMs":     func(b []byte, e *db.SyncEvent) []byte { return leafobj.OptInt(b, e.DurationMs) },
	"attempt":        func(b []byte, e *db.SyncEvent) []byte { return leafobj.Int(b, e.Attempt) },
	"source":         func(b []byte, e *db.SyncEvent) []byte { return leafobj.Enum(b, e.Source) },
	"sourceRef":      func(b []byte, e *db.SyncEvent) []byte { return leafobj.OptString(b, e.SourceRef) },
	"actor":          func(b []byte, e *db.SyncEvent) []byte { return leafobj.OptString(b, e.Actor) },
}

var customerFields = map[string]leafobj.Field[db.Customer]{
	"email":             func(b []byte, c *db.Customer) []byte { return leafobj.String(b, c.Email) },
	"name":              func(b []byte, c *db.Customer) []byte { return leafobj.OptString(b, c.Name) },
	"helpScoutId":       func(b []byte, c *db.Customer) []byte { return leafobj.Opt(b, c.HelpScoutID, model.AppendInt64ID) },
	"firstSyncedAt":     func(b []byte, c *db.Customer) []byte { return leafobj.OptNull(b, c.FirstSyncedAt, model.AppendTime) },
	"lastSyncedAt":      func(b []byte, c *db.Customer) []byte { return leafobj.OptNull(b, c.LastSyncedAt, model.AppendTime) },
	"lastSyncStatus":    func(b []byte, c *db.Customer) []byte { return leafobj.OptEnum(b, c.LastSyncStatus) },
	"lastSyncErrorCode": func(b []byte, c *db.Customer) []byte { return leafobj.OptEnum(b, c.LastSyncErrorCode) },
	"lastSyncError":     func(b []byte, c *db.Customer) []byte { return leafobj.OptString(b, c.LastSyncError) },
	"lastEventAt":       func(b []byte, c *db.Customer) []byte { return model.AppendTime(b, c.LastEventAt) },
}

var conversationFields = map[string]leafobj.Field[db.Conversation]{
	"id":            func(b []byte, c *db.Conversation) []byte { return model.AppendInt64ID(b, c.ID) },
	"number":        func(b []byte, c *db.Conversation) []byte { return leafobj.Int64(b, c.Number) },
	"subject":       func(b []byte, c *db.Conversation) []byte { return leafobj.String(b, c.Subject) },
	"status":        func(b []byte, c *db.Conversation) []byte { return leafobj.Enum(b, c.Status) },
	"mailboxId":     func(b []byte, c *db.Conversation) []byte { return model.AppendInt64ID(b, c.MailboxID) },
	"mailboxName":   func(b []byte, c *db.Conversation) []byte { return leafobj.OptString(b, c.MailboxName) },
	"assignee":      func(b []byte, c *db.Conversation) []byte { return leafobj.OptString(b, c.Assignee) },
	"customerEmail": func(b []byte, c *db.Conversation) []byte { return leafobj.OptString(b, c.CustomerEmail) },
	"createdAt":     func(b []byte, c *db.Conversation) []byte { return model.AppendTime(b, c.CreatedAt) },
	"updatedAt":     func(b []byte, c *db.Conversation) []byte { return model.AppendTime(b, c.UpdatedAt) },
	"helpScoutUrl":  func(b []byte, c *db.Conversation) []byte { return leafobj.String(b, c.HelpScoutURL()) },
	"firstReplyAt":  func(b []byte, c *db.Conversation) []byte { return leafobj.OptNull(b, c.FirstReplyAt, model.AppendTime) },
	"deletedAt":     func(b []byte, c *db.Conversation) []byte { return leafobj.OptNull(b, c.DeletedAt, model.AppendTime) },
}

var typeCountFields = map[string]leafobj.Field[db.TypeCount]{
	"type":      func(b []byte, c *db.TypeCount) []byte { return leafobj.Enum(b, c.Type) },
	"total":     func(b []byte, c *db.TypeCount) []byte { return leafobj.Int64(b, c.Total) },
	"succeeded": func(b []byte, c *db.TypeCount) []byte { return leafobj.Int64(b, c.Succeeded) },
	"failed":    func(b []byte, c *db.TypeCount) []byte { return leafobj.Int64(b, c.Failed) },
	"pending":   func(b []byte, c *db.TypeCount) []byte { return leafobj.Int64(b, c.Pending) },
}

var errorCodeCountFields = map[string]leafobj.Field[db.ErrorCodeCount]{
	"code":  func(b []byte, c *db.ErrorCodeCount) []byte { return leafobj.Enum(b, c.Code) },
	"count": func(b []byte, c *db.ErrorCodeCount) []byte { return leafobj.Int64(b, c.Count) },
}

var timelineBucketFields = map[string]leafobj.Field[db.TimelineBucket]{
	"start":     func(b []byte, t *db.TimelineBucket) []byte { return model.AppendTime(b, t.Start) },
	"total":     func(b []byte, t *db.TimelineBucket) []byte { return leafobj.Int64(b, t.Total) },
	"succeeded": func(b []byte, t *db.TimelineBucket) []byte { return leafobj.Int64(b, t.Succeeded) },
	"failed":    func(b []byte, t *db.TimelineBucket) []byte { return leafobj.Int64(b, t.Failed) },
	"pending":   func(b []byte, t *db.TimelineBucket) []byte { return leafobj.Int64(b, t.Pending) },
}
