package server_test

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"cartograph/internal/config"
)

// scrape returns /metrics as series -> value ("name{labels}" as exported).
func (e *env) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	code, body, _ := e.get(t, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsAfterPurchase walks the funnel — carts, checkouts, a declined
// attempt then a payment, an abandoned checkout, an OUT_OF_STOCK
// reservation, a cost refusal — and asserts each counter moved by exactly
// what happened, plus the latency, cost and pool series the alert rules
// (deploy/prometheus) use.
func TestMetricsAfterPurchase(t *testing.T) {
	e := newEnvWith(t, 0, func(c *config.Config) { c.ReservationTTL = 300 * time.Millisecond; c.MaxQueryCost = 200 })
	h := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "cashmere-beanie", 6, 0)
	before := e.scrape(t)

	_, paid := e.checkout(t, h, e.newCart(t, h, v, 3), "m-paid")
	if paid.CheckoutBegin.Order == nil {
		t.Fatalf("checkout: %+v", paid)
	}
	intent, shopID, orderID := e.intentOf(t, paid.CheckoutBegin.Order.ID)
	if got := e.deliver(t, stripeEvent("evt_m_fail", "payment_intent.payment_failed", intent, shopID, orderID), testWebhookSecret, time.Now(), false); got != 200 {
		t.Fatalf("failed webhook %d", got)
	}
	if got := e.deliver(t, stripeEvent("evt_m_ok", "payment_intent.succeeded", intent, shopID, orderID), testWebhookSecret, time.Now(), false); got != 200 {
		t.Fatalf("paid webhook %d", got)
	}
	// A replayed event must not count twice.
	e.deliver(t, stripeEvent("evt_m_fail", "payment_intent.payment_failed", intent, shopID, orderID), testWebhookSecret, time.Now(), false)

	_, left := e.checkout(t, h, e.newCart(t, h, v, 2), "m-left")
	if left.CheckoutBegin.Order == nil {
		t.Fatalf("checkout: %+v", left)
	}
	time.Sleep(400 * time.Millisecond)
	if n, err := e.app.Orders.SweepExpired(context.Background(), 10); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}

	_, oos := e.checkout(t, h, e.newCart(t, h, v, 5), "m-oos") // 3 left
	if ues := oos.CheckoutBegin.UserErrors; len(ues) != 1 || ues[0].Code != "OUT_OF_STOCK" {
		t.Fatalf("want OUT_OF_STOCK, got %+v", oos)
	}
	if r := e.do(t, h, `query BigListing { products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }`, nil); r.code() != "MAX_COST_EXCEEDED" {
		t.Fatalf("want MAX_COST_EXCEEDED, got %+v", r.Errors)
	}
	// With the storefront key: the anonymous per-IP bucket in the shared
	// Redis may be spent by an earlier test's low limit.
	if r := e.do(t, h, `query MetricsListing { products(first: 2) { nodes { title } } }`, nil); r.code() != "" {
		t.Fatalf("listing: %+v", r.Errors)
	}

	after := e.scrape(t)
	for series, want := range map[string]float64{
		"cartograph_carts_created_total":                                                         3,
		"cartograph_checkouts_begun_total":                                                       2,
		"cartograph_orders_paid_total":                                                           1,
		`cartograph_payment_failures_total{kind="failed"}`:                                       1,
		"cartograph_checkouts_abandoned_total":                                                   1,
		"cartograph_reservation_out_of_stock_total":                                              1,
		`cartograph_cost_rejections_total{reason="max_cost"}`:                                    1,
		`cartograph_graphql_errors_total{code="MAX_COST_EXCEEDED"}`:                              1,
		`cartograph_root_field_duration_seconds_count{field="checkoutBegin"}`:                    3,
		`cartograph_root_field_duration_seconds_count{field="products"}`:                         1, // the refused one is priced before the observer runs: field="none"
		`cartograph_requests_total{operation="MetricsListing",principal="api_key",status="200"}`: 1,
	} {
		if got := after[series] - before[series]; got != want {
			t.Errorf("%s moved by %v, want %v", series, got, want)
		}
	}
	if after[`cartograph_query_cost_count{kind="requested"}`] <= before[`cartograph_query_cost_count{kind="requested"}`] ||
		after[`cartograph_query_cost_count{kind="actual"}`] <= before[`cartograph_query_cost_count{kind="actual"}`] {
		t.Error("query cost histogram did not move")
	}
	if after["cartograph_sql_statements_total"] <= before["cartograph_sql_statements_total"] {
		t.Error("SQL statements did not move")
	}
	if after[`cartograph_db_pool_connections{state="max"}`] < 1 || after[`cartograph_db_pool_connections{state="total"}`] < 1 {
		t.Errorf("pool gauges missing: max %v total %v", after[`cartograph_db_pool_connections{state="max"}`], after[`cartograph_db_pool_connections{state="total"}`])
	}
	if _, ok := after["cartograph_ratelimit_fallback"]; !ok {
		t.Error("fallback gauge missing")
	}
}
