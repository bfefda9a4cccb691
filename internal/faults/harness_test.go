//go:build faults

package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cartograph/internal/seed"
	"cartograph/internal/testdb"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

const webhookSecret = "whsec_cartograph_faults"

// report prints one scenario line: PASS or FAIL with its figures.
func report(t *testing.T, name string, ok bool, format string, args ...any) {
	t.Helper()
	verdict := "PASS"
	if !ok {
		verdict = "FAIL"
		t.Errorf("%s: "+format, append([]any{name}, args...)...)
	}
	fmt.Printf("%s  %-44s %s\n", verdict, name, fmt.Sprintf(format, args...))
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

func waitPort(addr string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// redisServer is a private redis-server on its own port: the shared one is
// never stopped.
type redisServer struct {
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed")
	}
	r := &redisServer{port: freePort(t)}
	r.start(t)
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !waitPort(fmt.Sprintf("127.0.0.1:%d", r.port), 5*time.Second) {
		t.Fatal("private redis did not start")
	}
}

func (r *redisServer) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// gateway is the real cartograph binary, run as a child process.
type gateway struct {
	bin  string
	env  []string
	addr string
	cmd  *exec.Cmd
	log  *os.File
}

func binary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("CARTOGRAPH_BIN")
	if bin == "" {
		t.Fatal("CARTOGRAPH_BIN is not set (run `make faults`)")
	}
	return bin
}

func startGateway(t *testing.T, dbURL, redisURL, stripeBase string, extra ...string) *gateway {
	t.Helper()
	var k [24]byte
	_, _ = rand.Read(k[:])
	g := &gateway{bin: binary(t), addr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	g.env = append(os.Environ(),
		"DATABASE_URL="+dbURL, "APP_DATABASE_URL=", "REDIS_URL="+redisURL, "LISTEN_ADDR="+g.addr,
		"JWT_KEYS=faults:"+hex.EncodeToString(k[:]), "CARTOGRAPH_ENV=development", "LOG_LEVEL=warn",
		"STRIPE_SECRET_KEY=sk_test_faults", "STRIPE_API_BASE="+stripeBase, "STRIPE_WEBHOOK_SECRET="+webhookSecret,
		"RATE_LIMIT_ANON=1000000", "RATE_LIMIT_CUSTOMER=1000000", "RATE_LIMIT_STAFF=1000000", "RATE_LIMIT_KEY=1000000",
		"LOGIN_PER_MINUTE=1000", "AUTH_FAIL_PER_MINUTE=1000000", "COST_BUCKET_MAX=100000000", "SHOP_COST_BUCKET_MAX=1000000000",
		"IDEMPOTENCY_LEASE=1s", "SWEEP_INTERVAL=1s", "DB_MAX_CONNS=8", "REQUEST_TIMEOUT=5s")
	g.env = append(g.env, extra...)
	var err error
	g.log, err = os.CreateTemp("", "cartograph-faults-*.log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.kill()
		if t.Failed() {
			b, _ := os.ReadFile(g.log.Name())
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("gateway log (tail):\n%s", b)
		}
		g.log.Close()
		os.Remove(g.log.Name())
	})
	g.start(t)
	return g
}

func (g *gateway) start(t *testing.T) {
	t.Helper()
	g.cmd = exec.Command(g.bin, "serve")
	g.cmd.Env = g.env
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + g.addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("gateway did not start")
}

// kill sends SIGKILL: no shutdown hook, no drain.
func (g *gateway) kill() {
	if g.cmd != nil && g.cmd.Process != nil {
		_ = g.cmd.Process.Signal(syscall.SIGKILL)
		_ = g.cmd.Wait()
		g.cmd = nil
	}
}

var client = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

type gqlError struct {
	Message    string
	Extensions map[string]any
}

type result struct {
	Status int
	Data   map[string]json.RawMessage
	Errors []gqlError
	Err    error // transport: no answer
}

