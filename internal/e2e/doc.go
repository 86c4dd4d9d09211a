// Package e2e holds the end-to-end browser tests: each starts the real
// service (app.NewStack over a fresh PostgreSQL database, the sync workers
// talking to the HelpScout simulator, the live hub, the HTTP handler on a
// real listener) and drives its pages in headless Chromium through the
// playwright-core scripts in scripts/browser.
//
// The tests need /usr/bin/chromium and the playwright-core package in
// .cache/browser-tools; scripts/install-browser-deps.sh installs both (and
// scripts/test runs it first). Without them the tests fail, naming that
// script; they are never skipped.
package e2e
