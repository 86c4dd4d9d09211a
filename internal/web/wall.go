package web

import "net/http"

// WallOptions configure the wall-screen page.
type WallOptions struct {
	// Endpoint is the GraphQL endpoint (HTTP and WebSocket).
	Endpoint string
	// Headers are sent with every request; the embedded demo puts its token
	// here so that the page needs no setup.
	Headers map[string]string
}

// Wall serves the wall-screen page.
func Wall(opts WallOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "the wall screen is not built yet", http.StatusNotImplemented)
	})
}
