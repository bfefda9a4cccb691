package server_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"cartograph/internal/config"
)

// crashEnv is a gateway on the recording provider with a short
// idempotency lease, so a retry may take over a crashed request quickly.
func crashEnv(t *testing.T) (*env, interface{ Calls(string) int }) {
	t.Helper()
	e, rec := moneyEnvWith(t, func(c *config.Config) { c.IdempotencyLease = 300 * time.Millisecond })
	return e, rec
}

func (e *env) countOrders(t *testing.T, where string, args ...any) int {
	t.Helper()
	var n int
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM orders WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCheckoutCrashBetweenOrderAndPayment: the request dies after the
// order (and its key) committed but before the payment was created; the
// retry with the same key completes that order: one order, one intent,
// stock held once.
func TestCheckoutCrashBetweenOrderAndPayment(t *testing.T) {
	e, rec := crashEnv(t)
	h := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "waxed-canvas-field-jacket", 10, 0)
	cartID := e.newCart(t, h, v, 3)
	var crashes atomic.Int32
	crashes.Store(1)
	e.app.Checkout.SetAfterPlaceHook(func() {
		if crashes.Add(-1) >= 0 {
			panic("simulated crash between the order's commit and its payment")
		}
	})
	r, out := e.checkout(t, h, cartID, "crash-1")
	if len(r.Errors) == 0 || out.CheckoutBegin.Order != nil {
		t.Fatalf("the crashed attempt answered %+v %s", r.Errors, r.Data)
	}
	if n := e.countOrders(t, "payment_intent_id IS NULL AND status = 'PENDING_PAYMENT'"); n != 1 {
		t.Fatalf("after the crash: %d unpaid orders without a payment, want 1", n)
	}
	var state string
	_ = e.db.Pool.QueryRow(context.Background(), `SELECT state FROM idempotency_keys WHERE key = 'crash-1'`).Scan(&state)
	if state != "running" {
		t.Fatalf("idempotency record %q, want the crashed request's 'running'", state)
	}

	r, out = e.checkout(t, h, cartID, "crash-1")
	if len(r.Errors) > 0 || out.CheckoutBegin.Order == nil || out.CheckoutBegin.Payment == nil || out.CheckoutBegin.Payment.ClientSecret == nil {
		t.Fatalf("retry: %+v %s", r.Errors, r.Data)
	}
	if n := e.countOrders(t, "true"); n != 1 {
		t.Fatalf("%d orders for one cart and one key", n)
	}
	if got := rec.Calls("payment_intents"); got != 1 {
		t.Fatalf("%d payment intents created, want 1", got)
	}
	if _, reserved := e.levels(t, v); reserved != 3 {
		t.Fatalf("reserved %d, want 3 (held once)", reserved)
	}
	// A third attempt replays the stored result.
	_, again := e.checkout(t, h, cartID, "crash-1")
	if again.CheckoutBegin.Order == nil || again.CheckoutBegin.Order.ID != out.CheckoutBegin.Order.ID {
		t.Fatalf("replay: %+v", again.CheckoutBegin)
	}
}

// TestCheckoutProviderOutageResumes: the provider fails (5xx, retried by
// stripe-go and still failing): the order stays awaiting payment, and the
// retry with the same key completes it without a second order.
func TestCheckoutProviderOutageResumes(t *testing.T) {
	e, rec := moneyEnv(t)
	h := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "waxed-canvas-field-jacket", 10, 0)
	cartID := e.newCart(t, h, v, 2)
	var failing atomic.Bool
	failing.Store(true)
	rec.SetFail(func(path string, _ map[string]string) int {
		if path == "/v1/payment_intents" && failing.Load() {
			return 503
		}
		return 0
	})
	if r, out := e.checkout(t, h, cartID, "outage-1"); out.CheckoutBegin.Order != nil || len(r.Errors) == 0 {
		t.Fatalf("checkout during the outage answered %s", r.Data)
	}
	if n := e.countOrders(t, "status = 'PENDING_PAYMENT'"); n != 1 {
		t.Fatalf("%d orders awaiting payment after the outage, want 1", n)
	}
	failing.Store(false)
	r, out := e.checkout(t, h, cartID, "outage-1")
	if out.CheckoutBegin.Order == nil || out.CheckoutBegin.Payment == nil {
		t.Fatalf("retry after the outage: %+v %s", r.Errors, r.Data)
	}
	if n := e.countOrders(t, "true"); n != 1 || rec.Calls("payment_intents") != 1 {
		t.Fatalf("%d orders, %d intents", n, rec.Calls("payment_intents"))
	}
}

// TestCartHasOneLiveOrder: a second checkout of the same cart with another
// key while the first order awaits payment is refused; stock is held once.
func TestCartHasOneLiveOrder(t *testing.T) {
	e := newEnv(t, 0)
	h := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "waxed-canvas-field-jacket", 10, 0)
	cartID := e.newCart(t, h, v, 4)
	if _, out := e.checkout(t, h, cartID, "live-1"); out.CheckoutBegin.Order == nil {
		t.Fatalf("first checkout: %+v", out)
	}
	r, out := e.checkout(t, h, cartID, "live-2")
	if out.CheckoutBegin.Order != nil || len(out.CheckoutBegin.UserErrors) != 1 || out.CheckoutBegin.UserErrors[0].Code != "CHECKOUT_IN_PROGRESS" {
		t.Fatalf("second checkout of the same cart: %s %+v", r.Data, r.Errors)
	}
	if _, reserved := e.levels(t, v); reserved != 4 {
		t.Fatalf("reserved %d, want 4", reserved)
	}
}
