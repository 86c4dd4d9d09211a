// Package e2e holds the end-to-end tests: each starts the real service
// (app.NewStack over a fresh PostgreSQL database, the sync workers talking
// to the HelpScout simulator, the live hub, the HTTP handler on a real
// listener). The browser tests drive its pages in headless Chromium through
// the playwright-core scripts in scripts/browser; TestExamplesOnDemoData
// runs the playground's example operations, as the page serves them, over
// HTTP against demo data; TestGraphQLOverHTTPAudit runs graphql-http's audit
// of the GraphQL over HTTP specification against /graphql.
//
// The browser tests need /usr/bin/chromium and the playwright-core package in
// .cache/browser-tools, the audit the graphql-http package there;
// scripts/install-browser-deps.sh installs them (and scripts/test runs it
// first). Without them the tests fail, naming that script; they are never
// skipped.
package e2e
