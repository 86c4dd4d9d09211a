// Package config reads the service's settings from environment variables.
// Every variable has a documented default (see the README); Load checks the
// combination and reports what is wrong in one error.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun/driver/pgdriver"
)

// Config is the service's configuration.
type Config struct {
	// DatabaseURL is the PostgreSQL DSN; empty means start the embedded demo database.
	DatabaseURL string
	// Port is the HTTP port.
	Port int
	// JWTSecret signs and verifies tokens; required with DatabaseURL.
	JWTSecret string
	// LogLevel is zerolog's level name.
	LogLevel zerolog.Level
	// LogFormat is "json" or "console"; empty means console in the demo and json otherwise.
	LogFormat string
	// AllowedOrigins are the browser origins allowed by CORS and WebSockets:
	// "*", or scheme://host[:port] without a trailing slash.
	AllowedOrigins []string
	// Introspection enables GraphQL introspection.
	Introspection bool
	// ComplexityLimit caps a query's complexity; zero disables the cap.
	ComplexityLimit int
	// TokenLimit caps the tokens of a GraphQL document; zero disables the cap.
	TokenLimit int
	// DataDir holds the embedded database and demo secret.
	DataDir string
	// DBMaxConns caps the connection pool; at least MinDBConns.
	DBMaxConns int
	// StatementTimeout bounds every SQL statement on the pool (requests,
	// sync workers and seeding alike; migrations run on a pool of their
	// own without it); zero leaves them unbounded.
	StatementTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown.
	ShutdownTimeout time.Duration
	// SeedEvents is how many demo events the embedded default loads on first start.
	SeedEvents int
	// HelpScoutWebhookSecret verifies the signature of HelpScout's webhooks;
	// empty refuses every webhook.
	HelpScoutWebhookSecret string
	// SettingsKey encrypts the secrets of the saved integration settings at
	// rest; empty stores them as they are.
	SettingsKey string
	// HelpScoutAPIURL is HelpScout's API; empty means the real API, except in
	// the embedded demo, which then runs a simulator in-process.
	HelpScoutAPIURL string
	// HelpScoutClientID is the OAuth2 App ID.
	HelpScoutClientID string
	// HelpScoutClientSecret is the OAuth2 App Secret.
	HelpScoutClientSecret string
	// HelpScoutMailboxID is the mailbox contact forms go to.
	HelpScoutMailboxID int64
	// SyncWorkers is how many jobs this process carries out at once; zero
	// runs no workers (intake still queues).
	SyncWorkers int
	// CustomerBatchInterval is how often changed customers are sent in one pass.
	CustomerBatchInterval time.Duration
	// DemoTraffic is how many contact forms and customer changes a minute
	// the embedded demo submits to its simulator, so that the log keeps
	// growing; zero: none.
	DemoTraffic int
	// LiveWriteInterval spaces the writes of one WebSocket: live results
	// queued within it of the previous write leave together; zero writes
	// each at once.
	LiveWriteInterval time.Duration
	// LiveBusyRate is the rate of WebSocket frames a second from which
	// LiveWriteInterval applies.
	LiveBusyRate int
	// RetentionDays, when set, is how many days of events the log keeps:
	// older events, finished sync jobs and API usage are deleted. Zero
	// keeps everything.
	RetentionDays int
	// FieldByField, not read from the environment, has gqlgen execute
	// every field of every record rather than write records whose
	// selected fields are all plain in one pass; the tests compare the
	// two.
	FieldByField bool
}

// MinRetentionDays is the shortest retention: the longest relative range
// of the API (LAST_30_DAYS, and the 31 days of a duplicate-ticket search)
// stays whole.
const MinRetentionDays = 31

// MinDBConns is the smallest connection pool the service runs with. The
// process also keeps a connection of its own for LISTEN, and opens one
// more while it applies migrations.
const MinDBConns = 1

// logLevels are the LOG_LEVEL values: zerolog's levels that log something.
var logLevels = map[string]zerolog.Level{
	"trace": zerolog.TraceLevel,
	"debug": zerolog.DebugLevel,
	"info":  zerolog.InfoLevel,
	"warn":  zerolog.WarnLevel,
	"error": zerolog.ErrorLevel,
}

// Embedded reports whether the service runs its own demo database.
func (c *Config) Embedded() bool { return c.DatabaseURL == "" }

