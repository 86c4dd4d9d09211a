package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCommandLine runs the binary's dispatch and error report as main
// does: -h prints the usage to stdout and exits 0, whatever the
// environment holds; a refused command line prints its error once (and,
// for a flag error or an unknown command, the usage) to stderr and exits
// 2; a bad configuration exits 1.
func TestCommandLine(t *testing.T) {
	badEnv := map[string]string{"PORT": "x"}
	configured := map[string]string{"DATABASE_URL": "postgres://db.example/hs", "JWT_SECRET": "0123456789abcdef0123"}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		stdout     string // a prefix of stdout; empty: nothing
		stderr     string // a prefix of stderr; empty: nothing
		usageOnErr bool   // stderr also holds the command's usage
	}{
		{name: "help", args: []string{"help"}, env: badEnv, stdout: "usage: helpscout-log [command]"},
		{name: "serve -h", args: []string{"-h"}, env: badEnv, stdout: "usage: helpscout-log [command]"},
		{name: "serve -help", args: []string{"serve", "-help"}, env: badEnv, stdout: "usage: helpscout-log [command]"},
		{name: "token -h", args: []string{"token", "-h"}, env: badEnv, stdout: "usage: helpscout-log token"},
		{name: "help token", args: []string{"help", "token"}, env: badEnv, stdout: "usage: helpscout-log token"},
		{name: "migrate -h", args: []string{"migrate", "-h"}, env: badEnv, stdout: "usage: helpscout-log migrate"},
		{name: "seed -h", args: []string{"seed", "--help"}, env: badEnv, stdout: "usage: helpscout-log seed"},
		{name: "bench -h", args: []string{"bench", "-h"}, env: badEnv, stdout: "usage: helpscout-log bench "},
		{name: "bench-sync -h", args: []string{"bench-sync", "-h"}, env: badEnv, stdout: "usage: helpscout-log bench-sync"},
		{name: "bench-live -h", args: []string{"bench-live", "-h"}, env: badEnv, stdout: "usage: helpscout-log bench-live"},
		{name: "simulate-helpscout -h", args: []string{"simulate-helpscout", "-h"}, env: badEnv, stdout: "usage: helpscout-log simulate-helpscout"},
		{name: "bad flag", args: []string{"migrate", "-nope"}, env: configured, code: 2,
			stderr: "helpscout-log: migrate: flag provided but not defined: -nope\n\nusage: helpscout-log migrate", usageOnErr: true},
		{name: "bad serve flag", args: []string{"-nope"}, env: configured, code: 2,
			stderr: "helpscout-log: serve: flag provided but not defined: -nope\n\nusage: helpscout-log [command]", usageOnErr: true},
		{name: "leftover", args: []string{"seed", "7", "-events", "3"}, env: configured, code: 2,
			stderr: "helpscout-log: seed: unexpected argument \"7\"; flags come as -name value (see seed -h)\n"},
		{name: "positional role", args: []string{"token", "ADMINISTRATOR"}, env: configured, code: 2,
			stderr: "helpscout-log: token: unexpected argument \"ADMINISTRATOR\"; flags come as -name value (see token -h)\n"},
		{name: "migrate extra", args: []string{"migrate", "extra"}, env: configured, code: 2,
			stderr: "helpscout-log: migrate: unexpected argument \"extra\"; it takes no arguments (see migrate -h)\n"},
		{name: "serve extra", args: []string{"serve", "extra"}, env: configured, code: 2,
			stderr: "helpscout-log: serve: unexpected argument \"extra\"; it takes no arguments (see serve -h)\n"},
		{name: "help extra", args: []string{"help", "token", "-h"}, env: configured, code: 2,
			stderr: "helpscout-log: help: unexpected argument \"-h\"; it takes the name of one command, as in help seed\n"},
		{name: "help empty", args: []string{"help", ""}, env: configured, code: 2,
			stderr: "helpscout-log: help: unexpected argument \"\"; it takes the name of one command, as in help seed\n"},
		{name: "unknown command", args: []string{"tokens"}, env: configured, code: 2,
			stderr: "helpscout-log: unknown command \"tokens\"\n\nusage: helpscout-log [command]", usageOnErr: true},
		{name: "bad configuration", args: []string{"token"}, env: map[string]string{"PORT": "x"}, code: 1,
			stderr: "helpscout-log: invalid configuration: PORT"},
		{name: "token", args: []string{"token", "-role", "SERVICE"}, env: configured, stdout: "ey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			code := report(err, &stderr)
			require.Equal(t, tt.code, code, "exit code; stderr:\n%s", stderr.String())
			for _, o := range []struct {
				name      string
				got, want string
			}{{"stdout", stdout.String(), tt.stdout}, {"stderr", stderr.String(), tt.stderr}} {
				if o.want == "" {
					require.Empty(t, o.got, o.name)
				} else {
					require.True(t, strings.HasPrefix(o.got, o.want), "%s:\n%s", o.name, o.got)
				}
			}
			if tt.code != 0 {
				first, _, _ := strings.Cut(stderr.String(), "\n")
				require.Equal(t, 1, strings.Count(stderr.String(), strings.TrimPrefix(first, "helpscout-log: ")), "the error once:\n%s", stderr.String())
			}
			require.Equal(t, tt.usageOnErr, strings.Contains(stderr.String(), "usage:"), "usage on stderr:\n%s", stderr.String())
		})
	}
}
