package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/seed"
)

// Migrate applies pending migrations and reports the state. It takes no
// flags besides -h; the configuration is read after the arguments are
// checked, from getenv.
func Migrate(ctx context.Context, getenv func(string) string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: helpscout-log migrate\n\nApplies pending migrations to DATABASE_URL (or the embedded demo database).\nReplicas starting together wait for each other; migrations are never applied twice.")
	}
	if err := ParseFlags(fs, args, out); err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := NewLogger(cfg, out)
	database, err := OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer database.Close()
	cur, pending, err := db.MigrationState(ctx, database.DB)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "migrations current: %s (%d pending)\n", cur, len(pending))
	return nil
}

// Seed loads events, customers and conversations into the database. The
// configuration is read after the flags are parsed, from getenv.
func Seed(ctx context.Context, getenv func(string) string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	events := fs.Int("events", 100000, "how many sync events to load")
	days := fs.Int("days", 30, "spread them over this many days up to now")
	rngSeed := fs.Int64("seed", time.Now().UnixNano(), "random seed (the same seed gives the same data)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: helpscout-log seed [-events N] [-days D] [-seed S]\n\nLoads realistic sync events (with customers, conversations, failures, retries\nand duplicate tickets) into DATABASE_URL, or into the embedded demo database.\n\n")
		fs.PrintDefaults()
	}
	if err := ParseFlags(fs, args, out); err != nil {
		return err
	}
	if *events <= 0 || *days <= 0 {
		return fmt.Errorf("seed: -events and -days must be positive")
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := NewLogger(cfg, out)
	database, err := OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer database.Close()
	st, err := seed.Run(ctx, database.DB, seed.Options{
		Events: *events, Days: *days, Now: time.Now(), Seed: *rngSeed,
		Progress: func(done, total int) {
			fmt.Fprintf(out, "\rloaded %d of %d events (%d%%)", done, total, done*100/total)
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nloaded %d events, %d customers, %d conversations (%d failed, %d pending, %d retries, %d duplicate tickets) in %s (%.0f events/s)\n",
		st.Events, st.Customers, st.Conversations, st.Failed, st.Pending, st.Retries, st.Duplicates,
		st.Elapsed.Round(time.Millisecond), float64(st.Events)/st.Elapsed.Seconds())
	return nil
}

// Token prints a signed token for the configured secret. The
// configuration is read after the flags are parsed, from getenv.
func Token(getenv func(string) string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	role := fs.String("role", "MANAGER", "MANAGER, ADMINISTRATOR, KIVA_ADMIN or SERVICE")
	sub := fs.String("sub", "", "the subject (user name); defaults to cli-<role>")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token stays valid")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: helpscout-log token [-role ROLE] [-sub NAME] [-ttl 24h]\n\nPrints a bearer token signed with JWT_SECRET, or with the embedded demo's\nsecret when DATABASE_URL is not set.\n\n")
		fs.PrintDefaults()
	}
	if err := ParseFlags(fs, args, out); err != nil {
		return err
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("token: -role: %w", err)
	}
	if *ttl <= 0 {
		return fmt.Errorf("token: -ttl must be positive")
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	secret, _, err := Secret(cfg)
	if err != nil {
		return err
	}
	subject := *sub
	if subject == "" {
		subject = "cli-" + string(r)
	}
	tok, err := auth.NewIssuer(secret).Issue(subject, r, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, tok)
	return nil
}