// Load reads the configuration from the environment via getenv.
func Load(getenv func(string) string) (*Config, error) {
	c := &Config{
		DatabaseURL: strings.TrimSpace(getenv("DATABASE_URL")),
		JWTSecret:   getenv("JWT_SECRET"),
		LogFormat:   strings.ToLower(getenv("LOG_FORMAT")),
		DataDir:     orDefault(getenv("DATA_DIR"), ".data"),

		HelpScoutWebhookSecret: getenv("HELPSCOUT_WEBHOOK_SECRET"),
		SettingsKey:            getenv("SETTINGS_KEY"),
		HelpScoutAPIURL:        strings.TrimSpace(getenv("HELPSCOUT_API_URL")),
		HelpScoutClientID:      strings.TrimSpace(getenv("HELPSCOUT_CLIENT_ID")),
		HelpScoutClientSecret:  getenv("HELPSCOUT_CLIENT_SECRET"),
	}
	var errs []error
	var err error
	if c.DatabaseURL != "" {
		if err := checkDatabaseURL(c.DatabaseURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Port, err = intVar(getenv, "PORT", 8080); err != nil {
		errs = append(errs, err)
	} else if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT: %d is not a port from 1 to 65535", c.Port))
	}
	if c.ComplexityLimit, err = intVar(getenv, "GRAPHQL_COMPLEXITY_LIMIT", 50000); err != nil {
		errs = append(errs, err)
	}
	if c.TokenLimit, err = intVar(getenv, "GRAPHQL_TOKEN_LIMIT", 2000); err != nil {
		errs = append(errs, err)
	}
	if c.DBMaxConns, err = intVar(getenv, "DB_MAX_CONNS", 20); err != nil {
		errs = append(errs, err)
	} else if c.DBMaxConns < MinDBConns {
		errs = append(errs, fmt.Errorf("DB_MAX_CONNS: %d is below the minimum of %d: requests, sync workers and live reads all run on the pool's connections", c.DBMaxConns, MinDBConns))
	}
	if c.SeedEvents, err = intVar(getenv, "DEMO_EVENTS", 200000); err != nil {
		errs = append(errs, err)
	}
	if c.Introspection, err = boolVar(getenv, "GRAPHQL_INTROSPECTION", true); err != nil {
		errs = append(errs, err)
	}
	if c.StatementTimeout, err = durationVar(getenv, "DB_STATEMENT_TIMEOUT", 30*time.Second); err != nil {
		errs = append(errs, err)
	}
	if c.ShutdownTimeout, err = durationVar(getenv, "SHUTDOWN_TIMEOUT", 20*time.Second); err != nil {
		errs = append(errs, err)
	}
	mailbox, err := intVar(getenv, "HELPSCOUT_MAILBOX_ID", 0)
	if err != nil {
		errs = append(errs, err)
	}
	c.HelpScoutMailboxID = int64(mailbox)
	if c.SyncWorkers, err = intVar(getenv, "SYNC_WORKERS", 4); err != nil {
		errs = append(errs, err)
	}
	if c.CustomerBatchInterval, err = durationVar(getenv, "CUSTOMER_BATCH_INTERVAL", time.Minute); err != nil {
		errs = append(errs, err)
	}
	if c.DemoTraffic, err = intVar(getenv, "DEMO_TRAFFIC", 20); err != nil {
		errs = append(errs, err)
	}
	if c.LiveWriteInterval, err = durationVar(getenv, "LIVE_WRITE_INTERVAL", 200*time.Millisecond); err != nil {
		errs = append(errs, err)
	}
	if c.LiveBusyRate, err = intVar(getenv, "LIVE_BUSY_RATE", 60000); err != nil {
		errs = append(errs, err)
	}
	if c.RetentionDays, err = intVar(getenv, "RETENTION_DAYS", 0); err != nil {
		errs = append(errs, err)
	} else if c.RetentionDays != 0 && c.RetentionDays < MinRetentionDays {
		errs = append(errs, fmt.Errorf("RETENTION_DAYS: %d is below the minimum of %d days (0 keeps every event): the API's longest ranges must stay whole", c.RetentionDays, MinRetentionDays))
	}
	lvl := orDefault(getenv("LOG_LEVEL"), "info")
	var ok bool
	if c.LogLevel, ok = logLevels[strings.ToLower(lvl)]; !ok {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %q is not one of trace, debug, info, warn, error", lvl))
	}
	if c.AllowedOrigins, err = origins(getenv("ALLOWED_ORIGINS")); err != nil {
		errs = append(errs, err)
	}
	if c.HelpScoutAPIURL != "" {
		u, err := url.Parse(c.HelpScoutAPIURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			errs = append(errs, fmt.Errorf("HELPSCOUT_API_URL: %s is not an http or https URL such as https://api.helpscout.net", quoteURL(c.HelpScoutAPIURL, u)))
		case (u.Path != "" && u.Path != "/") || u.RawQuery != "":
			// The client adds /v2/... itself.
			errs = append(errs, fmt.Errorf("HELPSCOUT_API_URL: %s has a path or query; give the API's base URL, such as https://api.helpscout.net", quoteURL(c.HelpScoutAPIURL, u)))
		}
	}
	// The runtime reads GOGC itself, before main, and takes a value it
	// cannot parse as 100; TuneRuntime leaves a set GOGC alone.
	if v := getenv("GOGC"); v != "" && !validGOGC(v) {
		errs = append(errs, fmt.Errorf("GOGC: %q is not a non-negative integer or off", v))
	}
	switch c.LogFormat {
	case "", "json", "console":
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT: %q is not json or console", c.LogFormat))
	}
	if c.DatabaseURL != "" && c.JWTSecret == "" {
		errs = append(errs, errors.New("JWT_SECRET is required when DATABASE_URL is set (only the embedded demo may use a generated secret)"))
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 16 {
		errs = append(errs, errors.New("JWT_SECRET must be at least 16 characters"))
	}
	if c.SettingsKey != "" && len(c.SettingsKey) < 16 {
		errs = append(errs, errors.New("SETTINGS_KEY must be at least 16 characters"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// Secretless returns a copy of c with every secret masked, for logs.
func (c Config) Secretless() Config {
	if c.JWTSecret != "" {
		c.JWTSecret = "***"
	}
	if c.HelpScoutWebhookSecret != "" {
		c.HelpScoutWebhookSecret = "***"
	}
	if c.HelpScoutClientSecret != "" {
		c.HelpScoutClientSecret = "***"
	}
	if c.SettingsKey != "" {
		c.SettingsKey = "***"
	}
	if i := strings.Index(c.DatabaseURL, "@"); i > 0 {
		if j := strings.Index(c.DatabaseURL, "://"); j > 0 && j < i {
			userinfo := c.DatabaseURL[j+3 : i]
			if k := strings.Index(userinfo, ":"); k >= 0 {
				c.DatabaseURL = c.DatabaseURL[:j+3] + userinfo[:k] + ":***" + c.DatabaseURL[i:]
			}
		}
	}
	return c
}

// checkDatabaseURL reports a DATABASE_URL that the driver cannot use
// (which it would report by panicking), without quoting the value, which
// may hold a password.
func checkDatabaseURL(dsn string) error {
	const want = "DATABASE_URL: not a postgres:// or postgresql:// URL with a host, such as postgres://user:pass@host:5432/helpscout_log?sslmode=disable"
	u, err := url.Parse(dsn)
	if err != nil {
		return errors.New(want + " (characters such as @ : / ? # in the user name or password must be percent-encoded)")
	}
	if (u.Scheme != "postgres" && u.Scheme != "postgresql") || (u.Host == "" && u.Query().Get("host") == "") {
		return errors.New(want)
	}
	return driverAccepts(dsn)
}

// driverAccepts runs the driver's own reading of dsn (query parameters
// such as sslmode and timeouts included), which panics on what it refuses.
func driverAccepts(dsn string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("DATABASE_URL: %v", p)
		}
	}()
	pgdriver.WithDSN(dsn)(&pgdriver.Config{})
	return nil
}

// origins reads ALLOWED_ORIGINS: "*", or origins as browsers send them,
// scheme://host[:port]. A trailing slash is dropped, so that CORS and the
// WebSocket check, which compare origins exactly, both admit the origin.
func origins(v string) ([]string, error) {
	var out []string
	for _, o := range splitList(v) {
		if o == "*" {
			out = append(out, o)
			continue
		}
		trimmed := strings.TrimSuffix(o, "/")
		u, err := url.Parse(trimmed)
		if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(trimmed, "?") || strings.HasSuffix(trimmed, "#") {
			return nil, fmt.Errorf("ALLOWED_ORIGINS: %q is not an origin: * or scheme://host[:port] with no path, such as https://admin.example.com", o)
		}
		out = append(out, trimmed)
	}
	return out, nil
}

// validGOGC reports whether the runtime reads v as a GOGC value: "off"
// or a non-negative integer.
func validGOGC(v string) bool {
	if v == "off" {
		return true
	}
	if strings.Trim(v, "0123456789") != "" {
		return false
	}
	_, err := strconv.ParseInt(v, 10, 32)
	return err == nil
}

// quoteURL quotes raw, parsed as u (nil when it does not parse), for an
// error message, without a password it may hold.
func quoteURL(raw string, u *url.URL) string {
	switch {
	case u != nil:
		return strconv.Quote(u.Redacted())
	case strings.Contains(raw, "@"):
		return "the value (not shown: it may hold a password)"
	}
	return strconv.Quote(raw)
}

func orDefault(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return strings.TrimSpace(v)
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func intVar(getenv func(string) string, name string, def int) (int, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: %q is not a non-negative integer", name, v)
	}
	return n, nil
}

func boolVar(getenv func(string) string, name string, def bool) (bool, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not true or false", name, v)
	}
	return b, nil
}

func durationVar(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration such as 30s", name, v)
	}
	return d, nil
}

// Getenv is os.Getenv, the usual source for Load.
var Getenv = os.Getenv
