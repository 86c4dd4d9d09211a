package seed

import "github.com/kivalogic/helpscout-log/db"

// person is a name as shown and as used in an email's local part.
type person struct{ display, ascii string }

var firstNames = []person{
	{"Anna", "anna"}, {"Ben", "ben"}, {"Carla", "carla"}, {"David", "david"}, {"Emma", "emma"},
	{"Felix", "felix"}, {"Grace", "grace"}, {"Hannah", "hannah"}, {"Isaac", "isaac"}, {"Julia", "julia"},
	{"Kevin", "kevin"}, {"Laura", "laura"}, {"Marco", "marco"}, {"Nina", "nina"}, {"Oliver", "oliver"},
	{"Paula", "paula"}, {"Quentin", "quentin"}, {"Rachel", "rachel"}, {"Samuel", "samuel"}, {"Tara", "tara"},
	{"Umar", "umar"}, {"Vera", "vera"}, {"William", "william"}, {"Xenia", "xenia"}, {"Yusuf", "yusuf"},
	{"Zoë", "zoe"}, {"José", "jose"}, {"Amélie", "amelie"}, {"Søren", "soren"}, {"Chloé", "chloe"},
	{"Mei", "mei"}, {"Hiroshi", "hiroshi"}, {"Priya", "priya"}, {"Ahmed", "ahmed"}, {"Olga", "olga"},
	{"Liam", "liam"}, {"Sophia", "sophia"}, {"Noah", "noah"}, {"Mia", "mia"}, {"Lucas", "lucas"},
	{"Elena", "elena"}, {"Mateo", "mateo"}, {"Fatima", "fatima"}, {"Jonas", "jonas"}, {"Ingrid", "ingrid"},
	{"Chen", "chen"}, {"Aisha", "aisha"}, {"Patrick", "patrick"}, {"Rosa", "rosa"}, {"Tomás", "tomas"},
}

var lastNames = []person{
	{"Smith", "smith"}, {"Johnson", "johnson"}, {"Berg", "berg"}, {"Garcia", "garcia"}, {"Müller", "mueller"},
	{"Rossi", "rossi"}, {"Nguyen", "nguyen"}, {"Kowalski", "kowalski"}, {"Brown", "brown"}, {"Dubois", "dubois"},
	{"Jensen", "jensen"}, {"Tanaka", "tanaka"}, {"Patel", "patel"}, {"Silva", "silva"}, {"O'Brien", "obrien"},
	{"Fischer", "fischer"}, {"Novak", "novak"}, {"Larsen", "larsen"}, {"Moreau", "moreau"}, {"Kim", "kim"},
	{"Wilson", "wilson"}, {"Martínez", "martinez"}, {"Schneider", "schneider"}, {"Andersson", "andersson"},
	{"Ivanova", "ivanova"}, {"Costa", "costa"}, {"Walsh", "walsh"}, {"Yilmaz", "yilmaz"}, {"Haddad", "haddad"},
	{"van Dijk", "vandijk"}, {"Sato", "sato"}, {"Lopez", "lopez"}, {"Becker", "becker"}, {"Clarke", "clarke"},
	{"Fernández", "fernandez"}, {"Ahmed", "ahmed"}, {"Popescu", "popescu"}, {"Horvat", "horvat"},
	{"Lindqvist", "lindqvist"}, {"Okafor", "okafor"},
}

// domains of customer email addresses, most common first (reserved names only).
var domains = []string{
	"example.com", "example.com", "example.com", "example.org", "example.net",
	"mail.example.com", "acme.example", "globex.example", "initech.example", "example.co.uk",
}

// mailbox is a HelpScout mailbox.
type mailbox struct {
	id   int64
	name string
}

var mailboxes = []mailbox{{312345, "Support"}, {312346, "Billing"}, {312347, "Sales"}}

// badMailboxID is the id a misconfigured form points at during a
// MAILBOX_NOT_FOUND incident.
const badMailboxID = 312399

// form is a contact form on the website and the mailbox it files into.
type form struct {
	id       string
	mailbox  int // index into mailboxes
	weight   int
	subjects []string
}

