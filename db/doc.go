// Package db owns the PostgreSQL storage of helpscout-log: the Bun models,
// one store per aggregate (events, customers, conversations, rollups,
// diagnostics), the embedded SQL migrations and the connection setup.
//
// Every store method takes a context and works on the *bun.DB the store was
// built with; methods that must run inside a caller's transaction take a
// bun.IDB instead.
package db
