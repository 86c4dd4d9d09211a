package auth

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSatisfies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		have, need Role
		want       bool
	}{
		{RoleManager, RoleManager, true},
		{RoleManager, RoleAdministrator, false},
		{RoleAdministrator, RoleManager, true},
		{RoleAdministrator, RoleKivaAdmin, false},
		{RoleKivaAdmin, RoleAdministrator, true},
		{RoleKivaAdmin, RoleService, false},
		{RoleService, RoleManager, false},
		{RoleService, RoleService, true},
		{RoleManager, RoleService, false},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, tc.have.Satisfies(tc.need), "%s satisfies %s", tc.have, tc.need)
	}
}

// TestVerifiedTokenStillExpires checks that the cache of verified tokens
// never outlives a token: once its exp passes, it is refused.
func TestVerifiedTokenStillExpires(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	iss := NewIssuer("test-secret-0123456789")
	iss.now = func() time.Time { return now }
	tok, err := iss.Issue("ann", RoleManager, time.Minute)
	require.NoError(t, err)

	c, err := iss.Verify(tok)
	require.NoError(t, err)
	require.Equal(t, "ann", c.Subject)
	c2, err := iss.Verify(tok)
	require.NoError(t, err)
	require.Same(t, c, c2, "the second check is served from the cache")

	now = now.Add(2 * time.Minute)
	_, err = iss.Verify(tok)
	require.Error(t, err)
	require.True(t, errors.Is(err, ErrInvalidToken))
	require.Contains(t, err.Error(), "expired")
}

func TestVerifyRefusesOtherSecrets(t *testing.T) {
	t.Parallel()
	tok, err := NewIssuer("another-secret-0123456789").Issue("eve", RoleKivaAdmin, time.Hour)
	require.NoError(t, err)
	_, err = NewIssuer("test-secret-0123456789").Verify(tok)
	require.ErrorIs(t, err, ErrInvalidToken)
}
