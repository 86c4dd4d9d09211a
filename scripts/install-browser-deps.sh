#!/usr/bin/env bash
# install-browser-deps.sh: installs what the browser tests and the GraphQL
# over HTTP audit (package internal/e2e) need: Debian's Chromium at
# /usr/bin/chromium, and the npm packages playwright-core and graphql-http,
# pinned by scripts/browser/package-lock.json, in .cache/browser-tools (or
# $BROWSER_TOOLS). Idempotent: when all are in place it prints one line and
# returns at once.
#
# Usage: scripts/install-browser-deps.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
spec="$root/scripts/browser"
tools="${BROWSER_TOOLS:-$root/.cache/browser-tools}"
chromium="${CHROMIUM:-/usr/bin/chromium}"

# quietly runs a command, showing its output only when it fails.
quietly() {
	local log
	log="$(mktemp)"
	if ! "$@" >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		echo "browser deps: failed: $*" >&2
		exit 1
	fi
	rm -f "$log"
}

did=()
if [[ ! -x "$chromium" ]]; then
	command -v apt-get >/dev/null || { echo "browser deps: $chromium is missing and apt-get is not available; install Chromium" >&2; exit 1; }
	sudo=()
	if [[ $(id -u) != 0 ]]; then
		command -v sudo >/dev/null || { echo "browser deps: installing chromium needs root (or sudo)" >&2; exit 1; }
		sudo=(sudo)
	fi
	quietly "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	quietly "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
	[[ -x "$chromium" ]] || { echo "browser deps: apt-get installed chromium, but $chromium is missing" >&2; exit 1; }
	did+=("installed chromium")
fi

# The install is current when the lock file it was made from is the
# committed one and the package is there.
if ! cmp -s "$spec/package-lock.json" "$tools/package-lock.json" ||
	! cmp -s "$spec/package.json" "$tools/package.json" ||
	[[ ! -s "$tools/node_modules/playwright-core/package.json" ]] ||
	[[ ! -s "$tools/node_modules/graphql-http/package.json" ]]; then
	command -v npm >/dev/null || { echo "browser deps: npm not found (Node.js 20+ is needed)" >&2; exit 1; }
	mkdir -p "$tools"
	cp "$spec/package.json" "$spec/package-lock.json" "$tools/"
	quietly npm ci --prefix "$tools" --no-audit --no-fund --ignore-scripts --loglevel=error
	did+=("installed playwright-core and graphql-http into ${tools#"$root"/}")
fi

version="$(node -p 'require(process.argv[1]).version' "$tools/node_modules/playwright-core/package.json")"
if [[ ${#did[@]} == 0 ]]; then
	echo "browser deps: up to date ($("$chromium" --version 2>/dev/null | tr -s ' ' | sed 's/ $//'), playwright-core $version)"
else
	echo "browser deps: $(IFS=,; echo "${did[*]}" | sed 's/,/, /g') (playwright-core $version)"
fi
