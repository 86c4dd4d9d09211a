// Command helpscout-log records and repairs the synchronization between our
// system and HelpScout, and serves the log through GraphQL.
//
// Usage:
//
//	helpscout-log [serve]     run the service (the default)
//	helpscout-log migrate     apply database migrations
//	helpscout-log seed        load realistic demo data
//	helpscout-log token       print a bearer token for a role
//	helpscout-log bench       measure the API against the same SQL run directly
//	helpscout-log bench-sync  measure sync throughput and intake against the simulator
//	helpscout-log bench-live  measure live delivery to WebSocket subscribers
//	helpscout-log simulate-helpscout   serve a simulated HelpScout API
//
// Each subcommand takes -h. Configuration comes from environment variables;
// see the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/kivalogic/helpscout-log/internal/app"
	"github.com/kivalogic/helpscout-log/internal/bench"
	"github.com/kivalogic/helpscout-log/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "helpscout-log:", err)
		os.Exit(1)
	}
}

const usage = `usage: helpscout-log [command] [flags]

commands:
  serve     run the service (default): GraphQL at /graphql, GraphiQL at /
  migrate   apply database migrations
  seed      load realistic demo data (-events N -days D)
  token     print a bearer token (-role MANAGER|ADMINISTRATOR|KIVA_ADMIN|SERVICE)
  bench     seed a fresh database and measure the API beside the raw SQL
  bench-sync
            measure sync throughput against the simulator at its rate limit,
            and intake requests/s beside a raw INSERT
  bench-live
            measure live delivery to N WebSocket subscribers
  simulate-helpscout
            serve a simulated HelpScout API with switchable faults (-addr)

Run "helpscout-log <command> -h" for a command's flags. Without DATABASE_URL
the service starts its own PostgreSQL with demo data in ./.data.
`

// run dispatches to a subcommand.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	if cmd == "help" || (len(args) > 0 && cmd == "serve" && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help")) {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cfg, err := config.Load(config.Getenv)
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		if len(args) > 0 {
			return fmt.Errorf("serve takes no arguments; configure it with environment variables (see -h)")
		}
		return app.Serve(ctx, cfg, app.NewLogger(cfg, stderr), stdout)
	case "migrate":
		fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
		fs.SetOutput(stdout)
		fs.Usage = func() {
			fmt.Fprintln(stdout, "usage: helpscout-log migrate\n\nApplies pending migrations to DATABASE_URL (or the embedded demo database).\nReplicas starting together wait for each other; migrations are never applied twice.")
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		return app.Migrate(ctx, cfg, stdout)
	case "seed":
		return app.Seed(ctx, cfg, args, stdout)
	case "token":
		return app.Token(cfg, args, stdout)
	case "bench":
		return bench.Main(ctx, cfg, args, stdout)
	case "bench-sync":
		return bench.Sync(ctx, cfg, args, stdout)
	case "bench-live":
		return bench.Live(ctx, cfg, args, stdout)
	case "simulate-helpscout":
		return app.Simulate(ctx, args, stdout)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
