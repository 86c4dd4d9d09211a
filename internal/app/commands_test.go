package app

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/internal/auth"
)

// unreadEnv is an environment that must not be read: a command refuses a
// bad command line, and answers -h, before it loads the configuration.
func unreadEnv(t *testing.T) func(string) string {
	return func(name string) string {
		t.Errorf("%s read before the command line was checked", name)
		return ""
	}
}

// TestCommandLines: each subcommand refuses words left over after its
// flags (flag parsing stops at the first one, so the flags after it would
// be dropped too) and flags it does not define, before it reads the
// configuration or touches a database; the error names the command, and
// only a flag error comes with the usage.
func TestCommandLines(t *testing.T) {
	commands := map[string]func(args []string, getenv func(string) string, out io.Writer) error{
		"migrate": func(args []string, getenv func(string) string, out io.Writer) error {
			return Migrate(context.Background(), getenv, args, out)
		},
		"seed": func(args []string, getenv func(string) string, out io.Writer) error {
			return Seed(context.Background(), getenv, args, out)
		},
		"token": func(args []string, getenv func(string) string, out io.Writer) error {
			return Token(getenv, args, out)
		},
		"prune": func(args []string, getenv func(string) string, out io.Writer) error {
			return Prune(context.Background(), getenv, args, out)
		},
		"simulate-helpscout": func(args []string, _ func(string) string, out io.Writer) error {
			return Simulate(context.Background(), args, out)
		},
	}
	tests := []struct {
		command string
		args    []string
		want    string
		usage   bool
	}{
		{command: "migrate", args: []string{"extra"},
			want: `migrate: unexpected argument "extra"; it takes no arguments (see migrate -h)`},
		{command: "migrate", args: []string{"-nope"}, want: "migrate: flag provided but not defined: -nope", usage: true},
		{command: "seed", args: []string{"7", "-events", "3"},
			want: `seed: unexpected argument "7"; flags come as -name value (see seed -h)`},
		{command: "seed", args: []string{"-events", "3", "-days", "2", "more"},
			want: `seed: unexpected argument "more"; flags come as -name value (see seed -h)`},
		{command: "seed", args: []string{"-events", "3", "--", "-days"},
			want: `seed: unexpected argument "-days"; flags come as -name value (see seed -h)`},
		{command: "seed", args: []string{"-events", "lots"}, want: `seed: invalid value "lots" for flag -events: parse error`, usage: true},
		{command: "prune", args: []string{"90"},
			want: `prune: unexpected argument "90"; flags come as -name value (see prune -h)`},
		{command: "prune", args: []string{"-days", "ninety"}, want: `prune: invalid value "ninety" for flag -days: parse error`, usage: true},
		{command: "token", args: []string{"ADMINISTRATOR"},
			want: `token: unexpected argument "ADMINISTRATOR"; flags come as -name value (see token -h)`},
		{command: "token", args: []string{"-role", "SERVICE", "-ttl", "1h", "x"},
			want: `token: unexpected argument "x"; flags come as -name value (see token -h)`},
		{command: "token", args: []string{"-role"}, want: "token: flag needs an argument: -role", usage: true},
		{command: "simulate-helpscout", args: []string{"127.0.0.1:9090"},
			want: `simulate-helpscout: unexpected argument "127.0.0.1:9090"; flags come as -name value (see simulate-helpscout -h)`},
		{command: "simulate-helpscout", args: []string{"-port", "9090"}, want: "simulate-helpscout: flag provided but not defined: -port", usage: true},
	}
	for _, tt := range tests {
		t.Run(tt.command+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := commands[tt.command](tt.args, unreadEnv(t), &out)
			require.EqualError(t, err, tt.want)
			require.Empty(t, out.String(), "nothing on stdout")
			var ue *UsageError
			require.ErrorAs(t, err, &ue)
			var usage bytes.Buffer
			ue.PrintUsage(&usage)
			if tt.usage {
				require.True(t, strings.HasPrefix(usage.String(), "usage: helpscout-log "+tt.command), usage.String())
			} else {
				require.Empty(t, usage.String(), "the error says where the usage is")
			}
		})
	}
	for name, command := range commands {
		for _, h := range []string{"-h", "-help", "--help"} {
			t.Run(name+" "+h, func(t *testing.T) {
				var out bytes.Buffer
				err := command([]string{h}, unreadEnv(t), &out)
				require.ErrorIs(t, err, flag.ErrHelp)
				require.True(t, strings.HasPrefix(out.String(), "usage: helpscout-log "+name), out.String())
			})
		}
	}
}

// TestTokenReadsConfigurationAfterFlags: a token is signed with the
// configured secret once the flags are accepted, and a bad role or
// configuration is refused by name.
func TestTokenReadsConfigurationAfterFlags(t *testing.T) {
	configured := map[string]string{"DATABASE_URL": "postgres://db.example/hs", "JWT_SECRET": "0123456789abcdef0123"}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{name: "signed", env: configured, args: []string{"-role", "administrator", "-sub", "ana"}},
		{name: "unknown role", env: configured, args: []string{"-role", "OWNER"}, wantErr: `token: -role: unknown role "OWNER"`},
		{name: "bad configuration", env: map[string]string{"DATABASE_URL": "postgres://db.example/hs", "JWT_SECRET": "0123456789abcdef0123", "PORT": "x"},
			wantErr: "PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Token(func(k string) string { return tt.env[k] }, tt.args, &out)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			caller, err := auth.NewIssuer(tt.env["JWT_SECRET"]).Verify(strings.TrimSpace(out.String()))
			require.NoError(t, err)
			require.Equal(t, auth.RoleAdministrator, caller.Role)
			require.Equal(t, "ana", caller.Subject)
		})
	}
}
