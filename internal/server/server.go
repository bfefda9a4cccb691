// Package server wires Cartograph's HTTP surface: the GraphQL endpoint
// (POST and GET per GraphQL-over-HTTP, also at /api/{version}/graphql.json
// for Shopify-style storefronts), GraphiQL at /, /healthz, /readyz and the
// optional /debug/sqlstats, behind request-id/log/recover, body-limit, shop
// and dataloader middleware. It owns graceful shutdown.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"cartograph/graph"
	"cartograph/graph/generated"
	"cartograph/internal/adminui"
	"cartograph/internal/apperr"
	"cartograph/internal/apq"
	"cartograph/internal/auth"
	"cartograph/internal/cart"
	"cartograph/internal/catalog"
	"cartograph/internal/checkout"
	"cartograph/internal/checkoutpage"
	"cartograph/internal/config"
	"cartograph/internal/content"
	"cartograph/internal/cost"
	"cartograph/internal/customers"
	"cartograph/internal/demoimages"
	"cartograph/internal/discounts"
	"cartograph/internal/documents"
	"cartograph/internal/events"
	"cartograph/internal/graphiql"
	"cartograph/internal/idempotency"
	"cartograph/internal/inventory"
	"cartograph/internal/loaders"
	"cartograph/internal/markets"
	"cartograph/internal/metrics"
	"cartograph/internal/orders"
	"cartograph/internal/payments"
	"cartograph/internal/pg"
	"cartograph/internal/qlimits"
	"cartograph/internal/ratelimit"
	"cartograph/internal/respcache"
	"cartograph/internal/shipping"
	"cartograph/internal/shop"
	"cartograph/internal/taxes"
	"cartograph/internal/tracing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
)

// Deps are the live components the server uses.
type Deps struct {
	Config config.Config
	Log    *slog.Logger
	// DB is the application pool: connected as cartograph_app, so every
	// tenant table is behind row-level security.
	DB      *pgxpool.Pool
	DBStats *pg.Stats
	Redis   redis.UniversalClient
}

// Server is Cartograph's HTTP handler.
type Server struct {
	deps    Deps
	handler http.Handler
	keys    *auth.Keys
	limiter *ratelimit.Limiter
	// Orders is the order service (webhooks, sweeper; exposed for tests).
	Orders *orders.Service
	// Checkout is the checkout service (exposed for fault tests).
	Checkout *checkout.Service
	// Provider is the payment provider in use.
	Provider payments.Provider
	// Events relays inventory changes and serves subscriptions.
	Events   *events.Hub
	requests atomic.Int64
}

