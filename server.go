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
	err := run(ctx, os.Args[1:], config.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(report(err, os.Stderr))
}

// report writes err to stderr, with the usage when the command line was
// at fault, and returns the exit code: 0 for success and for -h, 2 for a
// command line that was refused, 1 for any other failure.
func report(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "helpscout-log:", err)
	var ue *app.UsageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr)
		ue.PrintUsage(stderr)
		return 2
	}
	return 1
}

const usage = `usage: helpscout-log [command] [flags]

commands:
  serve     run the service (default): GraphQL at /graphql, GraphiQL at /
  migrate   apply database migrations
  seed      load realistic demo data (-events N -days D)
  prune     delete what is older than the retention (-days N, -dry-run)
  token     print a bearer token (-role MANAGER|ADMINISTRATOR|KIVA_ADMIN|SERVICE)
  bench     seed a fresh database and measure the API beside the raw SQL
  bench-sync
            measure sync throughput against the simulator at its rate limit,
            and intake requests/s beside a raw INSERT
  bench-live
            measure live delivery to N WebSocket subscribers
  simulate-helpscout
            serve a simulated HelpScout API with switchable faults (-addr)

Run "helpscout-log <command> -h" (or "helpscout-log help <command>") for a
command's flags. Without DATABASE_URL the service starts its own PostgreSQL
with demo data in ./.data.
`

// run dispatches to a subcommand. Each subcommand checks its arguments
// before it reads the configuration from getenv, so that -h works
// whatever the environment holds.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "help":
		if len(args) == 0 {
			fmt.Fprint(stdout, usage)
			return nil
		}
		if len(args) == 1 && args[0] != "" && args[0] != "help" && args[0][0] != '-' {
			return run(ctx, []string{args[0], "-h"}, getenv, stdout, stderr)
		}
		return app.NewUsageError(fmt.Errorf("help: unexpected argument %q; it takes the name of one command, as in help seed", args[len(args)-1]), nil)
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.Usage = func() { fmt.Fprint(fs.Output(), usage) }
		if err := app.ParseFlags(fs, args, stdout); err != nil {
			return err
		}
		cfg, err := config.Load(getenv)
		if err != nil {
			return err
		}
		return app.Serve(ctx, cfg, app.NewLogger(cfg, stderr), stdout)
	case "migrate":
		return app.Migrate(ctx, getenv, args, stdout)
	case "seed":
		return app.Seed(ctx, getenv, args, stdout)
	case "prune":
		return app.Prune(ctx, getenv, args, stdout)
	case "token":
		return app.Token(getenv, args, stdout)
	case "bench":
		return bench.Main(ctx, getenv, args, stdout)
	case "bench-sync":
		return bench.Sync(ctx, getenv, args, stdout)
	case "bench-live":
		return bench.Live(ctx, getenv, args, stdout)
	case "simulate-helpscout":
		return app.Simulate(ctx, args, stdout)
	default:
		return app.NewUsageError(fmt.Errorf("unknown command %q", cmd), func(w io.Writer) { fmt.Fprint(w, usage) })
	}
}
