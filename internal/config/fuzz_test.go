package config

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzVars are the variables Load reads, each with a value it accepts.
var fuzzVars = []struct{ name, valid string }{
	{"DATABASE_URL", "postgres://u@127.0.0.1:5432/db?sslmode=disable"}, {"PORT", "8080"},
	{"GRAPHQL_COMPLEXITY_LIMIT", "50000"}, {"GRAPHQL_TOKEN_LIMIT", "2000"}, {"DB_MAX_CONNS", "20"},
	{"DEMO_EVENTS", "1000"}, {"GRAPHQL_INTROSPECTION", "false"}, {"DB_STATEMENT_TIMEOUT", "10s"},
	{"SHUTDOWN_TIMEOUT", "5s"}, {"HELPSCOUT_MAILBOX_ID", "12"}, {"SYNC_WORKERS", "2"},
	{"CUSTOMER_BATCH_INTERVAL", "30s"}, {"DEMO_TRAFFIC", "5"}, {"LIVE_WRITE_INTERVAL", "100ms"},
	{"LIVE_BUSY_RATE", "1000"}, {"RETENTION_DAYS", "90"}, {"LOG_LEVEL", "debug"}, {"LOG_FORMAT", "json"},
	{"ALLOWED_ORIGINS", "https://admin.example.com"}, {"HELPSCOUT_API_URL", "https://api.helpscout.net"},
	{"GOGC", "200"}, {"SETTINGS_KEY", "0123456789abcdef0123"}, {"JWT_SECRET", "0123456789abcdef"},
}

// FuzzLoad sets one variable to a value the fuzzer chooses beside valid
// ones. Load must accept it or refuse it with an error that names the
// variable, so that an operator knows which to fix, and that never quotes
// a secret. Under go test only the seeds run; to search further:
//
//	go test -run '^$' -fuzz FuzzLoad -fuzztime 2m ./internal/config/
func FuzzLoad(f *testing.F) {
	for i, v := range fuzzVars {
		for _, value := range []string{v.valid, "", " ", "-1", "0", "99999999999999999999", "1e3", "abc", "10", "1h", "true", "%zz", "http://", "a,b", "\x00",
			"postgres://u:hunter2pw@127.0.0.1:5432/db?sslmode=bogus", "postgres://u:hunter2pw@[::1", "mysql://u:hunter2pw@h/db"} {
			f.Add(uint8(i), value)
		}
	}
	f.Fuzz(func(t *testing.T, i uint8, value string) {
		v := fuzzVars[int(i)%len(fuzzVars)]
		vars := map[string]string{"JWT_SECRET": "0123456789abcdef", "DATABASE_URL": "postgres://u@127.0.0.1:5432/db"}
		vars[v.name] = value
		_, err := Load(env(vars))
		if err == nil {
			return
		}
		msg := err.Error()
		require.Contains(t, msg, v.name, "%s=%q", v.name, value)
		if strings.Contains(v.name, "SECRET") || v.name == "SETTINGS_KEY" {
			if len(value) >= 4 {
				require.NotContains(t, msg, value, "%s=%q: the error quotes the secret", v.name, value)
			}
		}
		if u, err := url.Parse(strings.TrimSpace(value)); err == nil && u.User != nil && strings.HasSuffix(v.name, "_URL") {
			if pw, ok := u.User.Password(); ok && len(pw) >= 4 {
				require.NotContains(t, msg, pw, "%s=%q: the error quotes the password", v.name, value)
			}
		}
	})
}
