package db_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/db/dbtest"
)

// TestSettingsUpdate saves patches one after another: fields left out keep
// their value, the row records who saved it, and Get reads it back.
func TestSettingsUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := db.NewSettingsStore(dbtest.New(t))

	empty, err := st.Get(ctx)
	require.NoError(t, err)
	require.Equal(t, &db.IntegrationSettings{ID: 1}, empty, "nothing saved falls back to the environment")

	steps := []struct {
		name  string
		patch db.SettingsPatch
		actor string
		check func(t *testing.T, row *db.IntegrationSettings)
	}{
		{"url and mailbox", db.SettingsPatch{APIURL: rptr("http://sim.test"), MailboxID: rptr(int64(7))}, "ann",
			func(t *testing.T, row *db.IntegrationSettings) {
				require.Equal(t, "http://sim.test", *row.APIURL)
				require.Equal(t, int64(7), *row.MailboxID)
				require.Nil(t, row.ClientSecret)
				require.False(t, row.Paused)
			}},
		{"secret and pause keep the rest", db.SettingsPatch{ClientSecret: rptr("s3cret"), Paused: rptr(true)}, "bob",
			func(t *testing.T, row *db.IntegrationSettings) {
				require.Equal(t, "http://sim.test", *row.APIURL)
				require.Equal(t, int64(7), *row.MailboxID)
				require.Equal(t, "s3cret", *row.ClientSecret)
				require.True(t, row.Paused)
				require.NotContains(t, row.String(), "s3cret")
			}},
		{"resume", db.SettingsPatch{Paused: rptr(false), BatchIntervalSeconds: rptr(30)}, "ann",
			func(t *testing.T, row *db.IntegrationSettings) {
				require.False(t, row.Paused)
				require.Equal(t, 30, *row.BatchIntervalSeconds)
				require.Equal(t, "s3cret", *row.ClientSecret)
			}},
	}
	for _, s := range steps {
		saved, err := st.Update(ctx, s.patch, s.actor)
		require.NoError(t, err, s.name)
		require.Equal(t, s.actor, *saved.UpdatedBy, s.name)
		require.NotNil(t, saved.UpdatedAt, s.name)
		s.check(t, saved)
		got, err := st.Get(ctx)
		require.NoError(t, err, s.name)
		require.True(t, saved.UpdatedAt.Equal(*got.UpdatedAt), s.name)
		got.UpdatedAt = saved.UpdatedAt
		require.Equal(t, saved, got, s.name)
	}
}

// TestSettingsConcurrentUpdates saves different fields from many
// goroutines at once: none is lost.
func TestSettingsConcurrentUpdates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bdb := dbtest.New(t)
	st := db.NewSettingsStore(bdb)
	patches := []db.SettingsPatch{
		{APIURL: rptr("http://a.test")}, {ClientID: rptr("id")}, {ClientSecret: rptr("cs")},
		{MailboxID: rptr(int64(9))}, {WebhookSecret: rptr("ws")}, {BatchIntervalSeconds: rptr(60)}, {Paused: rptr(true)},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(patches))
	for i, p := range patches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.Update(ctx, p, "admin")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	got, err := st.Get(ctx)
	require.NoError(t, err)
	require.Equal(t, "http://a.test", *got.APIURL)
	require.Equal(t, "id", *got.ClientID)
	require.Equal(t, "cs", *got.ClientSecret)
	require.Equal(t, int64(9), *got.MailboxID)
	require.Equal(t, "ws", *got.WebhookSecret)
	require.Equal(t, 60, *got.BatchIntervalSeconds)
	require.True(t, got.Paused)
}
