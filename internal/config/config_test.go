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
