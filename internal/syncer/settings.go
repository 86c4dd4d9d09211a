package syncer

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/helpscout"
)

// settingsMaxAge is how long this process trusts the settings it read: a
// change saved through another replica takes effect here within this time.
const settingsMaxAge = 10 * time.Second

// Limits of the settings an Administrator may save.
const (
	minBatchIntervalSeconds = 10
	maxBatchIntervalSeconds = 86400
	maxSecretLen            = 512
	maxClientIDLen          = 512
	maxAPIURLLen            = 2048
)

// effective is the configuration in force: the saved settings merged over
// the environment.
type effective struct {
	helpScout     helpscout.Config
	webhookSecret string
	batchInterval time.Duration
	paused        bool
	updatedBy     *string
	updatedAt     *time.Time
	// saved lists the settings that come from the saved row.
	saved []db.SettingField
	// sealed reports that every saved secret is stored encrypted.
	sealed bool
}

// adminState holds the effective integration settings of this process.
// The zero value stands for "not read yet": the environment applies.
type adminState struct {
	mu sync.Mutex
	// loaded is when the settings were last read; zero before the first read.
	loaded time.Time
	eff    effective
	// applied is the connection last given to the client, so that an
	// unchanged re-read keeps the client's token.
	applied helpscout.Config
	// startedAt is when this process's heartbeats began.
	startedAt time.Time
}

// envSettings is the configuration from the environment alone.
func (s *Service) envSettings() effective {
	return effective{
		helpScout:     s.opts.HelpScout,
		webhookSecret: s.opts.WebhookSecret,
		batchInterval: s.opts.BatchInterval,
	}
}

// merge lays the saved row over the environment.
func (s *Service) merge(row *db.IntegrationSettings) effective {
	eff := s.envSettings()
	if row.APIURL != nil {
		eff.helpScout.BaseURL = *row.APIURL
	}
	if row.ClientID != nil {
		eff.helpScout.ClientID = *row.ClientID
	}
	if row.ClientSecret != nil {
		eff.helpScout.ClientSecret = *row.ClientSecret
	}
	if row.MailboxID != nil {
		eff.helpScout.MailboxID = *row.MailboxID
	}
	if row.WebhookSecret != nil {
		eff.webhookSecret = *row.WebhookSecret
	}
	if row.BatchIntervalSeconds != nil {
		eff.batchInterval = time.Duration(*row.BatchIntervalSeconds) * time.Second
	}
	eff.paused = row.Paused
	eff.updatedBy, eff.updatedAt = row.UpdatedBy, row.UpdatedAt
	eff.saved = row.Saved()
	return eff
}

// sameConnection reports whether a and b talk to the same account the same way.
func sameConnection(a, b helpscout.Config) bool {
	return a.BaseURL == b.BaseURL && a.ClientID == b.ClientID && a.ClientSecret == b.ClientSecret && a.MailboxID == b.MailboxID
}

// apply makes stored, the row as saved, the settings in force and hands a
// changed connection to the client (which then fetches a new token). It
// fails, changing nothing, when the row's secrets cannot be decrypted here.
func (s *Service) apply(stored *db.IntegrationSettings) (effective, error) {
	row, err := s.box.openRow(stored)
	if err != nil {
		return effective{}, err
	}
	eff := s.merge(row)
	eff.sealed = s.box != nil && (stored.ClientSecret == nil || sealed(stored.ClientSecret)) &&
		(stored.WebhookSecret == nil || sealed(stored.WebhookSecret))
	s.admin.mu.Lock()
	defer s.admin.mu.Unlock()
	first := s.admin.loaded.IsZero()
	if old := s.admin.eff.updatedAt; !first && old != nil && (eff.updatedAt == nil || eff.updatedAt.Before(*old)) {
		// A read that started before a newer save finished late.
		return s.admin.eff, nil
	}
	s.admin.eff, s.admin.loaded = eff, time.Now()
	if first && sameConnection(eff.helpScout, s.opts.HelpScout) {
		// The client was built from the environment, which still applies.
		s.admin.applied = eff.helpScout
		return eff, nil
	}
	if first || !sameConnection(eff.helpScout, s.admin.applied) {
		s.client.SetConfig(eff.helpScout)
		s.admin.applied = eff.helpScout
	}
	return eff, nil
}

// sealPlainSecrets encrypts the secrets saved before SETTINGS_KEY was set,
// so that setting the key protects them without saving them again.
func (s *Service) sealPlainSecrets(ctx context.Context) error {
	if s.box == nil {
		return nil
	}
	n, err := db.NewSettingsStore(s.db).RewriteSecrets(ctx, func(stored string) string {
		if sealed(&stored) {
			return stored
		}
		return s.box.seal(stored)
	})
	if err != nil {
		return err
	}
	if n > 0 {
		s.log.Info().Int("secrets", n).Msg("encrypted the saved HelpScout secrets with SETTINGS_KEY")
	}
	return nil
}

// loadSettings reads the saved settings, merges them over the environment
// and applies them to the client.
func (s *Service) loadSettings(ctx context.Context) error {
	_, err := s.refresh(ctx, 0)
	return err
}

