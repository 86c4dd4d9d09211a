#!/usr/bin/env bash
# fetch-web-assets.sh: puts the GraphiQL playground's JavaScript and CSS into
# internal/web/assets/, where `go build` embeds them (package internal/web).
#
# The files come from the npm registry (pinned versions, the same files that
# gqlgen's playground would load from a CDN), are installed into a cache folder
# (.cache/web-assets, or $WEB_ASSETS_CACHE) and copied from there. They are not
# committed. Run it before building; it is idempotent and returns at once when
# the files with the right versions are already in place.
#
# Usage: scripts/fetch-web-assets.sh [--force]
set -euo pipefail

GRAPHIQL_VERSION=4.1.2
REACT_VERSION=18.2.0
REACT_DOM_VERSION=18.2.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/internal/web/assets"
cache="${WEB_ASSETS_CACHE:-$root/.cache/web-assets}"
stamp_file="$dest/.stamp"
stamp="graphiql@$GRAPHIQL_VERSION react@$REACT_VERSION react-dom@$REACT_DOM_VERSION"

# Source path in node_modules -> destination path under internal/web/assets.
# Keep in sync with the asset table in internal/web/assets.go.
files=(
	react/umd/react.production.min.js
	react-dom/umd/react-dom.production.min.js
	graphiql/graphiql.min.js
	graphiql/graphiql.min.css
)

# SHA-256 of each file, as in gqlgen v0.17.98's playground (its SRI hashes),
# so the copies are byte for byte the files gqlgen would load from the CDN.
declare -A sha256=(
	[react/umd/react.production.min.js]="S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY="
	[react-dom/umd/react-dom.production.min.js]="IXWO0ITNDjfnNXIu5POVfqlgYoop36bDzhodR6LW5Pc="
	[graphiql/graphiql.min.js]="hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs="
	[graphiql/graphiql.min.css]="MEh+B2NdMSpj9kexQNN3QKc8UzMrCXW/Sx/phcpuyIU="
)

force=0
case "${1:-}" in
	--force) force=1 ;;
	"") ;;
	*) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

all_present() { # $1: folder holding the files
	local f
	for f in "${files[@]}"; do
		[[ -s "$1/$f" ]] || return 1
	done
}

digest() { # base64 SHA-256 of a file, as in an SRI hash
	openssl dgst -sha256 -binary "$1" | base64
}

if [[ $force == 0 && -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]] && all_present "$dest"; then
	echo "web assets: up to date ($stamp) in ${dest#"$root"/}"
	exit 0
fi

start=$SECONDS
modules="$cache/node_modules"
installed_version() { # $1: package name
	node -p "require(process.argv[1]).version" "$modules/$1/package.json" 2>/dev/null || true
}
how="took the npm packages from the cache ${cache#"$root"/}"
if [[ $force == 1 ]] ||
	[[ "$(installed_version graphiql)" != "$GRAPHIQL_VERSION" ]] ||
	[[ "$(installed_version react)" != "$REACT_VERSION" ]] ||
	[[ "$(installed_version react-dom)" != "$REACT_DOM_VERSION" ]] ||
	! all_present "$modules"; then
	command -v npm >/dev/null || { echo "web assets: npm not found (Node.js 20+ is needed)" >&2; exit 1; }
	mkdir -p "$cache"
	npm install --no-audit --no-fund --ignore-scripts --loglevel=error \
		--prefix "$cache" \
		"graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_DOM_VERSION" >/dev/null
	how="installed the npm packages into ${cache#"$root"/}"
fi

for f in "${files[@]}"; do
	if [[ ! -s "$modules/$f" ]]; then
		echo "web assets: $f is missing from the npm packages in $cache" >&2
		exit 1
	fi
	got="$(digest "$modules/$f")"
	if [[ "$got" != "${sha256[$f]}" ]]; then
		echo "web assets: $f has SHA-256 $got, expected ${sha256[$f]}" >&2
		exit 1
	fi
done

# The stamp goes first and comes back last, and each file is copied under a
# temporary name and renamed, so an interrupted run never leaves a stamp that lies.
rm -f "$stamp_file"
for f in "${files[@]}"; do
	mkdir -p "$(dirname "$dest/$f")"
	cp "$modules/$f" "$dest/$f.tmp"
	mv -f "$dest/$f.tmp" "$dest/$f"
done
printf '%s\n' "$stamp" >"$stamp_file"

echo "web assets: $how, copied ${#files[@]} files ($stamp) to ${dest#"$root"/} in $((SECONDS - start))s"
