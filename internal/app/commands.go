package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/auth"
	"github.com/kivalogic/helpscout-log/internal/config"
	"github.com/kivalogic/helpscout-log/internal/retention"
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

// Prune deletes once what is older than the retention (-days, or
// RETENTION_DAYS), as the service's rounds do, printing its progress;
// -dry-run counts it instead. The configuration is read after the flags
// are parsed, from getenv.
func Prune(ctx context.Context, getenv func(string) string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("prune", flag.ContinueOnError)
	days := fs.Int("days", 0, fmt.Sprintf("delete what is older than this many days, at least %d (default: RETENTION_DAYS)", config.MinRetentionDays))
	dry := fs.Bool("dry-run", false, "count what would be deleted, and delete nothing")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: helpscout-log prune [-days N] [-dry-run]\n\nDeletes from DATABASE_URL (or the embedded demo database) the events older than\nN days, the sync jobs finished before then and the API usage of that time, in\nbatches, as the service does hourly when RETENTION_DAYS is set.\n\n")
		fs.PrintDefaults()
	}
	if err := ParseFlags(fs, args, out); err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	n := *days
	if n == 0 {
		n = cfg.RetentionDays
	}
	switch {
	case n == 0:
		return errors.New("prune: give -days, or set RETENTION_DAYS")
	case n < config.MinRetentionDays:
		return fmt.Errorf("prune: -days %d is below the minimum of %d days: the API's longest ranges must stay whole", n, config.MinRetentionDays)
	}
	log := NewLogger(cfg, out)
	database, err := OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer database.Close()
	var shown time.Time
	p := retention.New(database.DB, retention.Options{Days: n, Log: zerolog.Nop(), Progress: func(d db.Pruned) {
		if time.Since(shown) >= time.Second {
			shown = time.Now()
			fmt.Fprintf(out, "\rdeleted %d events, %d finished sync jobs, %d minutes of API usage ...", d.Events, d.Jobs, d.UsageMinutes)
		}
	}})
	if *dry {
		c, err := p.Count(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "older than %d days (before %s): %d events, %d finished sync jobs, %d minutes of API usage; nothing deleted (-dry-run)\n",
			n, p.Cutoff().UTC().Format(time.RFC3339), c.Events, c.Jobs, c.UsageMinutes)
		return nil
	}
	start := time.Now()
	got, err := p.Run(ctx)
	if !shown.IsZero() {
		fmt.Fprintln(out)
	}
	if errors.Is(err, retention.ErrBusy) {
		return fmt.Errorf("prune: another process is deleting old rows (a service with RETENTION_DAYS set); it goes on, or run this again later: %w", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "deleted what was older than %d days (before %s): %d events, %d finished sync jobs, %d minutes of API usage in %s\n",
		n, p.Cutoff().UTC().Format(time.RFC3339), got.Events, got.Jobs, got.UsageMinutes, time.Since(start).Round(time.Millisecond))
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
