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
)

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		requests, duration, sqlStatements, redisErrors, limiterFallback, rateLimited, checkouts, ordersPaid, outOfStock)
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
