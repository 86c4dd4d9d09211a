package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// IntegrationSettings is the single row of integration_settings: the
// HelpScout connection as Administrators saved it. A nil column falls back
// to the environment. The secrets are stored so that every replica can use
// them; they are never returned by the API.
type IntegrationSettings struct {
	bun.BaseModel `bun:"table:integration_settings,alias:iset"`

	// ID is always 1.
	ID int `bun:"id,pk"`
	// APIURL is HelpScout's base URL.
	APIURL *string `bun:"api_url"`
	// ClientID is the OAuth2 App ID.
	ClientID *string `bun:"client_id"`
	// ClientSecret is the OAuth2 App Secret.
	ClientSecret *string `bun:"client_secret"`
	// MailboxID is the mailbox contact forms go to.
	MailboxID *int64 `bun:"mailbox_id"`
	// WebhookSecret verifies HelpScout's webhook signatures.
	WebhookSecret *string `bun:"webhook_secret"`
	// BatchIntervalSeconds is the customer batch period.
	BatchIntervalSeconds *int `bun:"batch_interval_seconds"`
	// Paused stops the workers of every replica.
	Paused bool `bun:"paused,notnull"`
	// UpdatedBy is who saved the settings last.
	UpdatedBy *string `bun:"updated_by"`
	// UpdatedAt is when.
	UpdatedAt *time.Time `bun:"updated_at"`
}

// String describes the settings without the secrets.
func (s *IntegrationSettings) String() string {
	return fmt.Sprintf("db.IntegrationSettings{APIURL:%s ClientID:%s ClientSecretSet:%t MailboxID:%s WebhookSecretSet:%t BatchIntervalSeconds:%s Paused:%t}",
		strOrNil(s.APIURL), strOrNil(s.ClientID), s.ClientSecret != nil, intOrNil(s.MailboxID),
		s.WebhookSecret != nil, intOrNil(s.BatchIntervalSeconds), s.Paused)
}

func strOrNil(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *p)
}

func intOrNil[T int | int64](p *T) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}

// SettingField names a setting that can be saved over its environment
// value.
type SettingField string

// The settings that fall back to the environment.
const (
	SettingAPIURL        SettingField = "API_URL"
	SettingClientID      SettingField = "CLIENT_ID"
	SettingClientSecret  SettingField = "CLIENT_SECRET"
	SettingMailboxID     SettingField = "MAILBOX_ID"
	SettingWebhookSecret SettingField = "WEBHOOK_SECRET"
	SettingBatchInterval SettingField = "BATCH_INTERVAL"
)

// Saved lists the settings the row holds, the others falling back to the
// environment.
func (s *IntegrationSettings) Saved() []SettingField {
	var out []SettingField
	add := func(set bool, f SettingField) {
		if set {
			out = append(out, f)
		}
	}
	add(s.APIURL != nil, SettingAPIURL)
	add(s.ClientID != nil, SettingClientID)
	add(s.ClientSecret != nil, SettingClientSecret)
	add(s.MailboxID != nil, SettingMailboxID)
	add(s.WebhookSecret != nil, SettingWebhookSecret)
	add(s.BatchIntervalSeconds != nil, SettingBatchInterval)
	return out
}

// SettingsPatch changes some integration settings; nil fields keep their
// stored value.
type SettingsPatch struct {
	// APIURL is HelpScout's base URL.
	APIURL *string
	// ClientID is the OAuth2 App ID.
	ClientID *string
	// ClientSecret is the OAuth2 App Secret.
	ClientSecret *string
	// MailboxID is the mailbox contact forms go to.
	MailboxID *int64
	// WebhookSecret verifies HelpScout's webhook signatures.
	WebhookSecret *string
	// BatchIntervalSeconds is the customer batch period.
	BatchIntervalSeconds *int
	// Paused stops or resumes the workers.
	Paused *bool
	// Reset forgets these saved settings, so that the environment's values
	// apply again.
	Reset []SettingField
}

