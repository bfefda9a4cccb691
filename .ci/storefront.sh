#!/usr/bin/env bash
# `make storefront`: build and run the real Next.js Commerce app (vercel/commerce,
# its Shopify provider, pinned commit below) against Cartograph, with only its
# endpoint, token and image host changed, and drive it in headless Chromium:
# home page, search, a product page, add to cart, change a quantity, remove a
# line. Not part of `make test` (it downloads the app's npm packages and runs
# `next build`, under a minute here).
#
# The app's source comes from git: STOREFRONT_GIT (default
# https://github.com/vercel/commerce.git, or a local clone/mirror when GitHub
# is not reachable) at STOREFRONT_COMMIT. Nothing of it is committed here.
#
# What it sets up:
#   - a private database (cartograph_storefront) migrated and seeded, demo
#     image URLs on https://127.0.0.1:8443 (PUBLIC_BASE_URL);
#   - a self-signed certificate for 127.0.0.1 (the app always prefixes
#     https:// to SHOPIFY_STORE_DOMAIN), trusted by Node via NODE_EXTRA_CA_CERTS
#     (images reach the browser through next/image on the app's own origin);
#   - cartograph serve with TLS_CERT_FILE/TLS_KEY_FILE on 127.0.0.1:8443;
#   - a public (pk_) key of the apparel shop: the key names the shop;
#   - the app's env: SHOPIFY_STORE_DOMAIN=127.0.0.1:8443,
#     SHOPIFY_STOREFRONT_ACCESS_TOKEN=pk_…, and one remotePattern for the
#     image host appended to next.config.ts;
#   - next build, next start on 127.0.0.1:3100, then .ci/storefront/drive.mjs.
# Screenshots in .data/screenshots/storefront-*.png, logs in .data/storefront/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

STOREFRONT_GIT="${STOREFRONT_GIT:-https://github.com/vercel/commerce.git}"
STOREFRONT_COMMIT="${STOREFRONT_COMMIT:-5542649d5b4700e80d2da9b40279af50bf451a75}"
PNPM="pnpm@9.15.9"
GW_ADDR=127.0.0.1:8443
APP_PORT=3100
WORK="$ROOT/.data/storefront"
APP="$WORK/commerce-${STOREFRONT_COMMIT:0:12}"
mkdir -p "$WORK" "$ROOT/.data/screenshots"
log() { printf 'storefront: %s\n' "$*" >&2; }