// refresh re-reads the saved settings when the copy in hand is older than
// maxAge, and returns the settings in force. When the database cannot be
// read, or the saved secrets cannot be decrypted here, it returns the copy
// in hand (the environment before any read) together with the error.
func (s *Service) refresh(ctx context.Context, maxAge time.Duration) (effective, error) {
	s.admin.mu.Lock()
	loaded, eff := s.admin.loaded, s.admin.eff
	s.admin.mu.Unlock()
	if loaded.IsZero() {
		eff = s.envSettings()
	} else if maxAge > 0 && time.Since(loaded) < maxAge {
		return eff, nil
	}
	row, err := db.NewSettingsStore(s.db).Get(ctx)
	if err != nil {
		return eff, fmt.Errorf("error loading integration settings: %w", err)
	}
	applied, err := s.apply(row)
	if err != nil {
		return eff, err
	}
	return applied, nil
}

// current returns the settings in force, re-read when stale; a failed read
// is logged and the copy in hand is used.
func (s *Service) current(ctx context.Context) effective {
	eff, err := s.refresh(ctx, settingsMaxAge)
	if err != nil {
		s.log.Warn().Err(err).Msg("using the integration settings read earlier")
	}
	return eff
}

// cached returns the settings in hand without reading the database.
func (s *Service) cached() effective {
	s.admin.mu.Lock()
	defer s.admin.mu.Unlock()
	if s.admin.loaded.IsZero() {
		return s.envSettings()
	}
	return s.admin.eff
}

// paused reports whether an Administrator paused the workers.
func (s *Service) paused() bool { return s.cached().paused }

// batchInterval is how often changed customers are sent in one pass.
func (s *Service) batchInterval() time.Duration { return s.cached().batchInterval }

// WebhookSecret returns the webhook secret in force: the saved one, else
// the environment's. A secret saved through any replica applies within
// ten seconds (at once on the replica that saved it).
func (s *Service) WebhookSecret(ctx context.Context) string {
	return s.current(ctx).webhookSecret
}

// toSettings shows eff without its secrets.
func toSettings(eff effective) *Settings {
	out := &Settings{
		APIURL:               strings.TrimRight(strings.TrimSpace(eff.helpScout.BaseURL), "/"),
		ClientSecretSet:      eff.helpScout.ClientSecret != "",
		WebhookSecretSet:     eff.webhookSecret != "",
		BatchIntervalSeconds: int(eff.batchInterval / time.Second),
		Paused:               eff.paused,
		UpdatedBy:            eff.updatedBy,
		UpdatedAt:            eff.updatedAt,
		Saved:                eff.saved,
		SecretsEncrypted:     eff.sealed,
	}
	if out.APIURL == "" {
		out.APIURL = helpscout.DefaultBaseURL
	}
	if id := eff.helpScout.ClientID; id != "" {
		out.ClientID = &id
	}
	if id := eff.helpScout.MailboxID; id != 0 {
		out.MailboxID = &id
	}
	if out.UpdatedAt != nil {
		t := out.UpdatedAt.UTC()
		out.UpdatedAt = &t
	}
	return out
}

// Settings returns the integration settings in force; secrets only say
// whether they are set.
func (s *Service) Settings(ctx context.Context) (*Settings, error) {
	eff, err := s.refresh(ctx, 0)
	if err != nil {
		return nil, err
	}
	return toSettings(eff), nil
}

// UpdateSettings validates and saves a change of the integration settings,
// applies it to this process at once, and returns the settings in force.
// Secret values are never logged, returned nor put into an error.
func (s *Service) UpdateSettings(ctx context.Context, in SettingsInput, actor string) (*Settings, error) {
	p, err := validateSettings(in)
	if err != nil {
		return nil, err
	}
	if p.APIURL != nil && p.ClientSecret == nil {
		// The App Secret goes to the API address with every token request:
		// whoever moves the address must know the secret, or a changed
		// address would hand the saved one (or the environment's) to
		// another server.
		cur, err := s.refresh(ctx, 0)
		if err != nil {
			return nil, err
		}
		if *p.APIURL != cur.helpScout.BaseURL && cur.helpScout.ClientSecret != "" {
			return nil, apperr.BadInput("input.clientSecret",
				"required when apiUrl changes: the App Secret is only sent to the address it was given for, so give it again with the new apiUrl")
		}
	}
	stored := p
	s.box.sealPatch(&stored)
	row, err := db.NewSettingsStore(s.db).Update(ctx, stored, actor)
	if err != nil {
		return nil, err
	}
	eff, err := s.apply(row)
	if err != nil {
		return nil, err
	}
	ev := s.log.Info().Str("actor", actor)
	var changed []string
	if p.APIURL != nil {
		ev, changed = ev.Str("api_url", *p.APIURL), append(changed, "apiUrl")
	}
	if p.ClientID != nil {
		ev, changed = ev.Str("client_id", *p.ClientID), append(changed, "clientId")
	}
	if p.ClientSecret != nil {
		changed = append(changed, "clientSecret")
	}
	if p.MailboxID != nil {
		ev, changed = ev.Int64("mailbox_id", *p.MailboxID), append(changed, "mailboxId")
	}
	if p.WebhookSecret != nil {
		changed = append(changed, "webhookSecret")
	}
	if p.BatchIntervalSeconds != nil {
		ev, changed = ev.Int("batch_interval_seconds", *p.BatchIntervalSeconds), append(changed, "batchIntervalSeconds")
	}
	if p.Paused != nil {
		ev, changed = ev.Bool("paused", *p.Paused), append(changed, "paused")
	}
	for _, f := range p.Reset {
		changed = append(changed, "reset "+string(f))
	}
	ev.Strs("changed", changed).Msg("integration settings changed")
	return toSettings(eff), nil
}

