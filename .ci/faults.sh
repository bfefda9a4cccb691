#!/usr/bin/env bash
# `make faults`: fault injection against the real binary, bounded to ~4 min.
#   (a) SIGKILL of the gateway during a burst of checkouts and refunds
#   (b) its private Redis stopped while the catalog is read
#   (c) its private PostgreSQL cluster (initdb + pg_ctl under .data/faults,
#       own port) restarted during a burst of checkouts
#   (d) all 360 orderings of the payment events (internal/server)
# Each scenario prints PASS/FAIL lines with its figures; the whole output is
# kept in .data/faults/output.log. The shared PostgreSQL and Redis are only
# used to create private databases, never stopped.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
eval "$(.ci/services.sh)"
export DATABASE_URL REDIS_URL
OUT="$ROOT/.data/faults"
mkdir -p "$OUT"
go build -o "$OUT/cartograph" ./cmd/cartograph
export CARTOGRAPH_BIN="$OUT/cartograph" CARTOGRAPH_FAULTS_DIR="$OUT"
start=$(date +%s)
status=0
go test -tags faults -count=1 -timeout 200s -v ./internal/faults/ >"$OUT/output.log" 2>&1 || status=1
grep -E '^(PASS|FAIL)  |^--- FAIL|^panic' "$OUT/output.log" || true
if STRIPE_MOCK_BIN="${STRIPE_MOCK_BIN:-$ROOT/.data/tools/stripe-mock}" CARTOGRAPH_ALL_ORDERINGS=1 \
  go test -count=1 -timeout 120s -run '^TestPaymentEventPermutations$' -v ./internal/server/ >"$OUT/permutations.log" 2>&1; then
  printf 'PASS  %-44s %s\n' "payment events: every ordering" "$(grep -oE '[0-9]+ orderings, [0-9]+ ended sold, provider refunds [0-9]+' "$OUT/permutations.log" | head -1) ($(grep -oE 'TestPaymentEventPermutations \([0-9.]+s\)' "$OUT/permutations.log" | head -1))"
else
  printf 'FAIL  %-44s see %s\n' "payment events: every ordering" "$OUT/permutations.log"
  grep -E -- '--- FAIL|_test.go:[0-9]+:' "$OUT/permutations.log" | head -20 || true
  status=1
fi
echo "faults: $(( $(date +%s) - start ))s, log in $OUT/output.log"
if [[ "$status" != 0 ]]; then
  echo "faults: FAILED (details in $OUT/output.log)"
  exit 1
fi
