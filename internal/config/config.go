// Package config is the only place Cartograph reads its environment. Every
// setting has a default that works on a developer machine; Load validates and
// returns a typed Config, or an error naming the bad variable.
package config

import (
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Config is the process configuration. Zero values are never used: Load
// fills defaults.
type Config struct {
	// DatabaseURL is the PostgreSQL connection string (DATABASE_URL).
	DatabaseURL string
	// AppDatabaseURL is what the gateway connects as (APP_DATABASE_URL): the
	// non-owner role cartograph_app, subject to row-level security. Default:
	// DATABASE_URL with the user replaced by cartograph_app (trust/peer auth
	// or a .pgpass entry must let it in; set it explicitly in production).
	AppDatabaseURL string
	// AppDatabasePassword, when set, is given to role cartograph_app by
	// `cartograph migrate up` (APP_DATABASE_PASSWORD), for servers that
	// authenticate by password (docker-compose, production).
	AppDatabasePassword string
	// RedisURL is the Redis connection string (REDIS_URL).
	RedisURL string
	// ListenAddr is the HTTP listen address (LISTEN_ADDR).
	ListenAddr string
	// TLSCertFile and TLSKeyFile (TLS_CERT_FILE, TLS_KEY_FILE; PEM), when
	// both are set, make the gateway serve HTTPS (TLS 1.2+, HTTP/2) on
	// LISTEN_ADDR instead of plain HTTP.
	TLSCertFile, TLSKeyFile string
	// PublicBaseURL is where browsers reach this gateway (PUBLIC_BASE_URL,
	// default http://<LISTEN_ADDR>): `cartograph seed` builds the demo
	// shops' image URLs (/images/demo/…) on it.
	PublicBaseURL string
	// DefaultShop is the shop handle used when a request names none (DEFAULT_SHOP; local development).
	DefaultShop string
	// BaseDomain enables shop resolution by subdomain: <handle>.<BaseDomain> (BASE_DOMAIN).
	BaseDomain string
	// DBMaxConns caps the pgx pool (DB_MAX_CONNS).
	DBMaxConns int32
	// MaxBodyBytes limits request bodies of staff and secret keys
	// (MAX_BODY_BYTES).
	MaxBodyBytes int64
	// MaxBodyBytesPublic limits request bodies of public callers:
	// anonymous, pk_ keys, customers (MAX_BODY_BYTES_PUBLIC).
	MaxBodyBytesPublic int64
	// LoaderWait is the dataloader batch window (LOADER_WAIT).
	LoaderWait time.Duration
	// ShopCacheTTL bounds how long a resolved shop is cached in process (SHOP_CACHE_TTL).
	ShopCacheTTL time.Duration
	// ShutdownTimeout is how long in-flight requests get on SIGTERM (SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
	// LogLevel is debug, info, warn or error (LOG_LEVEL).
	LogLevel string
	// GCPercent sets GOGC for the serving process (GC_PERCENT); -1 keeps the runtime's value.
	GCPercent int
	// MemLimitBytes sets the soft memory limit (GOMEMLIMIT_BYTES); 0 leaves it unset.
	MemLimitBytes int64
	// DebugStats exposes GET /debug/sqlstats for the benchmark (CARTOGRAPH_DEBUG_STATS=1).
	DebugStats bool
	// JWTKeys signs and verifies session tokens: "kid:secret,…", first signs
	// (JWT_KEYS). Empty: a random per-process key (development only).
	JWTKeys string
	// StaffTokenTTL, RefreshTokenTTL, CustomerTokenTTL are session lifetimes.
	StaffTokenTTL, RefreshTokenTTL, CustomerTokenTTL time.Duration
	// Rate limits, requests per minute (0 disables): per IP for anonymous
	// callers, per customer, per staff member; keys default to RateLimitKey.
	RateLimitAnon, RateLimitCustomer, RateLimitStaff, RateLimitKey int
	// LoginPerMinute limits login attempts per (shop, email); 4x per IP.
	LoginPerMinute int
	// BenchNoRLS (CARTOGRAPH_BENCH_NO_RLS=1, honoured only with
	// CARTOGRAPH_DEBUG_STATS=1) serves as the owner without tenant settings:
	// the baseline of the benchmark's RLS overhead figure. Never in production.
	BenchNoRLS bool
	// IdempotencyLease is how long a running idempotent request owns its
	// key before a retry may take over (IDEMPOTENCY_LEASE).
	IdempotencyLease time.Duration
	// BenchNoCost (CARTOGRAPH_BENCH_NO_COST=1, only with
	// CARTOGRAPH_DEBUG_STATS=1) serves without document limits and cost
	// analysis: the baseline of the benchmark's cost-overhead figure.
	BenchNoCost bool
	// Stripe: with StripeSecretKey set, payments go through Stripe
	// (STRIPE_SECRET_KEY); StripeAPIBase points elsewhere, e.g. stripe-mock
	// (STRIPE_API_BASE); StripeWebhookSecret verifies /webhooks/stripe
	// (STRIPE_WEBHOOK_SECRET) within WebhookTolerance (STRIPE_WEBHOOK_TOLERANCE).
	StripeSecretKey, StripeAPIBase, StripeWebhookSecret string
	// StripePublishableKey (STRIPE_PUBLISHABLE_KEY, pk_live_/pk_test_)
	// turns on the Payment Element on the hosted checkout page; without it
	// a Stripe order placed there waits for the shop to collect payment.
	// StripeJSURL is where the page loads Stripe.js from (STRIPE_JS_URL,
	// default https://js.stripe.com/v3/; PCI requires Stripe's own host,
	// so production refuses any other — tests point it at a stand-in).
	StripePublishableKey, StripeJSURL string
	WebhookTolerance                  time.Duration
	// ReservationTTL is how long checkout holds stock for payment (RESERVATION_TTL).
	ReservationTTL time.Duration
	// SweepInterval is how often expired reservations are released (SWEEP_INTERVAL).
	SweepInterval time.Duration
	// CartMaxQuantity bounds one cart line (CART_MAX_QUANTITY).
	CartMaxQuantity int
	// PublicCacheTTL bounds how long a cached public catalog response is
	// reused (PUBLIC_CACHE_TTL; 0 disables the cache). Stock movements
	// invalidate at once; the TTL bounds staleness from changes made
	// outside the API.
	PublicCacheTTL time.Duration
	// CheckoutURLTemplate is the default Cart.checkoutUrl; {host}, {token},
	// {cartId} are filled in; a shop's own template wins (CHECKOUT_URL_TEMPLATE).
	CheckoutURLTemplate string

	// Production (CARTOGRAPH_ENV=production) turns introspection and
	// GraphiQL off unless INTROSPECTION=1 / GRAPHIQL=1 enable them.
	Production bool
	// Introspection and GraphiQL say whether __schema/__type and the IDE
	// are served (default: on outside production).
	Introspection, GraphiQL bool
	// RequestTimeout bounds one GraphQL request (REQUEST_TIMEOUT): its
	// context is cancelled then, as when the client disconnects.
	RequestTimeout time.Duration
	// MaxResponseBytes caps one response's data (MAX_RESPONSE_BYTES).
	MaxResponseBytes int
	// Query cost (Shopify's model, declared with @cost/@listSize):
	// MaxQueryCost is the most one request may cost (MAX_QUERY_COST), staff
	// and secret keys get MaxQueryCostTrusted (MAX_QUERY_COST_TRUSTED).
	MaxQueryCost, MaxQueryCostTrusted int
	// CostBucketMax/CostRestoreRate size each principal's leaky bucket
	// (COST_BUCKET_MAX points, COST_RESTORE_RATE points per second);
	// ShopCostBucketMax/ShopCostRestoreRate the whole shop's
	// (SHOP_COST_BUCKET_MAX, SHOP_COST_RESTORE_RATE).
	CostBucketMax, CostRestoreRate, ShopCostBucketMax, ShopCostRestoreRate int
	// CostRedisTimeout bounds each cost-bucket call to Redis
	// (COST_REDIS_TIMEOUT, default 100ms); past it the request runs
	// unbudgeted and budgets are skipped for a second, so a hung Redis
	// slows no request by more than one timeout.
	CostRedisTimeout time.Duration
	// AllowedOrigins are the browser origins allowed to call the API
	// (CORS; ALLOWED_ORIGINS, comma-separated; "*" for any).
	AllowedOrigins []string
	// Tracing turns OpenTelemetry tracing on (OTLP/HTTP exporter). Off by
	// default; on when OTEL_EXPORTER_OTLP_ENDPOINT or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (the exporter reads those and
	// the other standard OTEL_EXPORTER_OTLP_* variables itself) or when
	// TRACING=otlp; TRACING=off or OTEL_SDK_DISABLED=true force it off.
	Tracing bool
	// TracingSampleRatio is the share of new traces sampled
	// (TRACING_SAMPLE_RATIO, 0 < r <= 1, default 1; callers' sampled
	// traces are always continued).
	TracingSampleRatio float64
	// TracingServiceName is service.name on every span (OTEL_SERVICE_NAME,
	// default cartograph).
	TracingServiceName string
	// MaxStringInput bounds, in characters, every GraphQL string input with
	// no narrower bound of its own (MAX_STRING_INPUT, default 5000; the
	// narrower ones are server.StringBounds).
	MaxStringInput int
	// CartMaxLines bounds distinct lines per cart (CART_MAX_LINES, default
	// 250 as Shopify).
	CartMaxLines int
	// PublicCacheMaxBytes bounds the public response cache's total size
	// (PUBLIC_CACHE_MAX_BYTES, default 32 MiB).
	PublicCacheMaxBytes int64
	// AuthFailPerMinute is how many failed authentications (unknown key,
	// shop or host, bad token) one IP may make per minute before it is
	// refused THROTTLED without any lookup (AUTH_FAIL_PER_MINUTE, default 300, a burst of 50).
	AuthFailPerMinute int
	// PasswordConcurrency bounds concurrent argon2id hashes (64 MiB each;
	// PASSWORD_CONCURRENCY, default the number of CPUs); PasswordQueue is
	// how many more may wait (PASSWORD_QUEUE, default 2x that) before
	// logins are refused THROTTLED.
	PasswordConcurrency, PasswordQueue int
	// Subscriptions over websockets (README, "Subscriptions"):
	// WSInitTimeout closes a connection that sent no connection_init in
	// time with 4408 (WS_INIT_TIMEOUT, default 10s); WSPingInterval is the
	// server's ping period, a client that answers no ping for two periods
	// is dropped (WS_PING_INTERVAL, default 20s); WSMaxSubscriptions bounds
	// the subscriptions of one connection, more are refused with an error
	// message (WS_MAX_SUBSCRIPTIONS, default 100); WSMaxConnsPerPrincipal
	// bounds one principal's connections across instances, more are closed
	// with 4429 (WS_MAX_CONNS_PER_PRINCIPAL, default 20); WSRevalidate is
	// how often a connection's credentials are checked again, so a revoked
	// key, logged-out customer or removed staff member is closed with 4403
	// (WS_REVALIDATE_INTERVAL, default 30s; a session token is closed at
	// its expiry regardless).
	WSInitTimeout, WSPingInterval, WSRevalidate time.Duration
	WSMaxSubscriptions, WSMaxConnsPerPrincipal  int
}

// Load reads the environment. It fails on malformed values instead of
// silently falling back to defaults.
func Load() (Config, error) {
	return load(os.LookupEnv)
}

func load(lookup func(string) (string, bool)) (Config, error) {
	var errs []string
	str := func(key, def string) string {
		if v, ok := lookup(key); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	integer := func(key string, def int64) int64 {
		v := str(key, "")
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: not an integer: %q", key, v))
			return def
		}
		return n
	}
	dur := func(key string, def time.Duration) time.Duration {
		v := str(key, "")
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Sprintf("%s: not a duration: %q", key, v))
			return def
		}
		return d
	}
	c := Config{
		DatabaseURL:          str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cartograph?sslmode=disable"),
		RedisURL:             str("REDIS_URL", "redis://127.0.0.1:6379/0"),
		ListenAddr:           str("LISTEN_ADDR", "127.0.0.1:8080"),
		PublicBaseURL:        str("PUBLIC_BASE_URL", ""),
		TLSCertFile:          str("TLS_CERT_FILE", ""),
		TLSKeyFile:           str("TLS_KEY_FILE", ""),
		BaseDomain:           strings.ToLower(str("BASE_DOMAIN", "localhost")),
		DefaultShop:          strings.ToLower(str("DEFAULT_SHOP", "")),
		DBMaxConns:           int32(integer("DB_MAX_CONNS", 16)),
		MaxBodyBytes:         integer("MAX_BODY_BYTES", 1<<20),
		MaxBodyBytesPublic:   integer("MAX_BODY_BYTES_PUBLIC", 128<<10),
		LoaderWait:           dur("LOADER_WAIT", 500*time.Microsecond),
		ShopCacheTTL:         dur("SHOP_CACHE_TTL", 5*time.Second),
		ShutdownTimeout:      dur("SHUTDOWN_TIMEOUT", 15*time.Second),
		LogLevel:             strings.ToLower(str("LOG_LEVEL", "info")),
		GCPercent:            int(integer("GC_PERCENT", 400)),
		MemLimitBytes:        integer("GOMEMLIMIT_BYTES", 160<<20),
		DebugStats:           str("CARTOGRAPH_DEBUG_STATS", "") == "1",
		JWTKeys:              str("JWT_KEYS", ""),
		StaffTokenTTL:        dur("STAFF_TOKEN_TTL", 15*time.Minute),
		RefreshTokenTTL:      dur("REFRESH_TOKEN_TTL", 30*24*time.Hour),
		CustomerTokenTTL:     dur("CUSTOMER_TOKEN_TTL", 7*24*time.Hour),
		RateLimitAnon:        int(integer("RATE_LIMIT_ANON", 6000)),
		RateLimitCustomer:    int(integer("RATE_LIMIT_CUSTOMER", 1200)),
		RateLimitStaff:       int(integer("RATE_LIMIT_STAFF", 1200)),
		RateLimitKey:         int(integer("RATE_LIMIT_KEY", 6000)),
		LoginPerMinute:       int(integer("LOGIN_PER_MINUTE", 10)),
		StripeSecretKey:      str("STRIPE_SECRET_KEY", ""),
		StripeAPIBase:        str("STRIPE_API_BASE", ""),
		StripeWebhookSecret:  str("STRIPE_WEBHOOK_SECRET", ""),
		StripePublishableKey: str("STRIPE_PUBLISHABLE_KEY", ""),
		StripeJSURL:          str("STRIPE_JS_URL", "https://js.stripe.com/v3/"),
		WebhookTolerance:     dur("STRIPE_WEBHOOK_TOLERANCE", 5*time.Minute),
		ReservationTTL:       dur("RESERVATION_TTL", 15*time.Minute),
		SweepInterval:        dur("SWEEP_INTERVAL", 5*time.Second),
		CartMaxQuantity:      int(integer("CART_MAX_QUANTITY", 100)),
		CheckoutURLTemplate:  str("CHECKOUT_URL_TEMPLATE", "https://{host}/checkout?cart={token}"),
		PublicCacheTTL:       dur("PUBLIC_CACHE_TTL", 5*time.Second),
		RequestTimeout:       dur("REQUEST_TIMEOUT", 15*time.Second),
		IdempotencyLease:     dur("IDEMPOTENCY_LEASE", 10*time.Second),
		MaxResponseBytes:     int(integer("MAX_RESPONSE_BYTES", 16<<20)),
		// Shopify's Admin API caps a query at 1,000 points; priced the same
		// way a storefront listing of 24 products × 10 variants costs 1,851,
		// so the storefront default leaves room for real pages (README).
		MaxQueryCost:           int(integer("MAX_QUERY_COST", 5000)),
		MaxQueryCostTrusted:    int(integer("MAX_QUERY_COST_TRUSTED", 50000)),
		CostBucketMax:          int(integer("COST_BUCKET_MAX", 10000)),
		CostRestoreRate:        int(integer("COST_RESTORE_RATE", 1000)),
		ShopCostBucketMax:      int(integer("SHOP_COST_BUCKET_MAX", 1000000)),
		ShopCostRestoreRate:    int(integer("SHOP_COST_RESTORE_RATE", 200000)),
		CostRedisTimeout:       dur("COST_REDIS_TIMEOUT", 100*time.Millisecond),
		CartMaxLines:           int(integer("CART_MAX_LINES", 250)),
		MaxStringInput:         int(integer("MAX_STRING_INPUT", 5000)),
		PublicCacheMaxBytes:    integer("PUBLIC_CACHE_MAX_BYTES", 32<<20),
		AuthFailPerMinute:      int(integer("AUTH_FAIL_PER_MINUTE", 300)),
		PasswordConcurrency:    int(integer("PASSWORD_CONCURRENCY", int64(runtime.NumCPU()))),
		WSInitTimeout:          dur("WS_INIT_TIMEOUT", 10*time.Second),
		WSPingInterval:         dur("WS_PING_INTERVAL", 20*time.Second),
		WSRevalidate:           dur("WS_REVALIDATE_INTERVAL", 30*time.Second),
		WSMaxSubscriptions:     int(integer("WS_MAX_SUBSCRIPTIONS", 100)),
		WSMaxConnsPerPrincipal: int(integer("WS_MAX_CONNS_PER_PRINCIPAL", 20)),
	}
	if c.WSInitTimeout <= 0 || c.WSPingInterval <= 0 || c.WSRevalidate <= 0 || c.WSMaxSubscriptions < 1 || c.WSMaxConnsPerPrincipal < 1 {
		errs = append(errs, "WS_INIT_TIMEOUT, WS_PING_INTERVAL, WS_REVALIDATE_INTERVAL must be positive; WS_MAX_SUBSCRIPTIONS, WS_MAX_CONNS_PER_PRINCIPAL >= 1")
	}
	c.PasswordQueue = int(integer("PASSWORD_QUEUE", int64(2*c.PasswordConcurrency)))
	switch t := strings.ToLower(str("TRACING", "")); t {
	case "otlp", "on", "true", "1":
		c.Tracing = true
	case "off", "false", "0":
	case "":
		c.Tracing = str("OTEL_EXPORTER_OTLP_ENDPOINT", "") != "" || str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "") != ""
	default:
		errs = append(errs, fmt.Sprintf("TRACING: want otlp|off, got %q", t))
	}
	if strings.EqualFold(str("OTEL_SDK_DISABLED", ""), "true") {
		c.Tracing = false
	}
	c.TracingServiceName = str("OTEL_SERVICE_NAME", "cartograph")
	c.TracingSampleRatio = 1
	if v := str("TRACING_SAMPLE_RATIO", ""); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || !(r > 0 && r <= 1) {
			errs = append(errs, fmt.Sprintf("TRACING_SAMPLE_RATIO: want 0 < r <= 1, got %q", v))
		} else {
			c.TracingSampleRatio = r
		}
	}
	if c.CartMaxLines < 1 || c.MaxStringInput < 1 || c.PublicCacheMaxBytes < 0 || c.PasswordConcurrency < 1 || c.PasswordQueue < 0 {
		errs = append(errs, "CART_MAX_LINES >= 1, MAX_STRING_INPUT >= 1, PUBLIC_CACHE_MAX_BYTES >= 0, PASSWORD_CONCURRENCY >= 1, PASSWORD_QUEUE >= 0")
	}
	switch env := strings.ToLower(str("CARTOGRAPH_ENV", "development")); env {
	case "production":
		c.Production = true
	case "development", "test":
	default:
		errs = append(errs, fmt.Sprintf("CARTOGRAPH_ENV: want development|production, got %q", env))
	}
	c.Introspection = str("INTROSPECTION", map[bool]string{true: "0", false: "1"}[c.Production]) == "1"
	c.GraphiQL = str("GRAPHIQL", map[bool]string{true: "0", false: "1"}[c.Production]) == "1"
	for o := range strings.SplitSeq(str("ALLOWED_ORIGINS", ""), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.AllowedOrigins = append(c.AllowedOrigins, o)
		}
	}
	if c.MaxQueryCost < 1 || c.MaxQueryCostTrusted < c.MaxQueryCost || c.CostBucketMax < c.MaxQueryCost || c.CostRestoreRate < 1 {
		errs = append(errs, "MAX_QUERY_COST >= 1, MAX_QUERY_COST_TRUSTED >= MAX_QUERY_COST, COST_BUCKET_MAX >= MAX_QUERY_COST, COST_RESTORE_RATE >= 1")
	}
	if u, err := url.Parse(c.StripeJSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Sprintf("STRIPE_JS_URL: want an absolute http(s) URL, got %q", c.StripeJSURL))
	} else if c.Production && (u.Scheme != "https" || u.Host != "js.stripe.com") {
		errs = append(errs, "STRIPE_JS_URL: in production Stripe.js must come from https://js.stripe.com (PCI)")
	}
	if c.StripePublishableKey != "" && !strings.HasPrefix(c.StripePublishableKey, "pk_") {
		errs = append(errs, "STRIPE_PUBLISHABLE_KEY: want a publishable key (pk_live_… or pk_test_…)")
	}
	c.BenchNoRLS = c.DebugStats && str("CARTOGRAPH_BENCH_NO_RLS", "") == "1"
	c.BenchNoCost = c.DebugStats && str("CARTOGRAPH_BENCH_NO_COST", "") == "1"
	c.AppDatabasePassword = str("APP_DATABASE_PASSWORD", "")
	c.AppDatabaseURL = str("APP_DATABASE_URL", "")
	if c.AppDatabaseURL == "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil {
			errs = append(errs, "DATABASE_URL: not a URL")
		} else {
			u.User = url.User("cartograph_app")
			c.AppDatabaseURL = u.String()
		}
	}
	if c.DBMaxConns < 1 {
		errs = append(errs, "DB_MAX_CONNS: must be >= 1")
	}
	if c.CartMaxQuantity < 1 {
		errs = append(errs, "CART_MAX_QUANTITY: must be >= 1")
	}
	if c.ReservationTTL <= 0 || c.SweepInterval <= 0 {
		errs = append(errs, "RESERVATION_TTL and SWEEP_INTERVAL must be positive")
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, "MAX_BODY_BYTES: must be >= 1024")
	}
	if c.MaxBodyBytesPublic < 1024 || c.MaxBodyBytesPublic > c.MaxBodyBytes {
		errs = append(errs, "MAX_BODY_BYTES_PUBLIC: must be >= 1024 and <= MAX_BODY_BYTES")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Sprintf("LOG_LEVEL: want debug|info|warn|error, got %q", c.LogLevel))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return c, nil
}
