package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"cartograph/internal/config"
	"cartograph/internal/payments"
	"cartograph/internal/testdb"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// moneyEnv is a gateway whose Stripe is a recording provider, so tests can
// count every refund that reached it.
func moneyEnv(t *testing.T) (*env, *testdb.Recorder) { return moneyEnvWith(t, nil) }

func moneyEnvWith(t *testing.T, tune func(*config.Config)) (*env, *testdb.Recorder) {
	t.Helper()
	rec := testdb.StartRecorder(t)
	e := newEnvWith(t, 0, func(c *config.Config) {
		c.StripeAPIBase = rec.URL
		if tune != nil {
			tune(c)
		}
	})
	e.rec = rec
	return e, rec
}

type paidOrder struct {
	GID, ID, ShopID, Intent string
	Total                   int64
	Variant                 string
}

var eventSeq struct {
	sync.Mutex
	n int
}

// payOrder checks out qty units of product and confirms the payment with a
// signed payment_intent.succeeded webhook.
func (e *env) payOrder(t *testing.T, product string, qty int) paidOrder {
	t.Helper()
	h := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", product, 20, 0)
	_, out := e.checkout(t, h, e.newCart(t, h, v, qty), "pay-"+uuid.NewString())
	if out.CheckoutBegin.Order == nil {
		t.Fatalf("checkout: %+v", out)
	}
	p := paidOrder{GID: out.CheckoutBegin.Order.ID, Variant: v}
	p.Intent, p.ShopID, p.ID = e.intentOf(t, p.GID)
	if !strings.HasPrefix(p.Intent, "pi_rec_") {
		t.Fatalf("intent %q was not created by the recording provider", p.Intent)
	}
	if e.rec != nil && !e.rec.Pay(p.Intent) { // the buyer pays at the provider
		t.Fatalf("intent %s could not be paid", p.Intent)
	}
	eventSeq.Lock()
	eventSeq.n++
	evt := fmt.Sprintf("evt_money_%d_%s", eventSeq.n, p.ID)
	eventSeq.Unlock()
	if got := e.deliver(t, stripeEvent(evt, "payment_intent.succeeded", p.Intent, p.ShopID, p.ID), testWebhookSecret, time.Now(), false); got != http.StatusOK {
		t.Fatalf("webhook: %d", got)
	}
	if s := e.orderStatus(t, p.GID); s != "PAID" {
		t.Fatalf("order is %s, want PAID", s)
	}
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT total_amount FROM orders WHERE id = $1`, p.ID).Scan(&p.Total); err != nil {
		t.Fatal(err)
	}
	return p
}

func decimal(minor int64) string { return fmt.Sprintf("%d.%02d", minor/100, minor%100) }

type moneyOut struct {
	Errors     []gqlError
	UserErrors []gqlError
	OK         bool
}

// refundCall runs orderRefund (amount 0: all that is left) or orderCancel.
func (e *env) refundCall(t *testing.T, staff map[string]string, op, orderGID string, amount int64, key string) moneyOut {
	t.Helper()
	var r *gqlResponse
	switch op {
	case "refund":
		vars := map[string]any{"id": orderGID, "k": key}
		q := `mutation($id: ID!, $k: String!) { orderRefund(id: $id, reason: "test", idempotencyKey: $k) { order { id } userErrors { field message code } } }`
		if amount > 0 {
			vars["a"] = decimal(amount)
			q = `mutation($id: ID!, $k: String!, $a: Decimal) { orderRefund(id: $id, amount: $a, reason: "test", idempotencyKey: $k) { order { id } userErrors { field message code } } }`
		}
		r = e.do(t, staff, q, vars)
	case "cancel":
		r = e.do(t, staff, `mutation($id: ID!, $k: String!) { orderCancel(id: $id, reason: "test cancel", idempotencyKey: $k) { order { id } userErrors { field message code } } }`,
			map[string]any{"id": orderGID, "k": key})
	}
	out := moneyOut{Errors: r.Errors}
	var d map[string]struct {
		Order      *struct{ ID string }
		UserErrors []gqlError
	}
	if r.Data != nil {
		_ = json.Unmarshal(r.Data, &d)
	}
	for _, v := range d {
		out.UserErrors = v.UserErrors
		out.OK = v.Order != nil && len(v.UserErrors) == 0 && len(r.Errors) == 0
	}
	return out
}

// books checks that the provider, the refunds table and the order agree:
// provider total = Σ succeeded refunds = orders.refunded_amount ≤ total,
// and nothing is left pending. It returns the refunded amount.
func (e *env) books(t *testing.T, rec *testdb.Recorder, p paidOrder) int64 {
	t.Helper()
	ctx := context.Background()
	var refunded, succeeded, pending int64
	if err := e.db.Pool.QueryRow(ctx, `SELECT o.refunded_amount,
		coalesce((SELECT sum(amount) FROM refunds r WHERE r.order_id = o.id AND r.state = 'succeeded'), 0),
		coalesce((SELECT sum(amount) FROM refunds r WHERE r.order_id = o.id AND r.state = 'pending'), 0)
		FROM orders o WHERE o.id = $1`, p.ID).Scan(&refunded, &succeeded, &pending); err != nil {
		t.Fatal(err)
	}
	provider := rec.RefundedTotal(p.Intent)
	if provider != refunded || succeeded != refunded || pending != 0 || refunded > p.Total {
		t.Fatalf("books disagree: provider %d, succeeded rows %d, order refunded %d, pending %d, total %d", provider, succeeded, refunded, pending, p.Total)
	}
	return refunded
}

func TestConcurrentFullRefundsPayOnce(t *testing.T) {
	e, rec := moneyEnv(t)
	rec.SetDelay(20 * time.Millisecond)
	staff := e.staff(t, "apparel")
	p := e.payOrder(t, "cashmere-beanie", 2)
	outs := make([]moneyOut, 8)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Go(func() { outs[i] = e.refundCall(t, staff, "refund", p.GID, 0, fmt.Sprintf("full-%d", i)) })
	}
	wg.Wait()
	ok, userErrs := 0, 0
	for _, o := range outs {
		switch {
		case o.OK:
			ok++
		case len(o.UserErrors) > 0 && len(o.Errors) == 0:
			userErrs++
		default:
			t.Fatalf("unexpected outcome %+v", o)
		}
	}
	if ok != 1 || userErrs != 7 {
		t.Fatalf("%d succeeded, %d user errors (want 1, 7)", ok, userErrs)
	}
	if got := rec.Refunds(); len(got) != 1 || got[0].Amount != p.Total || rec.Attempts("/v1/refunds") != 1 {
		t.Fatalf("provider refunds %+v, want one of %d", got, p.Total)
	}
	if s := e.orderStatus(t, p.GID); s != "REFUNDED" {
		t.Fatalf("order is %s", s)
	}
	if e.books(t, rec, p) != p.Total {
		t.Fatal("not fully refunded")
	}
}

func TestConcurrentPartialRefundsNeverExceedWhatIsLeft(t *testing.T) {
	e, rec := moneyEnv(t)
	rec.SetDelay(20 * time.Millisecond)
	staff := e.staff(t, "apparel")
	p := e.payOrder(t, "cashmere-beanie", 2)
	part := p.Total * 60 / 100
	outs := make([]moneyOut, 5)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Go(func() { outs[i] = e.refundCall(t, staff, "refund", p.GID, part, fmt.Sprintf("part-%d", i)) })
	}
	wg.Wait()
	ok := 0
	for _, o := range outs {
		if o.OK {
			ok++
		} else if len(o.UserErrors) == 0 {
			t.Fatalf("loser got no user error: %+v", o)
		}
	}
	if ok != 1 || rec.Calls("refunds") != 1 || rec.Attempts("/v1/refunds") != 1 {
		t.Fatalf("%d succeeded, %d provider refunds, %d attempts (want 1, 1, 1)", ok, rec.Calls("refunds"), rec.Attempts("/v1/refunds"))
	}
	if s := e.orderStatus(t, p.GID); s != "PARTIALLY_REFUNDED" {
		t.Fatalf("order is %s", s)
	}
	if got := e.books(t, rec, p); got != part {
		t.Fatalf("refunded %d, want %d", got, part)
	}
}

func TestCancelsRacingRefundsPayAtMostTheTotal(t *testing.T) {
	e, rec := moneyEnv(t)
	rec.SetDelay(20 * time.Millisecond)
	staff := e.staff(t, "apparel")
	p := e.payOrder(t, "cashmere-beanie", 3)
	onHandPaid, _ := e.levels(t, p.Variant)
	ops := []string{"cancel", "refund", "cancel", "refund"}
	outs := make([]moneyOut, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Go(func() { outs[i] = e.refundCall(t, staff, op, p.GID, 0, fmt.Sprintf("race-%d", i)) })
	}
	wg.Wait()
	ok := 0
	for _, o := range outs {
		if o.OK {
			ok++
		}
	}
	if ok != 1 || rec.Calls("refunds") != 1 || rec.Attempts("/v1/refunds") != 1 {
		t.Fatalf("%d succeeded, %d provider refunds, %d attempts (want 1, 1, 1): %+v", ok, rec.Calls("refunds"), rec.Attempts("/v1/refunds"), outs)
	}
	if e.books(t, rec, p) != p.Total {
		t.Fatal("not fully refunded")
	}
	onHand, reserved := e.levels(t, p.Variant)
	switch s := e.orderStatus(t, p.GID); s {
	case "CANCELLED":
		if onHand != onHandPaid+3 || reserved != 0 {
			t.Fatalf("cancelled but stock %d/%d (paid: %d)", onHand, reserved, onHandPaid)
		}
	case "REFUNDED":
		if onHand != onHandPaid || reserved != 0 {
			t.Fatalf("refunded but stock moved: %d/%d (paid: %d)", onHand, reserved, onHandPaid)
		}
	default:
		t.Fatalf("order is %s", s)
	}
}

func TestRefundProviderFailure(t *testing.T) {
	e, rec := moneyEnv(t)
	staff := e.staff(t, "apparel")
	p := e.payOrder(t, "cashmere-beanie", 1)
	t.Run("ErrProviderRefusedLeavesOrderPaid", func(t *testing.T) {
		rec.SetFail(func(path string, _ map[string]string) int {
			if path == "/v1/refunds" {
				return http.StatusBadRequest
			}
			return 0
		})
		defer rec.SetFail(nil)
		o := e.refundCall(t, staff, "refund", p.GID, 0, "fail-1")
		if o.OK || len(o.Errors) == 0 {
			t.Fatalf("refused refund reported %+v", o)
		}
		if s := e.orderStatus(t, p.GID); s != "PAID" {
			t.Fatalf("order is %s", s)
		}
		var failed int
		_ = e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM refunds WHERE order_id = $1 AND state = 'failed'`, p.ID).Scan(&failed)
		if failed != 1 || rec.Calls("refunds") != 0 {
			t.Fatalf("%d failed rows, %d provider refunds", failed, rec.Calls("refunds"))
		}
		e.books(t, rec, p)
	})
	t.Run("RetryWithTheSameKeySucceeds", func(t *testing.T) {
		if o := e.refundCall(t, staff, "refund", p.GID, 0, "fail-1"); !o.OK {
			t.Fatalf("retry: %+v", o)
		}
		if s := e.orderStatus(t, p.GID); s != "REFUNDED" || rec.Calls("refunds") != 1 {
			t.Fatalf("order %s, %d provider refunds", s, rec.Calls("refunds"))
		}
		e.books(t, rec, p)
	})
}

