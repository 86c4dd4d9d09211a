package helpscout

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strings"
)

// The webhook headers HelpScout sends.
const (
	// HeaderEvent names the event, e.g. convo.created.
	HeaderEvent = "X-HelpScout-Event"
	// HeaderSignature holds base64(HMAC-SHA1(secret, raw body)).
	HeaderSignature = "X-HelpScout-Signature"
	// EventTest is the event of the test ping sent when a webhook is saved.
	EventTest = "helpscout.test"
)

// Sign returns HelpScout's webhook signature of body: the base64 of the
// HMAC-SHA1 of the raw body bytes keyed with the webhook secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether header is the signature of the raw body
// under secret, comparing in constant time. An empty secret or header never
// verifies.
func VerifySignature(secret string, body []byte, header string) bool {
	header = strings.TrimSpace(header)
	if secret == "" || header == "" {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		return false
	}
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