var forms = []form{
	{"contact-us", 0, 45, []string{
		"Where is my order #%d?", "Order #%d arrived damaged", "Wrong item received in order #%d",
		"Cannot log in to my account", "Password reset email not received", "How do I change my delivery address?",
		"Question about your return policy", "Tracking number for order #%d does not work",
		"Please delete my account", "Product question: is it compatible with my device?",
	}},
	{"support-request", 0, 25, []string{
		"App crashes when I open settings", "Error %d when uploading a file", "Sync stopped working",
		"Feature request: dark mode", "Two-factor code not arriving", "Export to CSV is missing columns",
		"Cannot connect my calendar", "Notifications arrive twice",
	}},
	{"billing-question", 1, 15, []string{
		"Refund request for order #%d", "Question about invoice INV-%d", "I was charged twice",
		"Please update the VAT number on my invoices", "Cancel my subscription", "Change my billing email",
		"Card declined but money was taken",
	}},
	{"sales-inquiry", 2, 8, []string{
		"Volume discount for %d licences?", "Request a demo", "Do you offer an education discount?",
		"Quote for %d seats", "Partnership inquiry",
	}},
	{"returns", 0, 7, []string{
		"Return label for order #%d", "Exchange size for order #%d", "Return window question",
	}},
}

// totalFormWeight is the sum of the forms' weights.
var totalFormWeight = func() int {
	n := 0
	for _, f := range forms {
		n += f.weight
	}
	return n
}()

// agents are the HelpScout users conversations get assigned to.
var agents = []string{"Maya Chen", "Tom Becker", "Priya Nair", "Lukas Meyer", "Sofia Rossi", "Daniel Kim"}

// admins retry failed syncs by hand; the first does most of it.
var admins = []string{"jane.admin", "jane.admin", "jane.admin", "jane.admin", "omar.ops"}

// customerFields are the HelpScout customer fields a sync may send.
var customerFields = []string{"firstName", "lastName", "phone", "organization", "jobTitle", "location", "address", "background", "emails", "website"}

// tags are conversation tags set by agents.
var tags = []string{"billing", "shipping", "bug", "feature-request", "refund", "vip", "urgent", "account"}

// errorInfo is one way an operation can fail.
type errorInfo struct {
	code   db.ErrorCode
	status int // 0 means no HTTP status
	msg    string
}

// retryable reports whether the integration retries the error by itself.
func (e errorInfo) retryable() bool {
	switch e.code {
	case db.CodeRateLimited, db.CodeTimeout, db.CodeHelpScoutUnavailable:
		return true
	}
	return false
}

var (
	errInvalidEmail  = errorInfo{db.CodeInvalidEmail, 400, "Not well-formed email address"}
	errMailbox       = errorInfo{db.CodeMailboxNotFound, 404, "Mailbox not found"}
	errAuth          = errorInfo{db.CodeAuthenticationFailed, 401, "Authentication failed: access token expired or revoked"}
	errRateLimited   = errorInfo{db.CodeRateLimited, 429, "API rate limit exceeded"}
	errTimeout       = errorInfo{db.CodeTimeout, 0, "request timed out after 30s"}
	errUnavailable   = errorInfo{db.CodeHelpScoutUnavailable, 503, "Internal error"}
	errUnavailable5  = errorInfo{db.CodeHelpScoutUnavailable, 500, "Internal error"}
	errConvNotFound  = errorInfo{db.CodeNotFound, 404, "Conversation not found"}
	errCustNotFound  = errorInfo{db.CodeNotFound, 404, "Customer not found"}
	errTicketMissing = []errorInfo{
		{db.CodeMissingRequiredField, 400, "subject: may not be empty"},
		{db.CodeMissingRequiredField, 400, "threads[0].text: may not be empty"},
		{db.CodeMissingRequiredField, 400, "customer: may not be null"},
	}
	errTicketInvalid = []errorInfo{
		{db.CodeValidationFailed, 400, "status: Expected one of these: 'active', 'spam', 'open', 'closed', 'pending'"},
		{db.CodeValidationFailed, 400, "subject: size must be between 1 and 998"},
		{db.CodeValidationFailed, 400, "type: Expected one of these: 'email', 'chat', 'phone'"},
	}
	errCustomerMissing = []errorInfo{
		{db.CodeMissingRequiredField, 400, "firstName: may not be empty"},
		{db.CodeMissingRequiredField, 400, "emails: may not be empty"},
	}
	errCustomerInvalid = []errorInfo{
		{db.CodeValidationFailed, 400, "gender: Expected one of these: 'male', 'female', 'unknown'"},
		{db.CodeValidationFailed, 400, "jobTitle: size must be between 1 and 60"},
		{db.CodeValidationFailed, 400, "phones[0].type: Expected one of these: 'fax', 'home', 'mobile', 'other', 'pager', 'work'"},
		{db.CodeValidationFailed, 400, "websites[0].value: Not a valid URL"},
	}
	errWebhook = []errorInfo{
		{db.CodeUnknown, 0, "webhook signature mismatch: X-HelpScout-Signature does not match the payload"},
		{db.CodeUnknown, 0, "could not parse webhook payload: unexpected end of JSON input"},
	}
)