// New builds the handler tree.
func New(d Deps) (*Server, error) {
	s := &Server{deps: d}
	var catDB catalog.DB = pg.Tenant{Pool: d.DB}
	if d.Config.BenchNoRLS {
		d.Log.Warn("CARTOGRAPH_BENCH_NO_RLS: catalog reads run without tenant settings (benchmark baseline only)")
		catDB = d.DB
	}
	cat := catalog.New(catDB)
	signer, err := auth.NewSigner(d.Config.JWTKeys)
	if err != nil {
		return nil, err
	}
	if d.Config.JWTKeys == "" {
		d.Log.Warn("JWT_KEYS is not set: using a random per-process signing key (sessions end on restart and are not shared between instances)")
	}
	shops := shop.NewResolver(d.DB, d.Config.BaseDomain, d.Config.DefaultShop, d.Config.ShopCacheTTL)
	metrics.ObservePool(d.DB)
	limiter := ratelimit.New(d.Redis, d.Log)
	s.limiter = limiter
	s.keys = auth.NewKeys(d.DB)
	authSvc := auth.NewService(d.DB, d.Redis, signer, s.keys, limiter, auth.Settings{
		StaffTokenTTL: d.Config.StaffTokenTTL, RefreshTokenTTL: d.Config.RefreshTokenTTL, CustomerTokenTTL: d.Config.CustomerTokenTTL,
		LoginPerMinute: d.Config.LoginPerMinute, DefaultKeyRateLimit: d.Config.RateLimitKey,
	})
	custSvc := customers.New(d.DB, limiter, d.Config.LoginPerMinute*4)
	authSvc.UseCustomers(custSvc)
	auth.SetPasswordConcurrency(d.Config.PasswordConcurrency, d.Config.PasswordQueue)
	gateway := &auth.Gateway{Shops: shops, Keys: s.keys, Signer: signer, Auth: authSvc, Limiter: limiter, FailPerMinute: d.Config.AuthFailPerMinute,
		Limits: auth.Limits{Anonymous: d.Config.RateLimitAnon, Customer: d.Config.RateLimitCustomer, Staff: d.Config.RateLimitStaff}}
	var provider payments.Provider = payments.Manual{}
	if d.Config.StripeSecretKey != "" {
		provider = payments.NewStripe(d.Config.StripeSecretKey, d.Config.StripeAPIBase)
	}
	s.Provider = provider
	idem := idempotency.New(d.DB)
	idem.Lease = d.Config.IdempotencyLease
	carts := cart.New(d.Redis, cat, d.Config.CartMaxQuantity, d.Config.BaseDomain, d.Config.CheckoutURLTemplate)
	carts.MaxLines = d.Config.CartMaxLines
	discountSvc, shippingSvc, taxSvc := discounts.New(d.DB), shipping.New(d.DB), taxes.New(d.DB)
	carts.UsePricing(discountSvc, shippingSvc, taxSvc)
	marketSvc := markets.New(d.DB)
	carts.UseMarkets(marketSvc)
	s.Orders = orders.NewService(d.DB, provider, idem, carts, d.Log)
	checkoutSvc := checkout.New(d.DB, s.Orders, carts, provider, idem, d.Log, d.Config.ReservationTTL)
	invSvc := inventory.New(d.DB, idem)
	s.Events = events.New(d.DB, d.Redis, invSvc, d.Log)
	s.Checkout = checkoutSvc
	res := &graph.Resolver{Catalog: cat, Auth: authSvc, CustomerService: custSvc, BaseDomain: d.Config.BaseDomain,
		CartService: carts, CheckoutService: checkoutSvc, OrderService: s.Orders,
		Discounts: discountSvc, Shipping: shippingSvc, Taxes: taxSvc, Markets: marketSvc}
	res.Inventory, res.Events = invSvc, s.Events
	docs := documents.New(d.DB)
	res.Documents = docs
	res.Content = content.New(d.DB, d.Config.BaseDomain)
	es := generated.NewExecutableSchema(generated.Config{Resolvers: res, Directives: generated.DirectiveRoot{
		InContext: res.InContext,
		HasPermission: func(ctx context.Context, _ any, next graphql.Resolver, scopes []string) (any, error) {
			if err := auth.Require(ctx, scopes...); err != nil {
				return nil, err
			}
			return next(ctx)
		},
	}})
	// A document is registered only if it could run: within the document
	// limits, parsed and valid against this schema.
	docs.Validate = func(body string) error {
		if err := (qlimits.Limits{}).Check(body); err != nil {
			return err
		}
		if _, errs := gqlparser.LoadQueryWithRules(es.Schema(), body, nil); len(errs) > 0 {
			return errs[0]
		}
		return nil
	}
	gql := handler.New(es)
	gql.AddTransport(transport.Options{})
	gql.AddTransport(transport.GET{})
	wsp := newWSPolicy(gateway, d.Redis, d.Log, d.Config.WSInitTimeout, d.Config.WSRevalidate, d.Config.WSMaxSubscriptions, d.Config.WSMaxConnsPerPrincipal)
	addSubscriptionTransports(gql, wsp, d.Log, d.Config.WSPingInterval) // before POST
	gql.AddTransport(postJSON{})
	gql.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if d.Config.Introspection {
		use(gql, extension.Introspection{})
	}
	// Registered (trusted) documents by id, and the shop's
	// trusted-documents-only mode: before APQ and the document limits.
	use(gql, documents.Extension{Service: docs})
	// Outermost operation interceptor, so its span covers the cost
	// charge and sees extensions.cost.
	use(gql, opTracer{})
	// Persisted queries are shared by every instance through Redis.
	use(gql, extension.AutomaticPersistedQuery{Cache: apq.New(d.Redis, 24*time.Hour, 64<<10)})
	// Document limits run after APQ has filled in a persisted query and
	// before gqlgen's cache, parser and validator (internal/qlimits).
	if !d.Config.BenchNoCost {
		use(gql, qlimits.Extension{})
	}
	// Cost (declared with @cost/@listSize in the SDL) replaces gqlgen's
	// field-count complexity: priced before execution, charged to shared
	// Redis buckets, actual cost refunded after (internal/cost).
	if d.Config.BenchNoCost {
		d.Log.Warn("CARTOGRAPH_BENCH_NO_COST: no document limits or query cost (benchmark baseline only)")
	} else {
		use(gql, cost.NewExtension(cost.ExtensionConfig{Buckets: cost.NewBuckets(d.Redis), Limits: costLimits(d.Config, docs), Rider: rateRider, MaxCost: costMax(d.Config, docs), Log: d.Log, RedisTimeout: d.Config.CostRedisTimeout}))
	}
	var invalidate inventory.Observer
	if d.Config.PublicCacheTTL > 0 {
		pc := respcache.New(d.Redis, d.Config.PublicCacheTTL, d.Config.PublicCacheMaxBytes)
		pc.Down = limiter.Degraded
		use(gql, pc)
		invalidate = func(ctx context.Context, shopID uuid.UUID, _ []inventory.Level) {
			if err := pc.Invalidate(context.WithoutCancel(ctx), shopID); err != nil {
				d.Log.Warn("public cache invalidation failed", "shop", shopID, "err", err)
			}
		}
		// A content edit drops the shop's cached public responses too.
		res.Content.OnChange = func(ctx context.Context, shopID uuid.UUID) { invalidate(ctx, shopID, nil) }
		// So does a change of markets, price lists or exchange rates.
		marketSvc.OnChange = res.Content.OnChange
	}
	// Every committed stock movement — checkout, orders, staff — drops the
	// shop's cached responses and wakes the events relay.
	onStock := s.Events.Chain(invalidate)
	s.Orders.OnStock, checkoutSvc.OnStock, invSvc.OnStock = onStock, onStock, onStock
	use(gql, observer{})
	use(gql, &inputBounds{def: d.Config.MaxStringInput})
	// Innermost: arenas go back to their pool once the data is copied out.
	use(gql, arenaRecycler{})
	gql.SetErrorPresenter(presentError(d.Log))
	gql.SetRecoverFunc(recoverPanic(d.Log))

	var api http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		gql.ServeHTTP(protocolStatus{w}, r)
	})
	api = loaders.Middleware(cat, custSvc, d.Config.LoaderWait, api)
	api = withBodyLimit(d.Config.MaxBodyBytes, d.Config.MaxBodyBytesPublic, api)
	// The rate-limit check rides on the cost take (one Redis round trip);
	// without the cost extension (a benchmark baseline) it is made first.
	api = withAuth(gateway, !d.Config.BenchNoCost, api)
	api = withDeclaredSize(d.Config.MaxBodyBytes, d.Config.MaxBodyBytesPublic, api)
	api = withTimeout(d.Config.RequestTimeout, api)
	lazyLoaders := func(ctx context.Context) context.Context {
		return loaders.WithLazy(ctx, func() *loaders.Loaders { return loaders.New(cat, custSvc, d.Config.LoaderWait) })
	}
	api = withSubscriptions(gateway, wsp, func(h http.Handler) http.Handler { return loaders.Middleware(cat, custSvc, d.Config.LoaderWait, h) }, lazyLoaders, d.Config.MaxBodyBytes, d.Config.MaxBodyBytesPublic,
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.requests.Add(1); gql.ServeHTTP(w, r) }), api)
	api = withObserve(api)
	api = tracing.Middleware("/graphql", api)
	api = withCORS(d.Config.AllowedOrigins, corsFor(gateway.HostShop, docs), api)

	mux := http.NewServeMux()
	mux.Handle("/graphql", api)
	mux.Handle("/api/{version}/graphql.json", api)
	if d.Config.GraphiQL {
		ide := graphiql.Handler(graphiql.Options{DefaultHeaders: graphiql.HeadersJSON(map[string]string{"X-Shop-Handle": d.Config.DefaultShop})})
		mux.Handle("GET /{$}", ide)
		mux.Handle("GET /graphiql/", ide)
		mux.Handle("GET /favicon.ico", ide)
	}
	mux.Handle("GET /admin/", adminui.Handler())
	mux.Handle("GET "+demoimages.Path+"{name}", demoimages.Handler())
	// The hosted checkout page behind Cart.checkoutUrl: the shop from the
	// Host, rate-limited and timed out like the API.
	page := withTimeout(d.Config.RequestTimeout, withAuth(gateway, false,
		loaders.Middleware(cat, custSvc, d.Config.LoaderWait, &checkoutpage.Page{Carts: carts, Checkout: checkoutSvc, Orders: s.Orders, Log: d.Log,
			Stripe: checkoutpage.StripeConfig{PublishableKey: d.Config.StripePublishableKey, JSURL: d.Config.StripeJSURL}})))
	mux.Handle("/checkout", page)
	mux.Handle("/checkout/return", page)
	mux.Handle("GET /checkout/pay.js", page)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", s.ready)
	mux.Handle("GET /metrics", metrics.Handler())
	mux.Handle("POST /webhooks/stripe", tracing.Middleware("/webhooks/stripe", payments.StripeWebhook(d.Config.StripeWebhookSecret, d.Config.WebhookTolerance, s.Orders, d.Log)))
	if d.Config.DebugStats {
		mux.HandleFunc("GET /debug/sqlstats", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]int64{"requests": s.requests.Load(), "statements": d.DBStats.Statements()})
		})
		// Profiles for the benchmark; only with CARTOGRAPH_DEBUG_STATS=1.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/heap", pprof.Index)
	}
	s.handler = withRequestLog(d.Log, mux)
	return s, nil
}

