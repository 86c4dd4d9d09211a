package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/faillog"
	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
	"github.com/kivalogic/helpscout-log/internal/seed"
	"github.com/kivalogic/helpscout-log/internal/syncer"
)

// demoMailboxID is the simulator's mailbox that demo tickets go to.
const demoMailboxID = 312345

// startDemoHelpScout runs the HelpScout simulator in-process for the
// embedded demo when no HelpScout API is configured, and points cfg at it,
// so that the demo's workers make real HTTP calls and the log keeps growing
// with real attempts.
func startDemoHelpScout(ctx context.Context, bdb *bun.DB, cfg *config.Config, jwtSecret string, log zerolog.Logger) (*helpscoutsim.Server, error) {
	// The simulated account continues after the ids of the demo data, so
	// that new tickets never take the id or number of a seeded one. The
	// seed, topping up later, continues after these in turn.
	var next struct {
		Conv   int64 `bun:"conv"`
		Number int64 `bun:"number"`
		Cust   int64 `bun:"cust"`
	}
	err := bdb.NewRaw(`SELECT
		coalesce((SELECT max(id) FROM conversations), 0) + 1000 AS conv,
		coalesce((SELECT max(number) FROM conversations), 0) + 1000 AS number,
		coalesce((SELECT max(helpscout_id) FROM customers), 0) + 1000 AS cust`).Scan(ctx, &next)
	if err != nil {
		return nil, fmt.Errorf("error reading the demo data ids: %w", err)
	}
	if cfg.HelpScoutWebhookSecret == "" {
		sum := sha256.Sum256([]byte("webhook:" + jwtSecret))
		cfg.HelpScoutWebhookSecret = hex.EncodeToString(sum[:16])
	}
	sim := helpscoutsim.New(helpscoutsim.Options{
		FirstConversationID:     next.Conv,
		FirstConversationNumber: next.Number,
		FirstCustomerID:         next.Cust,
		MailboxIDs:              []int64{demoMailboxID},
		WebhookSecret:           cfg.HelpScoutWebhookSecret,
		Log:                     log.With().Str("component", "helpscout-simulator").Logger().Level(zerolog.WarnLevel),
	})
	if err := sim.Start(ctx, "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("error starting the demo HelpScout simulator: %w", err)
	}
	cfg.HelpScoutAPIURL = sim.URL()
	cfg.HelpScoutClientID = "demo-app"
	cfg.HelpScoutClientSecret = "demo-secret"
	cfg.HelpScoutMailboxID = demoMailboxID
	log.Info().Str("url", sim.URL()).Msg("demo HelpScout simulator running (set HELPSCOUT_API_URL to use a real account)")
	return sim, nil
}

var (
	demoFirstNames = []string{"Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jonas", "Klara", "Liam", "Mia", "Noah", "Olivia", "Paul", "Rosa", "Sam", "Tara", "Viktor"}
	demoLastNames  = []string{"Adler", "Berg", "Costa", "Dietrich", "Evans", "Fischer", "Garcia", "Hansen", "Ivanova", "Jensen", "Keller", "Lopez", "Meyer", "Novak", "Olsen", "Peters", "Quinn", "Richter", "Schmidt", "Weber"}
	demoDomains    = []string{"example.com", "example.org", "mail.example.net", "shop.example.de"}
	demoSubjects   = []string{"Order not received", "Refund request", "Question about my invoice", "Change of delivery address", "Product arrived damaged", "Cannot log in to my account", "Subscription cancellation", "Wrong size delivered", "Discount code does not work", "Warranty claim"}
)

// showcaseEvery is how often the demo traffic sends a contact form or a
// customer change of seed.ShowcaseEmail, the customer the playground's
// examples look up, so that the examples keep finding recent data for them
// while the demo runs (a contact form an hour, a customer change between).
const showcaseEvery = 30 * time.Minute

// demoTraffic plays the host system in the embedded demo: contact forms and
// customer changes at about perMinute a minute, now and then a malformed
// address or a short HelpScout outage, and status webhooks from the
// simulator, so that the wall screen and the live feed have something to
// show. Every showcaseEvery, the showcase customer writes or changes.
type demoTraffic struct {
	sync       *syncer.Service
	sim        *helpscoutsim.Server
	webhookURL string
	perMinute  int
	log        zerolog.Logger
	rng        *rand.Rand
	n          int
	recent     []string // emails seen lately, for customer updates
	showcaseAt time.Time
	showcaseN  int
}

func (d *demoTraffic) run(ctx context.Context) {
	if d.perMinute <= 0 {
		return
	}
	d.rng = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	d.showcaseAt = time.Now() // the demo data holds a form of two hours ago
	interval := time.Minute / time.Duration(d.perMinute)
	t := time.NewTicker(interval)
	defer t.Stop()
	var steps faillog.Run
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			switch err := d.step(ctx); {
			case err != nil && ctx.Err() == nil:
				steps.Failed(&d.log, zerolog.WarnLevel).Err(err).Msg("demo traffic step failed")
			case err == nil:
				steps.Succeeded(&d.log).Msg("demo traffic works again")
			}
		}
	}
}

func (d *demoTraffic) pick(list []string) string { return list[d.rng.IntN(len(list))] }

