# Cartograph — see README.md. Two commands set everything up on a fresh
# machine: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN          := bin/cartograph
LISTEN_ADDR  ?= 127.0.0.1:8080
# Pinned tools (also pinned in go.mod as `tool` dependencies).
STATICCHECK  := honnef.co/go/tools/cmd/staticcheck@v0.8.2
STRIPE_MOCK  := github.com/stripe/stripe-mock@v0.203.0
TOOLS        := $(CURDIR)/.data/tools
# `eval $(.ci/services.sh)` brings up or reuses PostgreSQL and Redis and
# exports DATABASE_URL / REDIS_URL (the server's admin database).
SERVICES     := eval "$$(.ci/services.sh)"; export DATABASE_URL REDIS_URL
# The app database lives next to the admin one: .../postgres? -> .../cartograph?
APP_DB       := export DATABASE_URL="$$(sed -E 's,/postgres([?]|$$),/cartograph\1,' <<<"$$DATABASE_URL")"

.PHONY: help run test build assets generate check-generate vet lint alerts bench faults storefront new-migration clean

help:
	@echo "make run       bring up PostgreSQL+Redis, migrate, seed the demo shops, serve GraphiQL on http://$(LISTEN_ADDR)/"
	@echo "make test      vet, check generated code, run every test (real PostgreSQL and Redis)"
	@echo "make generate  regenerate gqlgen and sqlc code"
	@echo "make assets    install the pinned GraphiQL from npm into internal/graphiql/dist (build, run and test do it)"
	@echo "make storefront build the real Next.js Commerce app against Cartograph and drive it in Chromium (not part of test)"
	@echo "make faults    fault injection (kill -9, Redis down, PostgreSQL restart, payment orderings); PASS/FAIL with figures"
	@echo "make lint      go vet + staticcheck + alert rules (promtool)"
	@echo "make alerts    promtool check + unit tests of deploy/prometheus/alerts.yml"
	@echo "make bench     load benchmark (vegeta + pgbench baseline), figures in .data/bench/summary.md"
	@echo "make new-migration NAME=add_things"

build: assets
	go build -o $(BIN) ./cmd/cartograph

run: build
	@$(SERVICES); $(APP_DB); \
	./$(BIN) migrate up; \
	./$(BIN) seed; \
	echo; \
	echo "Cartograph GraphiQL: http://$(LISTEN_ADDR)/   (shop: apparel by default; send X-Shop-Handle: electronics for the other)"; \
	echo "Staff logins: owner@apparel.example / owner@electronics.example, password cartograph-demo (mutation staffLogin)"; \
	echo "Example:"; \
	echo "  curl -s http://$(LISTEN_ADDR)/graphql -H 'Content-Type: application/json' -H 'X-Shop-Handle: apparel' \\"; \
	echo "    -d '{\"query\":\"{ products(first: 3, sortKey: TITLE) { edges { node { title priceRange { minVariantPrice { amount currencyCode } } variants(first: 3) { edges { node { title quantityAvailable } } } } } } }\"}'"; \
	echo; \
	mkdir -p .data; [ -s .data/dev-jwt-key ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > .data/dev-jwt-key; \
	JWT_KEYS=$${JWT_KEYS:-dev:$$(cat .data/dev-jwt-key)} DEFAULT_SHOP=$${DEFAULT_SHOP:-apparel} LISTEN_ADDR=$(LISTEN_ADDR) exec ./$(BIN) serve

generate:
	go run ./internal/codegen
	go tool sqlc generate -f db/sqlc.yaml

# Fails when `make generate` would change committed code.
check-generate: generate
	@if [ -n "$$(git status --porcelain -- graph internal/dbq)" ]; then \
		echo "generated code is stale; run 'make generate' and commit:"; git status --porcelain -- graph internal/dbq; exit 1; fi

vet:
	go vet ./...

lint: vet alerts
	go run $(STATICCHECK) ./...

# Prometheus alert rules: promtool check + unit tests (.ci/promtool.sh
# installs Debian's prometheus as root, else skips loudly).
alerts:
	@.ci/promtool.sh

# stripe-mock (pinned) for the payment tests; the test harness starts it.
$(TOOLS)/stripe-mock:
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) go install $(STRIPE_MOCK)

# The GraphiQL browser test must run (not skip) here; assets installs chromium for it.
test: export CARTOGRAPH_REQUIRE_BROWSER := 1
test: vet check-generate alerts $(TOOLS)/stripe-mock assets
	@$(SERVICES); STRIPE_MOCK_BIN=$(TOOLS)/stripe-mock go test -race -count=1 -timeout 14m ./...

# GraphiQL (internal/graphiql): pinned npm packages -> gitignored dist/, embedded.
assets:
	@bash internal/graphiql/web/assets.sh

bench: build
	.ci/bench.sh

# Fault injection against the real binary (README "Faults"); not part of test.
faults: $(TOOLS)/stripe-mock
	@STRIPE_MOCK_BIN=$(TOOLS)/stripe-mock .ci/faults.sh

# The real Next.js Commerce app against Cartograph, driven in headless
# Chromium (README "Shopify storefronts"); not part of test. STOREFRONT_GIT
# overrides where the app's source is fetched from.
storefront: assets
	.ci/storefront.sh

new-migration:
	@test -n "$(NAME)" || { echo "usage: make new-migration NAME=add_things"; exit 1; }
	@n=$$(ls db/migrations/*.sql | sed -E 's#.*/0*([0-9]+)_.*#\1#' | sort -n | tail -1); \
	f=$$(printf 'db/migrations/%05d_%s.sql' $$((n+1)) "$(NAME)"); \
	printf -- '-- +goose Up\n\n-- +goose Down\n' > $$f; echo "created $$f"

clean:
	rm -rf bin
