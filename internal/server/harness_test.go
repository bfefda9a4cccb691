package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"cartograph/internal/config"
	"cartograph/internal/seed"
	"cartograph/internal/server"
	"cartograph/internal/testdb"

	"github.com/redis/go-redis/v9"
)

// stripeMock is the package's stripe-mock, started by TestMain.
var stripeMock *testdb.StripeMock

// Stripe settings every test gateway uses (webhooks are signed with this).
const testWebhookSecret = "whsec_cartograph_test_secret"

func TestMain(m *testing.M) {
	var err error
	stripeMock, err = testdb.StartStripeMock()
	if err != nil {
		fmt.Fprintln(os.Stderr, "server tests need stripe-mock:", err)
		os.Exit(1)
	}
	code := m.Run()
	stripeMock.Stop()
	os.Exit(code)
}

// env is one running gateway over a private, seeded database.
type env struct {
	db  *testdb.DB
	srv *httptest.Server
	// app is the gateway itself (its order service and payment provider).
	app *server.Server
	// logs holds everything the server logged (debug level).
	logs *syncBuffer
	// rec is the recording provider, for gateways started on one (moneyEnv).
	rec *testdb.Recorder
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newServerOn starts a second gateway instance over e's database and the
// same Redis (rate limits, deny-lists and key revocation must agree).
func newServerOn(t *testing.T, e *env) *env {
	t.Helper()
	logs := &syncBuffer{}
	hs, app := startServer(t, e.db, logs, nil)
	return &env{db: e.db, srv: hs, logs: logs, app: app}
}

// newEnv starts a real HTTP server (loopback) over a fresh database holding
// the demo shops and one bulk shop "bench-1" with bulkProducts products.
func newEnv(t testing.TB, bulkProducts int) *env { return newEnvWith(t, bulkProducts, nil) }

// newEnvWith is newEnv with a config adjustment (e.g. a short reservation).
func newEnvWith(t testing.TB, bulkProducts int, tune func(*config.Config)) *env {
	t.Helper()
	db := newBareEnv(t, bulkProducts)
	logs := &syncBuffer{}
	hs, app := startServer(t, db, logs, tune)
	return &env{db: db, srv: hs, logs: logs, app: app}
}

// newBareEnv is a fresh database holding the demo shops, their staff and
// one bulk shop "bench-1" with bulkProducts products, without a server.
func newBareEnv(t testing.TB, bulkProducts int) *testdb.DB {
	t.Helper()
	db := testdb.New(t, "server")
	ctx := context.Background()
	if err := seed.Demo(ctx, db.Pool); err != nil {
		t.Fatalf("seed demo: %v", err)
	}
	if bulkProducts > 0 {
		if err := seed.Bulk(ctx, db.Pool, bulkProducts, 1); err != nil {
			t.Fatalf("seed bulk: %v", err)
		}
	}
	if err := seed.DemoStaff(ctx, db.Pool); err != nil {
		t.Fatalf("seed staff: %v", err)
	}
	return db
}

// startServer starts a gateway over db; tune may adjust the config.
func startServer(t testing.TB, db *testdb.DB, logs io.Writer, tune func(*config.Config)) (*httptest.Server, *server.Server) {
	t.Helper()
	ctx := context.Background()
	ropts, err := redis.ParseURL(testdb.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(ropts)
	t.Cleanup(func() { _ = rdb.Close() })
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultShop = ""
	cfg.BaseDomain = "shops.test"
	level := slog.LevelDebug
	if logs == nil { // nobody reads the logs: log at the production level
		logs, level = io.Discard, slog.LevelInfo
	}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))
	cfg.JWTKeys = "test:" + strings.Repeat("k", 40)
	// Generous limits: tests that exercise throttling set their own.
	cfg.RateLimitAnon, cfg.RateLimitCustomer, cfg.RateLimitStaff, cfg.RateLimitKey = 1_000_000, 1_000_000, 1_000_000, 1_000_000
	cfg.LoginPerMinute = 100_000      // per (shop, email), 4× per IP: every parallel test logs in from 127.0.0.1
	cfg.AuthFailPerMinute = 1_000_000 // TestCheapRejections sets its own
	// Logins from parallel tests wait for the argon2 semaphore instead of
	// being THROTTLED by its short production queue (2 × CPUs).
	cfg.PasswordQueue = 1000
	// Generous cost limits too (the catalog tests ask for big pages); the
	// cost tests run with the production defaults.
	cfg.MaxQueryCost, cfg.MaxQueryCostTrusted = 1_000_000, 1_000_000
	cfg.CostBucketMax, cfg.ShopCostBucketMax = 10_000_000, 100_000_000
	cfg.PublicCacheTTL = 0 // tests count statements; TestPublicResponseCache turns it on
	cfg.StripeSecretKey, cfg.StripeAPIBase, cfg.StripeWebhookSecret = "sk_test_cartograph", stripeMock.URL, testWebhookSecret
	if tune != nil {
		tune(&cfg)
	}
	s, err := server.New(server.Deps{Config: cfg, Log: log, DB: db.App, DBStats: db.AppStats, Redis: rdb})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	_ = ctx
	return hs, s
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// code returns the extensions.code of the first error ("" if none).
func (r *gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// do posts a GraphQL request with the given headers.
func (e *env) do(t *testing.T, headers map[string]string, query string, vars map[string]any) *gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return e.raw(t, "/graphql", headers, body)
}

func (e *env) raw(t *testing.T, path string, headers map[string]string, body []byte) *gqlResponse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	out := &gqlResponse{Status: resp.StatusCode}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("decode response (status %d): %v: %s", resp.StatusCode, err, b)
	}
	return out
}

// query runs query against shop and fails the test on any error.
func (e *env) query(t *testing.T, shop, query string, vars map[string]any, into any) {
	t.Helper()
	r := e.do(t, map[string]string{"X-Shop-Handle": shop}, query, vars)
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		t.Fatalf("query failed: status %d errors %+v", r.Status, r.Errors)
	}
	if into != nil {
		if err := json.Unmarshal(r.Data, into); err != nil {
			t.Fatalf("decode data: %v: %s", err, r.Data)
		}
	}
}