func (d *demoTraffic) step(ctx context.Context) error {
	d.n++
	if time.Since(d.showcaseAt) >= showcaseEvery {
		d.showcaseAt = time.Now()
		return d.showcaseStep(ctx)
	}
	first, last := d.pick(demoFirstNames), d.pick(demoLastNames)
	email := fmt.Sprintf("%s.%s%d@%s", strings.ToLower(first), strings.ToLower(last), d.rng.IntN(90)+10, d.pick(demoDomains))
	if d.rng.IntN(40) == 0 {
		email = strings.Replace(email, "@", " at ", 1) // a typo the form did not catch
	}
	// Every 150 steps, a short HelpScout outage that the workers retry through.
	if d.n%150 == 0 {
		d.sim.SetFaults(helpscoutsim.Faults{Status5xxBurst: 3, BurstStatus: 503})
	}
	switch r := d.rng.IntN(10); {
	case r < 6:
		d.remember(email)
		name := first + " " + last
		_, err := d.sync.SubmitContactForm(ctx, syncer.ContactForm{
			SubmissionID: fmt.Sprintf("demo-%d-%d", time.Now().UnixNano(), d.n),
			Email:        email,
			Name:         &name,
			Subject:      d.pick(demoSubjects),
			Message:      "Hello, I need help with my recent order. Could you please get back to me? Thanks, " + first,
		}, "demo-shop")
		return err
	case r < 9:
		// Half of the customer changes concern someone seen lately, so
		// that the log shows updates (sent in batches) beside creations.
		if len(d.recent) > 0 && d.rng.IntN(2) == 0 {
			email = d.pick(d.recent)
		}
		d.remember(email)
		org := d.pick(demoLastNames) + " GmbH"
		_, err := d.sync.SyncCustomer(ctx, syncer.CustomerRecord{
			Email: email, FirstName: &first, LastName: &last, Organization: &org,
		}, "demo-shop")
		return err
	default:
		if d.rng.IntN(2) == 0 {
			return d.answerConversation(ctx)
		}
		return d.closeConversation(ctx)
	}
}

// demoAgents are the support agents who answer the demo's conversations.
var demoAgents = []helpscoutsim.User{
	{ID: 501, First: "Sofia", Last: "Rossi", Email: "sofia@support.example.com"},
	{ID: 502, First: "Noah", Last: "Becker", Email: "noah@support.example.com"},
}

// answerConversation has an agent take and answer a random open simulated
// conversation and sends the convo.agent.reply.created webhook HelpScout
// would send.
func (d *demoTraffic) answerConversation(ctx context.Context) error {
	var open []helpscoutsim.Conversation
	for _, c := range d.sim.Conversations() {
		if c.Status == "active" {
			open = append(open, c)
		}
	}
	if len(open) == 0 {
		return nil
	}
	agent := demoAgents[d.rng.IntN(len(demoAgents))]
	c := open[d.rng.IntN(len(open))]
	_, ok := d.sim.UpdateConversation(c.ID, func(c *helpscoutsim.Conversation) {
		if c.Assignee == nil {
			c.Assignee = &agent
		}
		c.Status = "pending"
	})
	if !ok {
		return nil
	}
	return d.sendConversationWebhook(ctx, c.ID, "convo.agent.reply.created")
}

// showcaseStep sends a contact form of the showcase customer, or every
// other time a change of their customer record.
func (d *demoTraffic) showcaseStep(ctx context.Context) error {
	d.showcaseN++
	first, last := "Alice", "Smith"
	if d.showcaseN%2 == 1 {
		name := first + " " + last
		_, err := d.sync.SubmitContactForm(ctx, syncer.ContactForm{
			SubmissionID: fmt.Sprintf("demo-showcase-%d-%d", time.Now().UnixNano(), d.showcaseN),
			Email:        seed.ShowcaseEmail,
			Name:         &name,
			Subject:      d.pick(demoSubjects),
			Message:      "Hello, I am still waiting for news about my order. Could you please look into it? Thanks, " + first,
		}, "demo-shop")
		return err
	}
	org := "Smith Design Studio"
	_, err := d.sync.SyncCustomer(ctx, syncer.CustomerRecord{
		Email: seed.ShowcaseEmail, FirstName: &first, LastName: &last, Organization: &org,
	}, "demo-shop")
	return err
}

// remember keeps the last 50 emails the traffic used.
func (d *demoTraffic) remember(email string) {
	if len(d.recent) == 50 {
		d.recent = d.recent[1:]
	}
	d.recent = append(d.recent, email)
}

// closeConversation closes a random simulated conversation and sends the
// convo.status webhook HelpScout would send.
func (d *demoTraffic) closeConversation(ctx context.Context) error {
	convs := d.sim.Conversations()
	if len(convs) == 0 {
		return nil
	}
	c := convs[d.rng.IntN(len(convs))]
	if _, ok := d.sim.UpdateConversation(c.ID, func(c *helpscoutsim.Conversation) { c.Status = "closed" }); !ok {
		return nil
	}
	return d.sendConversationWebhook(ctx, c.ID, "convo.status")
}

// sendConversationWebhook sends the simulated conversation id as HelpScout
// sends it with event.
func (d *demoTraffic) sendConversationWebhook(ctx context.Context, id int64, event string) error {
	body, ok := d.sim.ConversationJSON(id)
	if !ok {
		return nil
	}
	status, err := d.sim.SendWebhook(ctx, d.webhookURL, event, body)
	if err != nil {
		return fmt.Errorf("error sending the demo webhook: %w", err)
	}
	if status >= 300 {
		return fmt.Errorf("the demo webhook was answered with %d", status)
	}
	return nil
}