// TestResumeRefundsAfterCrash simulates an instance that died after
// recording a refund: before the provider call, and after it but before
// the confirmation. The recovery pass must finish both with exactly one
// provider refund each.
func TestResumeRefundsAfterCrash(t *testing.T) {
	e, rec := moneyEnv(t)
	ctx := context.Background()
	// pending records a refund row as step 1 of the flow would.
	pending := func(t *testing.T, p paidOrder, amount int64) string {
		id := uuid.Must(uuid.NewV7()).String()
		if _, err := e.db.Pool.Exec(ctx, `INSERT INTO refunds (shop_id, order_id, id, amount, target_status, provider, provider_key, reason, actor)
			VALUES ($1, $2, $3::uuid, $4, 'REFUNDED', 'stripe', 'refund-' || $3::text, 'crash test', 'test')`, p.ShopID, p.ID, id, amount); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.Pool.Exec(ctx, `INSERT INTO refund_queue (shop_id, refund_id, due_at) VALUES ($1, $2, now() - interval '1 hour')`, p.ShopID, id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	t.Run("CrashBeforeProviderCall", func(t *testing.T) {
		p := e.payOrder(t, "cashmere-beanie", 1)
		pending(t, p, p.Total)
		// While it is pending, its amount is reserved.
		if o := e.refundCall(t, e.staff(t, "apparel"), "refund", p.GID, 0, "while-pending"); o.OK {
			t.Fatal("a refund beyond the reserved amount was accepted")
		}
		n, err := e.app.Orders.ResumeRefunds(ctx, 0, 10)
		if err != nil || n != 1 {
			t.Fatalf("resume: %d %v", n, err)
		}
		if s := e.orderStatus(t, p.GID); s != "REFUNDED" || len(rec.Refunds()) != 1 {
			t.Fatalf("order %s, provider refunds %+v", s, rec.Refunds())
		}
		e.books(t, rec, p)
	})
	t.Run("CrashAfterProviderCallBeforeConfirm", func(t *testing.T) {
		before := rec.Calls("refunds")
		p := e.payOrder(t, "cashmere-beanie", 1)
		part := p.Total / 2
		id := pending(t, p, part)
		// The dead instance's provider call went through.
		if _, err := payments.NewStripe("sk_test_cartograph", rec.URL).Refund(ctx, p.Intent, part, "refund-"+id); err != nil {
			t.Fatal(err)
		}
		n, err := e.app.Orders.ResumeRefunds(ctx, 0, 10)
		if err != nil || n != 1 {
			t.Fatalf("resume: %d %v", n, err)
		}
		if n, _ := e.app.Orders.ResumeRefunds(ctx, 0, 10); n != 0 {
			t.Fatalf("second pass settled %d more", n)
		}
		if got := rec.Calls("refunds") - before; got != 1 {
			t.Fatalf("%d provider refunds for one recorded refund", got)
		}
		if s := e.orderStatus(t, p.GID); s != "PARTIALLY_REFUNDED" {
			t.Fatalf("order %s", s)
		}
		if e.books(t, rec, p) != part {
			t.Fatal("wrong refunded amount")
		}
	})
	t.Run("RefundsAreTenantIsolated", func(t *testing.T) {
		var apparel, electronics string
		_ = e.db.Pool.QueryRow(ctx, `SELECT id::text FROM shops WHERE handle = 'apparel'`).Scan(&apparel)
		_ = e.db.Pool.QueryRow(ctx, `SELECT id::text FROM shops WHERE handle = 'electronics'`).Scan(&electronics)
		for shop, wantSome := range map[string]bool{apparel: true, electronics: false, "": false} {
			var n int
			err := pgx.BeginFunc(ctx, e.db.App, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `SELECT set_config('app.shop_id', $1, true)`, shop); err != nil {
					return err
				}
				return tx.QueryRow(ctx, `SELECT count(*) FROM refunds`).Scan(&n)
			})
			if err != nil || (n > 0) != wantSome {
				t.Fatalf("app sees %d refunds with app.shop_id=%q (%v)", n, shop, err)
			}
		}
	})
	t.Run("RecentPendingRefundIsLeftToItsOwner", func(t *testing.T) {
		p := e.payOrder(t, "cashmere-beanie", 1)
		id := pending(t, p, p.Total)
		if _, err := e.db.Pool.Exec(ctx, `UPDATE refund_queue SET due_at = now() WHERE refund_id = $1`, id); err != nil {
			t.Fatal(err)
		}
		if n, err := e.app.Orders.ResumeRefunds(ctx, time.Minute, 10); err != nil || n != 0 {
			t.Fatalf("resumed a fresh refund: %d %v", n, err)
		}
	})
}

