package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"cartograph/internal/config"
	"cartograph/internal/seed"
	"cartograph/internal/server"
	"cartograph/internal/testdb"

	"github.com/redis/go-redis/v9"
)

// privateRedis runs a redis-server of the test's own on a free port, so the
// test can stop and restart it without touching the shared one.
type privateRedis struct {
	port int
	cmd  *exec.Cmd
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	p := &privateRedis{port: freePort(t)}
	p.start(t)
	t.Cleanup(func() { p.stop() })
	return p
}

func (p *privateRedis) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

func (p *privateRedis) start(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command("redis-server", "--port", strconv.Itoa(p.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", p.addr()); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("private redis did not start")
}

func (p *privateRedis) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// newEnvOnRedis is newEnvWith over the given Redis address.
func newEnvOnRedis(t *testing.T, addr string, tune func(*config.Config)) *env {
	t.Helper()
	db := testdb.New(t, "server")
	ctx := context.Background()
	if err := seed.Demo(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	if err := seed.DemoStaff(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	return startOnRedis(t, db, addr, tune)
}

// startOnRedis starts a gateway over db and the Redis at addr (a second
// instance when db is shared).
func startOnRedis(t *testing.T, db *testdb.DB, addr string, tune func(*config.Config)) *env {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	return startOnClient(t, db, rdb, tune)
}

// startOnClient starts a gateway over db and the given Redis client (any
// deployment: single, Sentinel, Cluster).
func startOnClient(t *testing.T, db *testdb.DB, rdb redis.UniversalClient, tune func(*config.Config)) *env {
	t.Helper()
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultShop, cfg.BaseDomain, cfg.JWTKeys = "", "shops.test", "test:"+strings.Repeat("k", 40)
	cfg.RateLimitAnon, cfg.RateLimitCustomer, cfg.RateLimitStaff, cfg.RateLimitKey = 1_000_000, 1_000_000, 1_000_000, 1_000_000
	cfg.LoginPerMinute = 1000
	cfg.StripeSecretKey, cfg.StripeAPIBase, cfg.StripeWebhookSecret = "sk_test_cartograph", stripeMock.URL, testWebhookSecret
	if tune != nil {
		tune(&cfg)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := server.New(server.Deps{Config: cfg, Log: log, DB: db.App, DBStats: db.AppStats, Redis: rdb})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &env{db: db, srv: hs, logs: logs, app: s}
}

func (e *env) get(t *testing.T, path string) (int, string, http.Header) {
	t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestRedisOutage(t *testing.T) {
	rd := startPrivateRedis(t)
	e := newEnvOnRedis(t, rd.addr(), func(c *config.Config) { c.PublicCacheTTL = time.Minute })
	sf := e.storefront(t, "apparel")
	anon := map[string]string{"X-Shop-Handle": "apparel"}
	v := e.stock(t, "apparel", "cashmere-beanie", 50, 0)
	const product = `{ product(handle: "cashmere-beanie") { title variants(first: 1) { nodes { id } } } }`
	const cartQ = `mutation($v: ID!) { cartCreate(input: {lines: [{merchandiseId: $v, quantity: 1}]}) { cart { id } userErrors { code } } }`
	read := func(t *testing.T, h map[string]string) time.Duration {
		t.Helper()
		start := time.Now()
		var out struct{ Product *struct{ Title string } }
		mustData(t, e.do(t, h, product, nil), &out)
		if out.Product == nil || out.Product.Title == "" {
			t.Fatalf("no product: %+v", out)
		}
		return time.Since(start)
	}
	read(t, anon)
	e.newCart(t, sf, v, 1)

	rd.stop()
	t.Run("CatalogReadsServeWithinNormalLatency", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			for _, h := range []map[string]string{anon, sf} {
				// The first request may wait one Redis timeout (200 ms) to
				// detect the outage; after that, no Redis wait at all.
				limit := 100 * time.Millisecond
				if i == 0 {
					limit = 450 * time.Millisecond
				}
				if d := read(t, h); d > limit {
					t.Fatalf("read %d took %v during the outage", i, d)
				}
			}
		}
		if n := strings.Count(e.logs.String(), "rate limits fall back to per-instance memory"); n != 1 {
			t.Fatalf("fallback logged %d times, want once per outage", n)
		}
	})
	t.Run("CartSaysServiceUnavailable", func(t *testing.T) {
		r := e.do(t, sf, cartQ, map[string]any{"v": v})
		if r.code() != "SERVICE_UNAVAILABLE" || r.Status != http.StatusServiceUnavailable {
			t.Fatalf("cartCreate during outage: status %d %+v", r.Status, r.Errors)
		}
	})
	t.Run("ReadyzIsDegradedNotDown", func(t *testing.T) {
		code, body, _ := e.get(t, "/readyz")
		if code != http.StatusOK || !strings.Contains(body, `"degraded"`) || !strings.Contains(body, `"redis":"unreachable"`) {
			t.Fatalf("readyz %d %s", code, body)
		}
	})
	t.Run("CartsWorkAgainAfterRestart", func(t *testing.T) {
		rd.start(t)
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := e.do(t, sf, cartQ, map[string]any{"v": v})
			if r.code() == "" && r.Status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cart still failing after Redis restart: %d %+v", r.Status, r.Errors)
			}
			time.Sleep(100 * time.Millisecond)
		}
		code, body, _ := e.get(t, "/readyz")
		if code != http.StatusOK || !strings.Contains(body, `"status":"ok"`) {
			t.Fatalf("readyz after restart %d %s", code, body)
		}
	})
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, 0)
	e.query(t, "apparel", `query ListingForMetrics { products(first: 2) { nodes { title } } }`, nil, nil)
	code, body, _ := e.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics %d", code)
	}
	for _, want := range []string{
		`cartograph_requests_total{operation="ListingForMetrics",principal="anonymous",status="200"} 1`,
		`cartograph_request_duration_seconds_count{operation="ListingForMetrics",principal="anonymous"} 1`,
		`cartograph_sql_statements_total `,
		`cartograph_ratelimit_fallback 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "cartograph_sql_statements_total 0\n") {
		t.Error("SQL statements did not move")
	}
}

func TestCORS(t *testing.T) {
	e := newEnvWith(t, 0, func(c *config.Config) { c.AllowedOrigins = []string{"https://shop.example", "*"} })
	pre := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type, x-shopify-storefront-access-token")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	t.Run("PreflightIs204WithHeaders", func(t *testing.T) {
		r := pre("https://other.example")
		if r.StatusCode != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "X-Shopify-Storefront-Access-Token") ||
			!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "X-Shop-Handle") ||
			!strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") || r.Header.Get("Access-Control-Max-Age") == "" {
			t.Fatalf("preflight: %d %v", r.StatusCode, r.Header)
		}
		if r.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatal("wildcard origin must not allow credentials")
		}
	})
	t.Run("ListedOriginGetsCredentials", func(t *testing.T) {
		r := pre("https://shop.example")
		if r.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" || r.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("listed origin: %v", r.Header)
		}
	})
	t.Run("ResponsesVaryByOrigin", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "https://other.example")
		req.Header.Set("X-Shop-Handle", "apparel")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !strings.Contains(fmt.Sprint(resp.Header.Values("Vary")), "Origin") || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("headers: %v", resp.Header)
		}
	})
}

func TestLogoutSurvivesRedisRestart(t *testing.T) {
	rd := startPrivateRedis(t)
	e := newEnvOnRedis(t, rd.addr(), nil)
	e.register(t, "apparel", "durable@example.com", "durable-secret-1")
	tok, _ := e.customerLogin(t, "apparel", "durable@example.com", "durable-secret-1")
	h := map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + tok}
	if r := e.do(t, h, `{ me { id } }`, nil); r.code() != "" {
		t.Fatalf("fresh token refused: %+v", r.Errors)
	}
	if r := e.do(t, h, `mutation { customerLogout { loggedOut } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("logout: %+v", r.Errors)
	}
	rd.stop()
	rd.start(t) // empty: --save '' --appendonly no
	other := startOnRedis(t, e.db, rd.addr(), nil)
	for name, inst := range map[string]*env{"SameInstance": e, "OtherInstance": other} {
		t.Run(name, func(t *testing.T) {
			if r := inst.do(t, h, `{ me { id } }`, nil); r.code() != "UNAUTHENTICATED" {
				t.Fatalf("logged-out token works after Redis restart: %d %+v", r.Status, r.Errors)
			}
		})
	}
}

func TestCheapRejections(t *testing.T) {
	t.Cleanup(func() { _ = flushRateLimits() })
	_ = flushRateLimits()
	e := newEnvWith(t, 0, func(c *config.Config) { c.AuthFailPerMinute = 30; c.LoginPerMinute = 6 })
	t.Run("PaddedEmailSharesTheAccountLimit", func(t *testing.T) {
		_ = flushRateLimits()
		e.register(t, "apparel", "pad@example.com", "pad-secret-123")
		// 6/min is a burst of 1 (two attempts pass); with padding and case
		// folded into one account, at most a few of eight variants pass
		// (a little slack: under heavy load a Redis timeout may briefly
		// switch the limiter to its per-instance fallback).
		passed := 0
		for _, em := range []string{"pad@example.com", "  pad@example.com", "PAD@example.com  ", "\tPad@Example.com", " pad@EXAMPLE.com", "Pad@example.com ", "pad@example.COM", "  PAD@EXAMPLE.COM  "} {
			r := e.do(t, map[string]string{"X-Shop-Handle": "apparel"}, `mutation($e: String!) { customerLogin(input: {email: $e, password: "wrong-password"}) { accessToken } }`,
				map[string]any{"e": em})
			if r.code() != "THROTTLED" {
				passed++
			}
		}
		if passed > 4 {
			t.Fatalf("%d of 8 padded/case variants passed a 6/min per-account limit: bypassed", passed)
		}
		_ = flushRateLimits()
	})
	t.Run("FailedAuthThrottledPerIPBeforeLookup", func(t *testing.T) {
		var throttledAt = -1
		for i := 0; i < 12; i++ {
			before := e.db.AppStats.Statements()
			r := e.do(t, map[string]string{"X-Shop-Handle": fmt.Sprintf("no-such-shop-%d-%d", i, time.Now().UnixNano())}, `{ shop { name } }`, nil)
			if r.code() == "THROTTLED" {
				if r.Status != http.StatusTooManyRequests {
					t.Fatalf("THROTTLED with status %d", r.Status)
				}
				if n := e.db.AppStats.Statements() - before; n != 0 {
					t.Fatalf("a throttled failure still ran %d statements", n)
				}
				throttledAt = i
			} else if r.code() != "SHOP_NOT_FOUND" {
				t.Fatalf("attempt %d: %d %+v", i, r.Status, r.Errors)
			}
		}
		if throttledAt < 0 {
			t.Fatal("12 unknown shops from one IP were never throttled")
		}
		_ = flushRateLimits()
	})
	t.Run("PreflightsForUnknownHostsAreCharged", func(t *testing.T) {
		// A CORS preflight names its shop by Host only; a host that costs a
		// lookup and names no shop is a failed authentication of the IP.
		_ = flushRateLimits()
		free := 0
		for i := 0; i < 40 && free < 3; i++ {
			req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+"/graphql", nil)
			req.Host = fmt.Sprintf("spray-%d-%d.shops.test", i, time.Now().UnixNano())
			req.Header.Set("Origin", "https://spray.example")
			req.Header.Set("Access-Control-Request-Method", "POST")
			before := e.db.AppStats.Statements()
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("preflight for an unknown host: %d %v", resp.StatusCode, resp.Header)
			}
			if e.db.AppStats.Statements() == before {
				free++
			}
		}
		if free < 3 {
			t.Fatal("40 preflights for distinct unknown hosts each ran a lookup: never charged to the IP")
		}
		if r := e.do(t, map[string]string{"X-Shop-Handle": "apparel"}, `{ shop { name } }`, nil); r.code() != "THROTTLED" {
			t.Fatalf("the spraying IP is not refused: %d %+v", r.Status, r.Errors)
		}
		_ = flushRateLimits()
	})
	t.Run("RepeatedMissIsCached", func(t *testing.T) {
		_ = flushRateLimits()
		e2 := newServerOn(t, e)
		h := map[string]string{"X-Api-Key": "pk_" + strings.Repeat("ab", 8) + "_" + strings.Repeat("0", 64)}
		e2.do(t, h, `{ shop { name } }`, nil)
		before := e.db.AppStats.Statements()
		if r := e2.do(t, h, `{ shop { name } }`, nil); r.code() != "UNAUTHENTICATED" {
			t.Fatalf("unknown key: %d %+v", r.Status, r.Errors)
		}
		if n := e.db.AppStats.Statements() - before; n != 0 {
			t.Fatalf("second unknown-key lookup ran %d statements", n)
		}
		_ = flushRateLimits()
	})
}