// Background runs the server's periodic work until ctx ends: API key
// last-use flushing and the reservation sweeper (safe on every instance).
func (s *Server) Background(ctx context.Context) {
	go s.Orders.RunSweeper(ctx, s.deps.Config.SweepInterval)
	go s.Events.RunRelay(ctx, time.Second)
	s.keys.RunFlusher(ctx, 2*time.Second, func(err error) {
		s.deps.Log.Warn("api key last-use flush failed", "err", err)
	})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status, code := s.readiness(ctx)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(status)
}

// Run serves on the configured address until ctx is cancelled, then shuts
// down gracefully: new connections are refused and in-flight requests get
// ShutdownTimeout to finish.
func (s *Server) Run(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.deps.Config.ListenAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	if cert, key := s.deps.Config.TLSCertFile, s.deps.Config.TLSKeyFile; cert != "" || key != "" {
		if cert == "" || key == "" {
			ln.Close()
			return errors.New("TLS_CERT_FILE and TLS_KEY_FILE must be set together")
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		go func() { errc <- srv.ServeTLS(ln, cert, key) }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.deps.Config.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func errorBody(code apperr.Code, msg string, ext map[string]any) []byte {
	e := map[string]any{"code": string(code)}
	for k, v := range ext {
		e[k] = v
	}
	b, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": e}}})
	return b
}

// PrintSchema writes the served GraphQL schema as SDL, with its @cost,
// @listSize and permission directives, for tooling and client codegen
// (`cartograph schema print`).
func PrintSchema(w io.Writer) {
	es := generated.NewExecutableSchema(generated.Config{Resolvers: &graph.Resolver{}})
	formatter.NewFormatter(w, formatter.WithIndent("  ")).FormatSchema(es.Schema())
}