// validateSettings checks an input and returns it as a patch. Error
// messages name the field and never repeat a secret.
func validateSettings(in SettingsInput) (db.SettingsPatch, error) {
	var p db.SettingsPatch
	if in.APIURL != nil {
		v := strings.TrimRight(strings.TrimSpace(*in.APIURL), "/")
		if err := checkAPIURL(v); err != nil {
			return p, err
		}
		p.APIURL = &v
	}
	if in.ClientID != nil {
		v := strings.TrimSpace(*in.ClientID)
		if v == "" {
			return p, apperr.BadInput("input.clientId", "must not be empty")
		}
		if n := utf8.RuneCountInString(v); n > maxClientIDLen {
			return p, apperr.BadInput("input.clientId", "must be at most %d characters, got %d", maxClientIDLen, n)
		}
		p.ClientID = &v
	}
	secret := func(field string, v *string) (*string, error) {
		if v == nil {
			return nil, nil
		}
		t := strings.TrimSpace(*v)
		if t == "" {
			return nil, apperr.BadInput(field, "must not be empty")
		}
		if n := utf8.RuneCountInString(t); n > maxSecretLen {
			return nil, apperr.BadInput(field, "must be at most %d characters, got %d", maxSecretLen, n)
		}
		if !utf8.ValidString(t) {
			return nil, apperr.BadInput(field, "must be valid UTF-8")
		}
		return &t, nil
	}
	var err error
	if p.ClientSecret, err = secret("input.clientSecret", in.ClientSecret); err != nil {
		return p, err
	}
	if p.WebhookSecret, err = secret("input.webhookSecret", in.WebhookSecret); err != nil {
		return p, err
	}
	if in.MailboxID != nil {
		if *in.MailboxID <= 0 {
			return p, apperr.BadInput("input.mailboxId", "must be a positive mailbox id, got %d", *in.MailboxID)
		}
		p.MailboxID = in.MailboxID
	}
	if in.BatchIntervalSeconds != nil {
		v := *in.BatchIntervalSeconds
		if v < minBatchIntervalSeconds || v > maxBatchIntervalSeconds {
			return p, apperr.BadInput("input.batchIntervalSeconds", "must be between %d and %d seconds, got %d",
				minBatchIntervalSeconds, maxBatchIntervalSeconds, v)
		}
		p.BatchIntervalSeconds = in.BatchIntervalSeconds
	}
	p.Paused = in.Paused
	given := map[db.SettingField]bool{
		db.SettingAPIURL: in.APIURL != nil, db.SettingClientID: in.ClientID != nil,
		db.SettingClientSecret: in.ClientSecret != nil, db.SettingMailboxID: in.MailboxID != nil,
		db.SettingWebhookSecret: in.WebhookSecret != nil, db.SettingBatchInterval: in.BatchIntervalSeconds != nil,
	}
	for _, f := range in.Reset {
		set, known := given[f]
		switch {
		case !known:
			return p, apperr.BadInput("input.reset", "unknown setting %q", f)
		case set:
			return p, apperr.BadInput("input.reset", "%s is both given a value and reset", f)
		case !slices.Contains(p.Reset, f):
			p.Reset = append(p.Reset, f)
		}
	}
	return p, nil
}

// checkAPIURL accepts an absolute http or https URL without credentials,
// query or fragment.
func checkAPIURL(v string) error {
	const field = "input.apiUrl"
	if v == "" {
		return apperr.BadInput(field, "must not be empty")
	}
	if len(v) > maxAPIURLLen {
		return apperr.BadInput(field, "must be at most %d characters", maxAPIURLLen)
	}
	u, err := url.Parse(v)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return apperr.BadInput(field, "must be an absolute http or https URL, such as %s", helpscout.DefaultBaseURL)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return apperr.BadInput(field, "must use http or https, not %q", u.Scheme)
	}
	if u.User != nil {
		return apperr.BadInput(field, "must not contain credentials")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return apperr.BadInput(field, "must not have a query or a fragment")
	}
	if u.Path != "" && u.Path != "/" {
		// The client adds /v2/... itself: a path would be sent twice.
		return apperr.BadInput(field, "must be the API's base URL without a path, such as %s (not %s)", helpscout.DefaultBaseURL, apperr.Quote(v))
	}
	return nil
}
