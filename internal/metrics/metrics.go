// Package metrics holds Cartograph's Prometheus collectors (the operator's
// view, served at /metrics by internal/server). Collectors are package-level
// and registered once on a private registry, so any package may count
// without plumbing: metrics.CheckoutBegun(), metrics.OrderPaid(), and so on.
// Label values are bounded by the callers (operation names are capped by
// Operation), so a hostile client cannot grow the series set.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry is the registry /metrics serves (Go runtime and process
// collectors included).
var Registry = prometheus.NewRegistry()

var (
	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cartograph_requests_total",
		Help: "GraphQL HTTP requests by operation name, HTTP status and principal kind.",
	}, []string{"operation", "status", "principal"})
	duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cartograph_request_duration_seconds",
		Help:    "GraphQL HTTP request latency by operation name and principal kind.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"operation", "principal"})
	sqlStatements = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cartograph_sql_statements_total",
		Help: "SQL statements sent to PostgreSQL (tenant settings excluded).",
	})
	redisErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cartograph_redis_errors_total",
		Help: "Redis command failures by component (ratelimit, respcache, cart, session).",
	}, []string{"component"})
	limiterFallback = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cartograph_ratelimit_fallback",
		Help: "1 while the rate limiter runs on per-instance memory because Redis is unreachable.",
	})
	rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cartograph_ratelimit_rejections_total",
		Help: "Requests refused THROTTLED by bucket kind (ip, key, customer, staff, login, authfail, password).",
	}, []string{"bucket"})
	checkouts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cartograph_checkouts_begun_total",
		Help: "Checkouts begun (stock reserved, order pending payment).",
	})
	ordersPaid = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cartograph_orders_paid_total",
		Help: "Orders that reached PAID.",
	})
	outOfStock = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cartograph_reservation_out_of_stock_total",
		Help: "Checkout reservations refused OUT_OF_STOCK.",
	})
	rootDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cartograph_root_field_duration_seconds",
		Help:    "GraphQL HTTP request latency by the operation's first root field (schema-bounded: products, product, checkoutBegin, ...); what latency alerts use.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"field"})
	gqlErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cartograph_graphql_errors_total",
		Help: "Top-level GraphQL errors by extensions.code (INTERNAL, SERVICE_UNAVAILABLE, THROTTLED, ...).",
	}, []string{"code"})
	queryCost = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cartograph_query_cost",
		Help:    "Query cost per operation: requested (priced before execution) and actual (after).",
		Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000},
	}, []string{"kind"})
	costRejections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cartograph_cost_rejections_total",
		Help: "Operations refused by the cost analysis: max_cost (MAX_COST_EXCEEDED) or throttled (budget empty).",
	}, []string{"reason"})
	paymentFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cartograph_payment_failures_total",
		Help: "Payment events that did not pay: failed (a declined attempt) or canceled (the intent was cancelled).",
	}, []string{"kind"})
	checkoutsAbandoned = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cartograph_checkouts_abandoned_total",
		Help: "Checkouts whose reservation expired unpaid (order EXPIRED, stock released).",
	})
	cartsCreated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cartograph_carts_created_total",
		Help: "Carts created (the top of the funnel: carts -> checkouts begun -> orders paid).",
	})
	pools    []func() *pgxpool.Stat
	poolsMu  sync.Mutex
	poolDesc = prometheus.NewDesc("cartograph_db_pool_connections",
		"PostgreSQL pool connections by state (acquired, idle, total, max), summed over the instance's pools.", []string{"state"}, nil)
	poolWaits = prometheus.NewDesc("cartograph_db_pool_acquire_waits_total",
		"Pool acquisitions that had to wait for a connection.", nil, nil)
)

// poolCollector reads the registered pools' statistics at scrape time.
type poolCollector struct{}

func (poolCollector) Describe(ch chan<- *prometheus.Desc) { ch <- poolDesc; ch <- poolWaits }
func (poolCollector) Collect(ch chan<- prometheus.Metric) {
	poolsMu.Lock()
	fs := append([]func() *pgxpool.Stat(nil), pools...)
	poolsMu.Unlock()
	var acquired, idle, total, maxc, waits float64
	for _, f := range fs {
		st := f()
		acquired += float64(st.AcquiredConns())
		idle += float64(st.IdleConns())
		total += float64(st.TotalConns())
		maxc += float64(st.MaxConns())
		waits += float64(st.EmptyAcquireCount())
	}
	for state, v := range map[string]float64{"acquired": acquired, "idle": idle, "total": total, "max": maxc} {
		ch <- prometheus.MustNewConstMetric(poolDesc, prometheus.GaugeValue, v, state)
	}
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, waits)
}

