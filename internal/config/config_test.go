package config

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// withSecret is an environment with a JWT secret and one more variable.
func withSecret(name, value string) map[string]string {
	return map[string]string{"JWT_SECRET": "0123456789abcdef", name: value}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.True(t, c.Embedded())
	require.Equal(t, 8080, c.Port)
	require.Equal(t, zerolog.InfoLevel, c.LogLevel)
	require.True(t, c.Introspection)
	require.Equal(t, 50000, c.ComplexityLimit)
	require.Equal(t, 2000, c.TokenLimit)
	require.Equal(t, ".data", c.DataDir)
	require.Equal(t, 30*time.Second, c.StatementTimeout)
	require.Empty(t, c.AllowedOrigins)
	require.Equal(t, 20, c.DBMaxConns)
}

// TestLoadReportsEveryError: one error, one line per variable at fault.
func TestLoadReportsEveryError(t *testing.T) {
	t.Parallel()
	_, err := Load(env(map[string]string{
		"DATABASE_URL": "not a url", "JWT_SECRET": "0123456789abcdef", "PORT": "70000", "LOG_LEVEL": "disabled",
		"DB_MAX_CONNS": "0", "ALLOWED_ORIGINS": "admin.example.com", "HELPSCOUT_API_URL": "api.helpscout.net", "GOGC": "abc",
	}))
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	names := []string{"DATABASE_URL", "PORT", "DB_MAX_CONNS", "LOG_LEVEL", "ALLOWED_ORIGINS", "HELPSCOUT_API_URL", "GOGC"}
	require.Len(t, lines, len(names), err.Error())
	require.True(t, strings.HasPrefix(lines[0], "invalid configuration: DATABASE_URL: "), lines[0])
	for i, name := range names {
		require.True(t, strings.HasPrefix(strings.TrimPrefix(lines[i], "invalid configuration: "), name+": "), "line %d: %s", i, lines[i])
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{"database without secret", map[string]string{"DATABASE_URL": "postgres://x/y"}, "JWT_SECRET is required", nil},
		{"short secret", map[string]string{"JWT_SECRET": "short"}, "at least 16", nil},
		{"bad port", map[string]string{"PORT": "eighty"}, "PORT", nil},
		{"bad level", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL", nil},
		{"bad format", map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT", nil},
		{"bad bool", map[string]string{"GRAPHQL_INTROSPECTION": "maybe"}, "GRAPHQL_INTROSPECTION", nil},
		{"bad duration", map[string]string{"DB_STATEMENT_TIMEOUT": "soon"}, "DB_STATEMENT_TIMEOUT", nil},
		{"short settings key", map[string]string{"SETTINGS_KEY": "short"}, "SETTINGS_KEY must be at least 16", nil},
		{"several errors at once", map[string]string{"PORT": "x", "LOG_LEVEL": "y"}, "LOG_LEVEL", nil},
		{"port zero", map[string]string{"PORT": "0"}, `PORT: 0 is not a port from 1 to 65535`, nil},
		{"port too high", map[string]string{"PORT": "70000"}, `PORT: 70000 is not a port from 1 to 65535`, nil},
		{"highest port", map[string]string{"PORT": "65535"}, "", func(t *testing.T, c *Config) { require.Equal(t, 65535, c.Port) }},
		{"level disabled", map[string]string{"LOG_LEVEL": "disabled"}, `LOG_LEVEL: "disabled" is not one of trace, debug, info, warn, error`, nil},
		{"level panic", map[string]string{"LOG_LEVEL": "panic"}, `LOG_LEVEL: "panic" is not one of`, nil},
		{"level fatal", map[string]string{"LOG_LEVEL": "fatal"}, `LOG_LEVEL: "fatal" is not one of`, nil},
		{"level number", map[string]string{"LOG_LEVEL": "7"}, `LOG_LEVEL: "7" is not one of`, nil},
		{"level in capitals", map[string]string{"LOG_LEVEL": "WARN"}, "", func(t *testing.T, c *Config) { require.Equal(t, zerolog.WarnLevel, c.LogLevel) }},
		{"level trace", map[string]string{"LOG_LEVEL": "trace"}, "", func(t *testing.T, c *Config) { require.Equal(t, zerolog.TraceLevel, c.LogLevel) }},
		{"no connections", map[string]string{"DB_MAX_CONNS": "0"}, "DB_MAX_CONNS: 0 is below the minimum of 1: ", nil},
		{"retention kept forever", map[string]string{}, "", func(t *testing.T, c *Config) { require.Zero(t, c.RetentionDays) }},
		{"retention of a year", map[string]string{"RETENTION_DAYS": "365"}, "", func(t *testing.T, c *Config) { require.Equal(t, 365, c.RetentionDays) }},
		{"retention of 31 days", map[string]string{"RETENTION_DAYS": "31"}, "", func(t *testing.T, c *Config) { require.Equal(t, 31, c.RetentionDays) }},
		{"retention too short", map[string]string{"RETENTION_DAYS": "30"}, "RETENTION_DAYS: 30 is below the minimum of 31 days (0 keeps every event)", nil},
		{"retention negative", map[string]string{"RETENTION_DAYS": "-5"}, `RETENTION_DAYS: "-5" is not a non-negative integer`, nil},
		{"one connection", map[string]string{"DB_MAX_CONNS": "1"}, "", func(t *testing.T, c *Config) { require.Equal(t, 1, c.DBMaxConns) }},
		{"database URL not a URL", withSecret("DATABASE_URL", "not a url"), "DATABASE_URL: not a postgres:// or postgresql:// URL with a host", nil},
		{"database URL without host", withSecret("DATABASE_URL", "postgres:///helpscout_log"), "DATABASE_URL: not a postgres://", nil},
		{"database URL of another kind", withSecret("DATABASE_URL", "mysql://db/hs"), "DATABASE_URL: not a postgres://", nil},
		{"database URL that does not parse", withSecret("DATABASE_URL", "postgres://u:se/cret@db/hs"), "DATABASE_URL: not a postgres://", nil},
		{"database URL with a bad sslmode", withSecret("DATABASE_URL", "postgres://db/hs?sslmode=always"), "DATABASE_URL: pgdriver: sslmode 'always' is not supported", nil},
		{"database URL over a socket", withSecret("DATABASE_URL", "postgres:///hs?host=/var/run/postgresql"), "", func(t *testing.T, c *Config) { require.False(t, c.Embedded()) }},
		{"database URL postgresql://", withSecret("DATABASE_URL", "postgresql://u:p@db:5433/hs?sslmode=require"), "", func(t *testing.T, c *Config) { require.False(t, c.Embedded()) }},
		{"origins normalised", map[string]string{"ALLOWED_ORIGINS": "https://admin.example.com/, http://localhost:3000 ,*"}, "", func(t *testing.T, c *Config) {
			require.Equal(t, []string{"https://admin.example.com", "http://localhost:3000", "*"}, c.AllowedOrigins)
		}},
		{"origin without a scheme", map[string]string{"ALLOWED_ORIGINS": "https://a.example, admin.example.com"}, `ALLOWED_ORIGINS: "admin.example.com" is not an origin`, nil},
		{"origin host and port only", map[string]string{"ALLOWED_ORIGINS": "localhost:3000"}, `ALLOWED_ORIGINS: "localhost:3000" is not an origin`, nil},
		{"origin with a path", map[string]string{"ALLOWED_ORIGINS": "https://admin.example.com/app"}, `ALLOWED_ORIGINS: "https://admin.example.com/app" is not an origin`, nil},
		{"origin with two slashes", map[string]string{"ALLOWED_ORIGINS": "https://admin.example.com//"}, `ALLOWED_ORIGINS: "https://admin.example.com//" is not an origin`, nil},
		{"origin with a query", map[string]string{"ALLOWED_ORIGINS": "https://admin.example.com?x=1"}, `ALLOWED_ORIGINS: "https://admin.example.com?x=1" is not an origin`, nil},
		{"origin with a user", map[string]string{"ALLOWED_ORIGINS": "https://me@admin.example.com"}, `ALLOWED_ORIGINS: "https://me@admin.example.com" is not an origin`, nil},
		{"HelpScout URL without a scheme", map[string]string{"HELPSCOUT_API_URL": "api.helpscout.net"}, `HELPSCOUT_API_URL: "api.helpscout.net" is not an http or https URL`, nil},
		{"HelpScout URL of another scheme", map[string]string{"HELPSCOUT_API_URL": "ftp://api.helpscout.net"}, `HELPSCOUT_API_URL: "ftp://api.helpscout.net" is not an http or https URL`, nil},
		{"HelpScout URL over http", map[string]string{"HELPSCOUT_API_URL": "http://127.0.0.1:9090"}, "", func(t *testing.T, c *Config) { require.Equal(t, "http://127.0.0.1:9090", c.HelpScoutAPIURL) }},
		{"HelpScout URL with the API's path", map[string]string{"HELPSCOUT_API_URL": "https://api.helpscout.net/v2"}, `HELPSCOUT_API_URL: "https://api.helpscout.net/v2" has a path or query`, nil},
		{"HelpScout URL with a slash", map[string]string{"HELPSCOUT_API_URL": "https://api.helpscout.net/"}, "", func(t *testing.T, c *Config) { require.Equal(t, "https://api.helpscout.net/", c.HelpScoutAPIURL) }},
		{"GOGC not a number", map[string]string{"GOGC": "abc"}, `GOGC: "abc" is not a non-negative integer or off`, nil},
		{"GOGC negative", map[string]string{"GOGC": "-1"}, `GOGC: "-1" is not`, nil},
		{"GOGC with a space", map[string]string{"GOGC": " 200"}, `GOGC: " 200" is not`, nil},
		{"GOGC in capitals", map[string]string{"GOGC": "OFF"}, `GOGC: "OFF" is not`, nil},
		{"GOGC off", map[string]string{"GOGC": "off"}, "", func(*testing.T, *Config) {}},
		{"GOGC number", map[string]string{"GOGC": "200"}, "", func(*testing.T, *Config) {}},
		{"GOGC zero", map[string]string{"GOGC": "0"}, "", func(*testing.T, *Config) {}},
		{"configured", map[string]string{
			"DATABASE_URL": "postgres://u:p@db/hs", "JWT_SECRET": "0123456789abcdef", "PORT": "9000",
			"LOG_LEVEL": "debug", "ALLOWED_ORIGINS": "https://a.example, https://b.example",
			"GRAPHQL_INTROSPECTION": "false", "SETTINGS_KEY": "settings-key-0123456789",
		}, "", func(t *testing.T, c *Config) {
			require.False(t, c.Embedded())
			require.Equal(t, 9000, c.Port)
			require.Equal(t, zerolog.DebugLevel, c.LogLevel)
			require.Equal(t, []string{"https://a.example", "https://b.example"}, c.AllowedOrigins)
			require.False(t, c.Introspection)
			masked := c.Secretless()
			require.NotContains(t, masked.DatabaseURL, ":p@")
			require.Equal(t, "***", masked.JWTSecret)
			require.Equal(t, "settings-key-0123456789", c.SettingsKey)
			require.Equal(t, "***", masked.SettingsKey)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(env(tc.env))
			if tc.wantErr != "" {
				require.Error(t, err)
				require.True(t, strings.Contains(err.Error(), tc.wantErr), "got %v", err)
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

// TestDatabaseURLErrorsHideThePassword: a refused DATABASE_URL is named,
// never quoted, since it may hold a password.
func TestDatabaseURLErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://app:s3cr/t@db/hs",
		"postgres://app:s3cr/t@db:port/hs",
		"mysql://app:s3cr/t@db/hs",
		"postgres://app:s3cret@/hs",
		"postgres://app:s3cret@db/hs?sslmode=sometimes",
		"postgres://app:s3cret@db/hs?connect_timeout=soon",
	} {
		_, err := Load(env(withSecret("DATABASE_URL", dsn)))
		require.ErrorContains(t, err, "DATABASE_URL: ", dsn)
		require.NotContains(t, err.Error(), "s3cr", dsn)
	}
}