// SettingsStore reads and writes the integration settings.
type SettingsStore struct {
	db bun.IDB
}

// NewSettingsStore returns a store over idb.
func NewSettingsStore(idb bun.IDB) *SettingsStore { return &SettingsStore{db: idb} }

// Get returns the saved settings, or an empty row (every column falling
// back to the environment) when nothing was saved yet.
func (s *SettingsStore) Get(ctx context.Context) (*IntegrationSettings, error) {
	row := &IntegrationSettings{}
	err := s.db.NewSelect().Model(row).Where("id = 1").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return &IntegrationSettings{ID: 1}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error reading integration settings: %w", err)
	}
	return row, nil
}

// Update applies p in one transaction, stamps the row with actor and the
// database's clock, and returns the row as saved. Concurrent updates of
// different fields do not overwrite each other.
func (s *SettingsStore) Update(ctx context.Context, p SettingsPatch, actor string) (*IntegrationSettings, error) {
	row := &IntegrationSettings{}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(&IntegrationSettings{ID: 1}).On("CONFLICT (id) DO NOTHING").Exec(ctx); err != nil {
			return fmt.Errorf("error creating the settings row: %w", err)
		}
		if err := tx.NewSelect().Model(row).Where("id = 1").For("UPDATE").Scan(ctx); err != nil {
			return fmt.Errorf("error locking the settings row: %w", err)
		}
		if p.APIURL != nil {
			row.APIURL = p.APIURL
		}
		if p.ClientID != nil {
			row.ClientID = p.ClientID
		}
		if p.ClientSecret != nil {
			row.ClientSecret = p.ClientSecret
		}
		if p.MailboxID != nil {
			row.MailboxID = p.MailboxID
		}
		if p.WebhookSecret != nil {
			row.WebhookSecret = p.WebhookSecret
		}
		if p.BatchIntervalSeconds != nil {
			row.BatchIntervalSeconds = p.BatchIntervalSeconds
		}
		if p.Paused != nil {
			row.Paused = *p.Paused
		}
		for _, f := range p.Reset {
			switch f {
			case SettingAPIURL:
				row.APIURL = nil
			case SettingClientID:
				row.ClientID = nil
			case SettingClientSecret:
				row.ClientSecret = nil
			case SettingMailboxID:
				row.MailboxID = nil
			case SettingWebhookSecret:
				row.WebhookSecret = nil
			case SettingBatchInterval:
				row.BatchIntervalSeconds = nil
			default:
				return fmt.Errorf("unknown setting %q", f)
			}
		}
		row.UpdatedBy = &actor
		_, err := tx.NewUpdate().Model(row).
			Column("api_url", "client_id", "client_secret", "mailbox_id", "webhook_secret",
				"batch_interval_seconds", "paused", "updated_by").
			Set("updated_at = now()").
			WherePK().
			Returning("updated_at").
			Exec(ctx, &row.UpdatedAt)
		if err != nil {
			return fmt.Errorf("error saving integration settings: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return row, nil
}

// RewriteSecrets replaces each stored secret v with rewrite(v) in one
// transaction, leaving the other columns and the update stamp as they are
// (the settings mean the same; only their stored form changes). It reports
// how many secrets changed.
func (s *SettingsStore) RewriteSecrets(ctx context.Context, rewrite func(stored string) string) (int, error) {
	changed := 0
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		changed = 0
		row := &IntegrationSettings{}
		err := tx.NewSelect().Model(row).Where("id = 1").For("UPDATE").Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("error locking the settings row: %w", err)
		}
		for _, v := range []**string{&row.ClientSecret, &row.WebhookSecret} {
			if *v == nil {
				continue
			}
			if w := rewrite(**v); w != **v {
				*v = &w
				changed++
			}
		}
		if changed == 0 {
			return nil
		}
		if _, err := tx.NewUpdate().Model(row).Column("client_secret", "webhook_secret").WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("error rewriting the stored secrets: %w", err)
		}
		return nil
	})
	return changed, err
}
