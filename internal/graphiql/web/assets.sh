#!/usr/bin/env bash
# `make assets`: install the pinned GraphiQL, React and playwright-core from
# the npm registry (package-lock.json, `npm ci`) and copy GraphiQL's prebuilt
# UMD files into ../dist, which the Go package embeds. Third-party code is
# never committed: node_modules and dist (except README.txt) are gitignored.
#
# Idempotent and fast when done: a stamp holds the hash of package-lock.json
# and of this script; nothing runs while it matches and every output exists.
#
# With CARTOGRAPH_REQUIRE_BROWSER set (make test) it also makes sure Debian's
# chromium is installed for the browser test, and a missing npm is an error;
# otherwise (make build / run) a missing npm only warns: the binary still
# builds and GET / explains how to get the assets.
set -euo pipefail
cd "$(dirname "$0")"
web=$PWD
dist=$(cd .. && pwd)/dist
stamp=$dist/.stamp
chromium=/usr/bin/chromium
require=${CARTOGRAPH_REQUIRE_BROWSER:-}

# Copied as dist/<name>: source path under node_modules.
files=(
	"react.production.min.js:react/umd/react.production.min.js"
	"react-dom.production.min.js:react-dom/umd/react-dom.production.min.js"
	"graphiql.min.js:graphiql/graphiql.min.js"
	"graphiql.min.css:graphiql/graphiql.min.css"
)

say() { echo "assets: $*" >&2; }

is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null ||
		{ apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null; }
}

ensure_chromium() {
	[ -n "$require" ] || return 0
	[ -x "$chromium" ] && return 0
	if is_root && command -v apt-get >/dev/null; then
		say "installing Debian's chromium for the browser test (apt-get install -y chromium)"
		apt_install chromium
	else
		say "missing $chromium (needed by internal/graphiql's browser test): run 'sudo apt-get install -y chromium'"
		exit 1
	fi
}

ensure_npm() {
	command -v npm >/dev/null && return 0
	if is_root && command -v apt-get >/dev/null; then
		say "installing Debian's npm (apt-get install -y npm)"
		apt_install nodejs npm
		return 0
	fi
	if [ -n "$require" ]; then
		say "npm not found: install Node.js >= 18 with npm (Debian: sudo apt-get install -y nodejs npm)"
		exit 1
	fi
	say "WARNING: npm not found; building without GraphiQL (GET / will say how to get it). Install Node.js >= 18 with npm, then run 'make assets'."
	exit 0
}

# The storefront client libraries the tests drive (hydrogen-react's decoder,
# Apollo Client's normalized cache): their own pinned package, npm ci'd in
# place when its lockfile changes. Only needed by tests (make test).
storefront_clients() {
	[ -n "$require" ] || return 0
	local dir
	dir=$(cd ../../server/testdata/storefronts/clients && pwd)
	local want
	want=$(cat "$dir/package-lock.json" "$dir/.npmrc" | sha256sum | cut -d' ' -f1)
	if [ -f "$dir/node_modules/.stamp" ] && [ "$(cat "$dir/node_modules/.stamp")" = "$want" ]; then
		return 0
	fi
	ensure_npm
	say "npm ci in $dir (@shopify/hydrogen-react, @apollo/client; for the storefront client test)"
	(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
	echo "$want" >"$dir/node_modules/.stamp"
}

ensure_chromium
storefront_clients

want=$(cat package-lock.json assets.sh | sha256sum | cut -d' ' -f1)
done=1
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] || done=0
[ -d node_modules/playwright-core ] || done=0
[ -d node_modules/graphql-ws ] || done=0
for f in "${files[@]}"; do [ -s "$dist/${f%%:*}" ] || done=0; done
[ -s "$dist/THIRD_PARTY_LICENSES.txt" ] || done=0
if [ "$done" = 1 ]; then
	exit 0
fi

ensure_npm
say "npm ci in $web (graphiql, react, react-dom; for tests playwright-core and graphql-ws; pinned by package-lock.json)"
start=$(date +%s)
# --ignore-scripts: nothing here needs an install script, and none may run.
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null

rm -f "$stamp"
find "$dist" -mindepth 1 ! -name README.txt -delete
for f in "${files[@]}"; do
	cp "node_modules/${f#*:}" "$dist/${f%%:*}"
done
# The MIT notices of everything the copied bundles contain (GraphiQL's UMD
# bundles its own dependencies), shipped inside the binary with the code.
{ npm ls --omit=dev --all --parseable 2>/dev/null || true; } | sed 1d | sort -u | node -e '
	const fs = require("fs"), path = require("path");
	const out = ["Third-party software embedded by cartograph/internal/graphiql (installed by make assets)."];
	for (const dir of fs.readFileSync(0, "utf8").split("\n").filter(Boolean)) {
		const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
		const lic = fs.readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
		out.push(`\n==== ${pkg.name}@${pkg.version} (${pkg.license || "see below"}) ====\n`);
		if (lic) out.push(fs.readFileSync(path.join(dir, lic), "utf8").trim());
	}
	process.stdout.write(out.join("\n") + "\n");
' >"$dist/THIRD_PARTY_LICENSES.txt"
echo "$want" >"$stamp"
say "done in $(($(date +%s) - start)) s: $(cd "$dist" && ls | grep -v README.txt | tr '\n' ' ')"