func (r result) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// outcome classifies an answer for the figures.
func (r result) outcome() string {
	switch {
	case r.Err != nil:
		return "no answer"
	case len(r.Errors) > 0:
		return r.code()
	}
	for _, raw := range r.Data {
		var payload struct{ UserErrors []struct{ Code string } }
		if json.Unmarshal(raw, &payload) == nil && len(payload.UserErrors) > 0 {
			return "user-error:" + payload.UserErrors[0].Code
		}
	}
	return "ok"
}

func (g *gateway) do(headers map[string]string, query string, vars map[string]any) result {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, "http://"+g.addr+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return result{Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	out := result{Status: resp.StatusCode, Err: err}
	if err == nil {
		if jerr := json.Unmarshal(b, &out); jerr != nil {
			out.Err = fmt.Errorf("status %d: %s", resp.StatusCode, b)
		}
	}
	return out
}

func must(t *testing.T, r result, into any) {
	t.Helper()
	if r.Err != nil || len(r.Errors) > 0 {
		t.Fatalf("request failed: %v %+v", r.Err, r.Errors)
	}
	b, _ := json.Marshal(r.Data)
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
}

// shopDB is a private, seeded database on the server $DATABASE_URL names.
func shopDB(t *testing.T, prefix string) *testdb.DB {
	t.Helper()
	db := testdb.New(t, prefix)
	ctx := context.Background()
	if err := seed.Demo(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	if err := seed.DemoStaff(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	return db
}

// headers logs in as the apparel owner and creates a storefront key.
func headers(t *testing.T, g *gateway) (staff, store map[string]string) {
	t.Helper()
	var login struct{ StaffLogin struct{ AccessToken string } }
	must(t, g.do(map[string]string{"X-Shop-Handle": "apparel"}, `mutation { staffLogin(input: {email: "owner@apparel.example", password: "cartograph-demo"}) { accessToken } }`, nil), &login)
	staff = map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + login.StaffLogin.AccessToken}
	var key struct{ APIKeyCreate struct{ Key string } }
	must(t, g.do(staff, `mutation { apiKeyCreate(input: {kind: PUBLIC}) { key } }`, nil), &key)
	return staff, map[string]string{"X-Shopify-Storefront-Access-Token": key.APIKeyCreate.Key}
}

// variant gives the first variant of an apparel product onHand units in
// the first warehouse and returns its global id and uuid.
func variant(t *testing.T, db *testdb.DB, product string, onHand int) (gid, id string) {
	t.Helper()
	ctx := context.Background()
	if err := db.Pool.QueryRow(ctx, `SELECT v.id::text FROM variants v JOIN products p ON p.shop_id = v.shop_id AND p.id = v.product_id
		JOIN shops s ON s.id = p.shop_id WHERE s.handle = 'apparel' AND p.handle = $1 ORDER BY v.position LIMIT 1`, product).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE inventory_levels SET on_hand = CASE WHEN warehouse_id = (SELECT w.id FROM warehouses w WHERE w.shop_id = inventory_levels.shop_id ORDER BY w.priority, w.id LIMIT 1) THEN $2 ELSE 0 END, reserved = 0 WHERE variant_id = $1`, id, onHand); err != nil {
		t.Fatal(err)
	}
	return "gid://cartograph/ProductVariant/" + id, id
}

func newCart(g *gateway, store map[string]string, variant string, qty int) (string, result) {
	r := g.do(store, `mutation($v: ID!, $q: Int) { cartCreate(input: {lines: [{merchandiseId: $v, quantity: $q}]}) { cart { id } userErrors { code } } }`,
		map[string]any{"v": variant, "q": qty})
	var out struct {
		CartCreate struct{ Cart *struct{ ID string } }
	}
	if r.Err == nil && len(r.Errors) == 0 {
		b, _ := json.Marshal(r.Data)
		_ = json.Unmarshal(b, &out)
	}
	if out.CartCreate.Cart == nil {
		return "", r
	}
	return out.CartCreate.Cart.ID, r
}

const checkoutQ = `mutation($c: ID!, $k: String!) { checkoutBegin(input: {cartId: $c, email: "ada@example.com", idempotencyKey: $k,
	shippingAddress: {firstName: "Ada", lastName: "Lovelace", address1: "12 St James's Square", city: "London", zip: "SW1Y 4JH", country: "GB"}}) {
	order { id } userErrors { code } } }`

// checkout returns the order's global id ("" if none) and the answer.
func checkout(g *gateway, store map[string]string, cart, key string) (string, result) {
	r := g.do(store, checkoutQ, map[string]any{"c": cart, "k": key})
	var out struct {
		CheckoutBegin struct{ Order *struct{ ID string } }
	}
	if r.Err == nil && len(r.Errors) == 0 {
		b, _ := json.Marshal(r.Data)
		_ = json.Unmarshal(b, &out)
	}
	if out.CheckoutBegin.Order == nil {
		return "", r
	}
	return out.CheckoutBegin.Order.ID, r
}

// deliver posts a signed payment_intent event to the gateway's webhook.
func deliver(g *gateway, id, typ, intent, shopID, orderID string) (int, error) {
	payload, _ := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": stripe.APIVersion, "type": typ,
		"created": time.Now().Unix(), "livemode": false, "data": map[string]any{"object": map[string]any{
			"id": intent, "object": "payment_intent", "status": "succeeded",
			"metadata": map[string]string{"order_id": orderID, "shop_id": shopID}}}})
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: webhookSecret, Timestamp: time.Now()})
	req, _ := http.NewRequest(http.MethodPost, "http://"+g.addr+"/webhooks/stripe", bytes.NewReader(sp.Payload))
	req.Header.Set("Stripe-Signature", sp.Header)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// latencies summarises durations.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return "n=0"
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	pct := func(p float64) time.Duration {
		return s[min(len(s)-1, int(p*float64(len(s))))].Round(100 * time.Microsecond)
	}
	return fmt.Sprintf("n=%d p50=%v p95=%v max=%v", len(s), pct(0.50), pct(0.95), s[len(s)-1].Round(100*time.Microsecond))
}

// counts is a concurrent tally of outcomes.
type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) add(k string) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[k]++
	c.mu.Unlock()
}

func (c *counts) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func (c *counts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, c.m[k])
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// pgCluster is a private PostgreSQL cluster (initdb + pg_ctl) under .data,
// on its own port: the shared cluster is never stopped.
type pgCluster struct {
	bindir, dir string
	port        int
	asPostgres  bool
}

func startCluster(t *testing.T) *pgCluster {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		t.Fatal("no PostgreSQL server binaries under /usr/lib/postgresql")
	}
	slices.Sort(matches)
	root := os.Getenv("CARTOGRAPH_FAULTS_DIR")
	if root == "" {
		root = t.TempDir()
	}
	c := &pgCluster{bindir: filepath.Dir(matches[len(matches)-1]), port: freePort(t), asPostgres: os.Geteuid() == 0}
	c.dir = filepath.Join(root, fmt.Sprintf("pg-%d", c.port))
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if c.asPostgres {
		if out, err := exec.Command("chown", "postgres:postgres", root, c.dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	t.Cleanup(func() {
		_ = c.run("pg_ctl", "-D", c.dir, "-m", "immediate", "stop")
		_ = os.RemoveAll(c.dir)
	})
	if err := c.run("initdb", "-D", c.dir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"); err != nil {
		t.Fatalf("initdb: %v", err)
	}
	if err := c.run("pg_ctl", "-D", c.dir, "-l", filepath.Join(c.dir, "log"), "-w", "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60", c.port, c.dir), "start"); err != nil {
		t.Fatalf("pg_ctl start: %v", err)
	}
	return c
}

func (c *pgCluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

func (c *pgCluster) run(tool string, args ...string) error {
	var cmd *exec.Cmd
	if c.asPostgres {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(c.bindir, tool)}, args...)...)
	} else {
		cmd = exec.Command(filepath.Join(c.bindir, tool), args...)
	}
	// Not CombinedOutput: a postmaster started by pg_ctl would hold the
	// pipe open. Output goes to a file.
	f, err := os.CreateTemp("", "pgctl-*.out")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(f.Name())
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}