// TestPaymentEventsConverge: events that arrive late or for a closed order
// never keep money for it and never undo a payment.
func TestPaymentEventsConverge(t *testing.T) {
	e, rec := moneyEnvWith(t, func(c *config.Config) { c.ReservationTTL = 300 * time.Millisecond })
	ctx := context.Background()
	h := e.storefront(t, "apparel")
	t.Run("LatePaymentFailedNeverMovesAPaidOrder", func(t *testing.T) {
		p := e.payOrder(t, "cashmere-beanie", 2)
		onHand, _ := e.levels(t, p.Variant)
		if got := e.deliver(t, stripeEvent("evt_late_fail_"+p.ID, "payment_intent.payment_failed", p.Intent, p.ShopID, p.ID), testWebhookSecret, time.Now(), false); got != 200 {
			t.Fatalf("webhook %d", got)
		}
		if s := e.orderStatus(t, p.GID); s != "PAID" {
			t.Fatalf("late payment_failed moved a paid order to %s", s)
		}
		if now, res := e.levels(t, p.Variant); now != onHand || res != 0 {
			t.Fatalf("stock moved: %d/%d (was %d/0)", now, res, onHand)
		}
		if rec.RefundedTotal(p.Intent) != 0 {
			t.Fatal("refunded a paid order")
		}
	})
	closed := func(t *testing.T, close func(t *testing.T, orderGID string), want string) {
		v := e.stock(t, "apparel", "everyday-canvas-tote", 5, 0)
		_, out := e.checkout(t, h, e.newCart(t, h, v, 2), "late-"+uuid.NewString())
		if out.CheckoutBegin.Order == nil {
			t.Fatalf("checkout: %+v", out)
		}
		p := paidOrder{GID: out.CheckoutBegin.Order.ID}
		p.Intent, p.ShopID, p.ID = e.intentOf(t, p.GID)
		_ = e.db.Pool.QueryRow(ctx, `SELECT total_amount FROM orders WHERE id = $1`, p.ID).Scan(&p.Total)
		close(t, p.GID)
		if s := e.orderStatus(t, p.GID); s != want {
			t.Fatalf("order is %s, want %s", s, want)
		}
		for _, evt := range []string{"evt_a_" + p.ID, "evt_a_" + p.ID, "evt_b_" + p.ID} { // a duplicate and a second event
			if got := e.deliver(t, stripeEvent(evt, "payment_intent.succeeded", p.Intent, p.ShopID, p.ID), testWebhookSecret, time.Now(), false); got != 200 {
				t.Fatalf("webhook %d", got)
			}
		}
		if s := e.orderStatus(t, p.GID); s != want {
			t.Fatalf("late payment moved the order to %s", s)
		}
		if got := rec.RefundedTotal(p.Intent); got != p.Total {
			t.Fatalf("provider refunded %d of a late payment of %d", got, p.Total)
		}
		if e.books(t, rec, p) != p.Total {
			t.Fatal("books")
		}
		if onHand, res := e.levels(t, v); onHand != 5 || res != 0 {
			t.Fatalf("stock after a refunded late payment: %d/%d", onHand, res)
		}
		var noted int
		_ = e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM order_events WHERE order_id = $1 AND note LIKE '%refunded automatically%'`, p.ID).Scan(&noted)
		if noted != 1 {
			t.Fatalf("%d timeline events for the automatic refund", noted)
		}
	}
	t.Run("SucceededAfterExpiryIsRefunded", func(t *testing.T) {
		closed(t, func(t *testing.T, _ string) {
			time.Sleep(400 * time.Millisecond)
			if n, err := e.app.Orders.SweepExpired(ctx, 10); err != nil || n != 1 {
				t.Fatalf("sweep: %d %v", n, err)
			}
		}, "EXPIRED")
	})
	t.Run("SucceededAfterCancelIsRefunded", func(t *testing.T) {
		closed(t, func(t *testing.T, gid string) {
			if o := e.refundCall(t, e.staff(t, "apparel"), "cancel", gid, 0, "cx-"+uuid.NewString()); !o.OK {
				t.Fatalf("cancel: %+v", o)
			}
		}, "CANCELLED")
	})
}
