package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lineWriter collects output and signals each write.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	select {
	case w.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestSimulateServesUntilCancelled runs the simulate-helpscout subcommand
// on a free port, gets a token from it over HTTP, and stops it.
func TestSimulateServesUntilCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWriter{wrote: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() {
		done <- Simulate(ctx, []string{"-addr", "127.0.0.1:0", "-client-id", "app", "-client-secret", "s3cret"}, out)
	}()

	urlRe := regexp.MustCompile(`HelpScout simulator at (http://\S+)`)
	deadline := time.After(10 * time.Second)
	var url string
	for url == "" {
		select {
		case <-out.wrote:
			if m := urlRe.FindStringSubmatch(out.String()); m != nil {
				url = m[1]
			}
		case err := <-done:
			t.Fatalf("simulator ended early: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("simulator did not announce its address:\n%s", out.String())
		}
	}

	resp, err := http.Post(url+"/v2/oauth2/token", "application/json",
		strings.NewReader(`{"grant_type":"client_credentials","client_id":"app","client_secret":"s3cret"}`))
	require.NoError(t, err)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, tok.AccessToken)
	require.Positive(t, tok.ExpiresIn)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("simulator did not stop after cancel")
	}
}