PIDS=()
# Background servers run in their own session (setsid) so that the whole
# tree (npx → pnpm → next-server) is stopped with its process group.
cleanup() { for p in "${PIDS[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# 1. The app's source at the pinned commit (fresh copy each run: the config edit
#    below must apply to pristine files).
if [[ ! -f "$APP/.installed" ]]; then
  rm -rf "$APP" "$WORK/src.git"
  log "fetching vercel/commerce $STOREFRONT_COMMIT from $STOREFRONT_GIT"
  git init -q --bare "$WORK/src.git"
  git -C "$WORK/src.git" fetch -q --depth 1 "$STOREFRONT_GIT" "$STOREFRONT_COMMIT" 2>/dev/null ||
    git -C "$WORK/src.git" fetch -q "$STOREFRONT_GIT" "$STOREFRONT_COMMIT"
  mkdir -p "$APP"
  git -C "$WORK/src.git" archive "$STOREFRONT_COMMIT" | tar -x -C "$APP"
  log "installing its packages (pnpm --frozen-lockfile, from the npm registry)"
  (cd "$APP" && npx -y "$PNPM" install --frozen-lockfile --reporter=silent)
  touch "$APP/.installed"
else
  git -C "$WORK/src.git" archive "$STOREFRONT_COMMIT" next.config.ts | tar -x -C "$APP"
fi
# The one config change the app needs besides its env: allow the image host.
node - "$APP/next.config.ts" "$GW_ADDR" <<'EOF'
const fs = require('fs');
const [file, addr] = process.argv.slice(2);
const [host, port] = addr.split(':');
let src = fs.readFileSync(file, 'utf8');
const marker = "remotePatterns: [";
if (!src.includes(marker)) { console.error('next.config.ts: no remotePatterns to extend'); process.exit(1); }
src = src.replace(marker, `${marker}\n      { protocol: 'https', hostname: '${host}', port: '${port}', pathname: '/images/**' },`);
// Only because this gateway listens on a loopback address: Next's image
// optimizer refuses upstream hosts that resolve to private IPs otherwise.
if (/^(127\.|10\.|192\.168\.|localhost$)/.test(host)) src = src.replace('images: {', 'images: {\n    dangerouslyAllowLocalIP: true,');
fs.writeFileSync(file, src);
EOF

for port in "${GW_ADDR##*:}" "$APP_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then log "127.0.0.1:$port is already in use (a previous run?)"; exit 1; fi
done

# 2. Cartograph: binary, database, certificate, key.
make -s build >/dev/null
eval "$(.ci/services.sh)"
export REDIS_URL
export DATABASE_URL="$(sed -E 's,/postgres([?]|$),/cartograph_storefront\1,' <<<"$DATABASE_URL")"
psql "$(sed -E 's,/cartograph_storefront([?]|$),/postgres\1,' <<<"$DATABASE_URL")" -qc 'DROP DATABASE IF EXISTS cartograph_storefront WITH (FORCE)' >/dev/null
./bin/cartograph migrate up >"$WORK/migrate.log" 2>&1
PUBLIC_BASE_URL="https://$GW_ADDR" ./bin/cartograph seed >"$WORK/seed.log" 2>&1
if [[ ! -f "$WORK/cert.pem" ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
fi
PK=$(./bin/cartograph keys create --shop apparel --kind public --name nextjs-commerce | tail -n 1)
LISTEN_ADDR=$GW_ADDR TLS_CERT_FILE="$WORK/cert.pem" TLS_KEY_FILE="$WORK/key.pem" PUBLIC_BASE_URL="https://$GW_ADDR" \
  setsid ./bin/cartograph serve >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  curl -sf --cacert "$WORK/cert.pem" "https://$GW_ADDR/healthz" >/dev/null && break
  sleep 0.2
done
curl -sf --cacert "$WORK/cert.pem" "https://$GW_ADDR/healthz" >/dev/null || { log "gateway did not start: $WORK/gateway.log"; exit 1; }

# The shop's API policy for this storefront. Next.js Commerce asks for
# collection(…){products(first: 100){…variants(first: 250)…images(first: 20)}}:
# 179,203 points under the declared cost model (what it could return), over
# the default per-query maximum (MAX_QUERY_COST 5,000) and any caller's
# bucket. Shopify's Storefront API has no such limit; Cartograph keeps its
# safe defaults and lets the shop owner raise its own (README "Query cost").
gw() { curl -sf --cacert "$WORK/cert.pem" "https://$GW_ADDR/graphql" -H 'Content-Type: application/json' -H 'X-Shop-Handle: apparel' "$@"; }
STAFF=$(gw -d '{"query":"mutation { staffLogin(input: {email: \"owner@apparel.example\", password: \"cartograph-demo\"}) { accessToken } }"}' | jq -r '.data.staffLogin.accessToken')
POLICY=$(gw -H "Authorization: Bearer $STAFF" \
  -d '{"query":"mutation { apiPolicyUpdate(input: {trustedDocumentsOnly: false, maxQueryCost: 200000, costBucketMax: 2000000, costRestoreRate: 200000}) { apiPolicy { maxQueryCost costBucketMax costRestoreRate } userErrors { message } } }"}')
jq -e '.data.apiPolicyUpdate.apiPolicy.maxQueryCost == 200000' <<<"$POLICY" >/dev/null || { log "apiPolicyUpdate failed: $POLICY"; exit 1; }
log "shop policy: $(jq -c .data.apiPolicyUpdate.apiPolicy <<<"$POLICY")"
sleep 6 # each instance caches the policy for 5 s

# 3. The app: build (it prerenders the home page and reads menus, so the
#    gateway must be up) and start.
export SHOPIFY_STORE_DOMAIN="$GW_ADDR" SHOPIFY_STOREFRONT_ACCESS_TOKEN="$PK"
export SHOPIFY_REVALIDATION_SECRET=storefront-test COMPANY_NAME="Northwind Apparel" SITE_NAME="Northwind Apparel"
export NODE_EXTRA_CA_CERTS="$WORK/cert.pem" NEXT_TELEMETRY_DISABLED=1
log "next build (log: $WORK/next-build.log)"
start=$(date +%s)
(cd "$APP" && npx -y "$PNPM" exec next build) >"$WORK/next-build.log" 2>&1 || { tail -n 40 "$WORK/next-build.log"; exit 1; }
log "next build took $(( $(date +%s) - start )) s"
(cd "$APP" && exec setsid npx -y "$PNPM" exec next start -H 127.0.0.1 -p "$APP_PORT") >"$WORK/next-start.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 150); do
  curl -sf -o /dev/null "http://127.0.0.1:$APP_PORT/" && break
  sleep 0.2
done

# 4. Drive it in Chromium.
STOREFRONT_URL="http://127.0.0.1:$APP_PORT" GATEWAY_URL="https://$GW_ADDR" SCREENSHOTS="$ROOT/.data/screenshots" \
  node .ci/storefront/drive.mjs
