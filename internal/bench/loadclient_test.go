package bench

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLoadClient checks the load generator's own HTTP client against a
// real server: what it sends, which answers it takes for failures, and
// that it keeps its connections alive.
func TestLoadClient(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		close   bool
		wantErr string
	}{
		{name: "data", status: 200, body: `{"data":{"viewer":{"role":"MANAGER"}}}`},
		{name: "the word errors inside the data", status: 200, body: `{"data":{"e":{"errorMessage":"3 \"errors\" found"}}}`},
		{name: "errors", status: 200, body: `{"errors":[{"message":"not allowed"}],"data":null}`, wantErr: "graphql error: not allowed"},
		{name: "server error", status: 500, body: `oops`, wantErr: "status 500: oops"},
		{name: "server closes the connection", status: 200, body: `{"data":{}}`, close: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got atomic.Value
			var conns atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got.Store(r.Method + " " + r.URL.Path + " " + r.Header.Get("Authorization") + " " + r.Header.Get("Content-Type") + " " + string(b))
				if tt.close {
					w.Header().Set("Connection", "close")
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			defer srv.Close()

			lc := newLoadClient(strings.TrimPrefix(srv.URL, "http://"), http.MethodPost, "/graphql", "tok", []byte(`{"query":"{ viewer { role } }"}`), 2)
			defer lc.close()
			for range 3 {
				err := lc.send(context.Background())
				if tt.wantErr != "" {
					require.EqualError(t, err, tt.wantErr)
				} else {
					require.NoError(t, err)
				}
			}
			require.Equal(t, `POST /graphql Bearer tok application/json {"query":"{ viewer { role } }"}`, got.Load())
			want := int32(1)
			if tt.close {
				want = 3
			}
			require.Equal(t, want, conns.Load(), "connections opened for three requests")
		})
	}
}

// TestLoadClientGet checks a request without a body or a token, as the
// benchmark sends to /healthz: no body headers, nothing after the headers.
func TestLoadClientGet(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(r.Method + " " + r.URL.Path + " [" + r.Header.Get("Authorization") + "] [" + r.Header.Get("Content-Type") + "] [" + string(b) + "]")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	lc := newLoadClient(strings.TrimPrefix(srv.URL, "http://"), http.MethodGet, "/healthz", "", nil, 1)
	defer lc.close()
	for range 2 {
		require.NoError(t, lc.send(context.Background()))
	}
	require.Equal(t, "GET /healthz [] [] []", got.Load())
}
