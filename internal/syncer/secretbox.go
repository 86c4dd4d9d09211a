package syncer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
)

// sealedPrefix marks a secret stored encrypted: AES-256-GCM, the nonce
// first, in standard base64 without padding.
const sealedPrefix = "enc:v1:"

// sealedData binds a sealed value to its use, so that it cannot pass for
// anything else encrypted with the same key.
var sealedData = []byte("helpscout-log integration settings")

// errSealed says why a replica cannot read the saved secrets.
var errSealed = apperr.New(apperr.Unavailable,
	"the saved HelpScout secrets are encrypted and this replica cannot read them: SETTINGS_KEY is not set here, or is not the key they were saved with")

// secretBox encrypts the secrets of the integration settings at rest. A
// nil box stores them as they are.
type secretBox struct {
	aead cipher.AEAD
}

// newSecretBox returns a box for key (SETTINGS_KEY), or nil when key is
// empty.
func newSecretBox(key string) *secretBox {
	if key == "" {
		return nil
	}
	sum := sha256.Sum256([]byte("helpscout-log settings key v1\x00" + key))
	block, err := aes.NewCipher(sum[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &secretBox{aead: aead}
}

// seal returns the stored form of a secret.
func (b *secretBox) seal(plain string) string {
	if b == nil {
		return plain
	}
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	out := b.aead.Seal(nonce, nonce, []byte(plain), sealedData)
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(out)
}

// open returns the secret of a stored value. A value saved before a key was
// configured is plain text and comes back as it is.
func (b *secretBox) open(stored string) (string, error) {
	rest, isSealed := strings.CutPrefix(stored, sealedPrefix)
	if !isSealed {
		return stored, nil
	}
	if b == nil {
		return "", errSealed
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", errors.Join(errSealed, errors.New("malformed sealed value"))
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], sealedData)
	if err != nil {
		return "", errSealed
	}
	return string(plain), nil
}

// sealPatch puts the patch's secrets in their stored form.
func (b *secretBox) sealPatch(p *db.SettingsPatch) {
	for _, v := range []**string{&p.ClientSecret, &p.WebhookSecret} {
		if *v != nil {
			s := b.seal(**v)
			*v = &s
		}
	}
}

// openRow returns a copy of row with its secrets readable.
func (b *secretBox) openRow(row *db.IntegrationSettings) (*db.IntegrationSettings, error) {
	out := *row
	for _, v := range []**string{&out.ClientSecret, &out.WebhookSecret} {
		if *v != nil {
			s, err := b.open(**v)
			if err != nil {
				return nil, err
			}
			*v = &s
		}
	}
	return &out, nil
}

// sealed reports whether a stored value is encrypted.
func sealed(stored *string) bool {
	return stored != nil && strings.HasPrefix(*stored, sealedPrefix)
}
