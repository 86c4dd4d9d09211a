// Package server assembles the HTTP side of helpscout-log: the gqlgen
// handler with its transports, limits and error presenter, the CSV export,
// health, readiness and metrics endpoints, the playground, and the
// middleware every request passes (request id, access log, CORS, auth,
// per-request loaders).
package server