// ObservePool adds a pool to cartograph_db_pool_connections (server.New
// calls it for the application pool).
func ObservePool(p *pgxpool.Pool) {
	poolsMu.Lock()
	defer poolsMu.Unlock()
	pools = append(pools, p.Stat)
}

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		requests, duration, sqlStatements, redisErrors, limiterFallback, rateLimited, checkouts, ordersPaid, outOfStock,
		rootDuration, gqlErrors, queryCost, costRejections, paymentFailures, checkoutsAbandoned, cartsCreated, poolCollector{})
}

// Handler serves the registry in the Prometheus exposition format.
func Handler() http.Handler { return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{}) }

// maxOperations bounds distinct operation-name label values; names beyond
// it (or too long) are counted as "other".
const maxOperations = 500

var (
	opMu  sync.Mutex
	opSet = map[string]struct{}{}
)

// Operation returns the label value for a client-chosen operation name:
// the name while fewer than maxOperations distinct names were seen, else
// "other"; "" becomes "anonymous".
func Operation(name string) string {
	if name == "" {
		return "anonymous"
	}
	if len(name) > 64 {
		return "other"
	}
	opMu.Lock()
	defer opMu.Unlock()
	if _, ok := opSet[name]; ok {
		return name
	}
	if len(opSet) >= maxOperations {
		return "other"
	}
	opSet[name] = struct{}{}
	return name
}

// Request records one GraphQL HTTP request (operation already passed
// through Operation).
func Request(operation, status, principal string, d time.Duration) {
	requests.WithLabelValues(operation, status, principal).Inc()
	duration.WithLabelValues(operation, principal).Observe(d.Seconds())
}

// SQLStatements counts n statements sent to PostgreSQL.
func SQLStatements(n int64) { sqlStatements.Add(float64(n)) }

// RedisError counts a failed Redis command of component.
func RedisError(component string) { redisErrors.WithLabelValues(component).Inc() }

// LimiterFallback sets whether the limiter runs on per-instance memory.
func LimiterFallback(on bool) {
	if on {
		limiterFallback.Set(1)
	} else {
		limiterFallback.Set(0)
	}
}

// RateLimited counts a THROTTLED refusal of bucket kind.
func RateLimited(bucket string) { rateLimited.WithLabelValues(bucket).Inc() }

// CheckoutBegun counts a begun checkout (called by internal/checkout).
func CheckoutBegun() { checkouts.Inc() }

// OrderPaid counts an order reaching PAID (called by internal/orders).
func OrderPaid() { ordersPaid.Inc() }

// ReservationOutOfStock counts a reservation refused OUT_OF_STOCK.
func ReservationOutOfStock() { outOfStock.Inc() }

// RootField records the latency of a request by its first root field
// (a schema field name, or "none" when the request never parsed).
func RootField(field string, d time.Duration) {
	rootDuration.WithLabelValues(field).Observe(d.Seconds())
}

// GraphQLError counts a top-level error of code (server-assigned codes
// only; the error presenter sets them).
func GraphQLError(code string) {
	if code == "" || len(code) > 40 {
		code = "other"
	}
	gqlErrors.WithLabelValues(code).Inc()
}

// QueryCost records an operation's requested or actual cost.
func QueryCost(kind string, cost int) { queryCost.WithLabelValues(kind).Observe(float64(cost)) }

// CostRejected counts an operation refused by the cost analysis
// ("max_cost" or "throttled").
func CostRejected(reason string) { costRejections.WithLabelValues(reason).Inc() }

// PaymentFailed counts a payment event that did not pay ("failed" or
// "canceled"; called by internal/orders once per applied event).
func PaymentFailed(kind string) { paymentFailures.WithLabelValues(kind).Inc() }

// CheckoutAbandoned counts a checkout whose reservation expired unpaid.
func CheckoutAbandoned() { checkoutsAbandoned.Inc() }

// CartCreated counts a created cart (called by internal/cart).
func CartCreated() { cartsCreated.Inc() }
