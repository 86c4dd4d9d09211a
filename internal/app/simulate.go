package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"

	"github.com/kivalogic/helpscout-log/internal/helpscoutsim"
)

// Simulate runs the HelpScout simulator as a stand-alone server until ctx
// ends, for local development and demos against a HelpScout look-alike.
func Simulate(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("simulate-helpscout", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9090", "address to listen on")
	limit := fs.Int("rate-limit", 400, "API calls per minute (writes count twice), as on HelpScout's Plus plan")
	clientID := fs.String("client-id", os.Getenv("HELPSCOUT_CLIENT_ID"), "accepted OAuth2 App ID (default $HELPSCOUT_CLIENT_ID; empty accepts any)")
	clientSecret := fs.String("client-secret", os.Getenv("HELPSCOUT_CLIENT_SECRET"), "accepted OAuth2 App Secret (default $HELPSCOUT_CLIENT_SECRET)")
	webhookSecret := fs.String("webhook-secret", os.Getenv("HELPSCOUT_WEBHOOK_SECRET"), "secret that signs the webhooks it sends (default $HELPSCOUT_WEBHOOK_SECRET)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: helpscout-log simulate-helpscout [-addr 127.0.0.1:9090] [-rate-limit 400]\n\n"+
			"Serves a simulated HelpScout Mailbox API 2.0 (OAuth2 tokens, conversations,\n"+
			"customers, mailboxes) with HAL and vnd.error bodies and per-minute rate limits.\n"+
			"Faults are switched at run time: POST /_sim/faults with JSON such as\n"+
			"{\"rateLimited\":true} or {\"failureRate\":0.2}; GET /_sim/state shows counters.\n"+
			"POST /_sim/webhooks sends a signed webhook to a URL.\n\n")
		fs.PrintDefaults()
	}
	if err := ParseFlags(fs, args, out); err != nil {
		return err
	}
	if *limit <= 0 {
		return fmt.Errorf("simulate-helpscout: -rate-limit must be positive")
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: out, TimeFormat: "15:04:05.000"}).With().Timestamp().Logger()
	sim := helpscoutsim.New(helpscoutsim.Options{
		RateLimitPerMinute: *limit,
		ClientID:           *clientID,
		ClientSecret:       *clientSecret,
		WebhookSecret:      *webhookSecret,
		Log:                log,
	})
	if err := sim.Start(ctx, *addr); err != nil {
		return err
	}
	fmt.Fprintf(out, "HelpScout simulator at %s (API under /v2, control under /_sim/). Ctrl-C stops it.\n", sim.URL())
	<-ctx.Done()
	sim.Stop()
	return nil
}
