package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"cartograph/internal/seed"
)

// TestZeroTotalOrderNeedsNoPayment: an order that costs nothing (a 100 %
// code with free shipping) is confirmed at checkout — PAID, stock
// committed, the code redeemed — without asking the payment provider,
// which refuses zero-amount intents; a retry with the key replays it. An
// order with anything to pay still gets its PaymentIntent. Provider calls
// are counted by the recording provider.
func TestZeroTotalOrderNeedsNoPayment(t *testing.T) {
	e, rec := moneyEnv(t)
	if err := seed.DemoPricing(context.Background(), e.db.Pool); err != nil {
		t.Fatal(err)
	}
	e.exec(t, `INSERT INTO discounts (shop_id, code, title, kind, value, currency_code)
		SELECT id, 'ALLFREE', 'Everything free', 'PERCENTAGE', 10000, 'USD' FROM shops WHERE handle = 'apparel'`)
	h := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "everyday-canvas-tote", 10, 0)
	checkout := func(t *testing.T, codes []string, key string) (pricedOrder, string) {
		t.Helper()
		c := e.newCart(t, h, v, 2)
		e.cartOp(t, h, "cartDiscountCodesUpdate", setCodes, map[string]any{"c": c, "codes": codes})
		var out pricedCheckoutOut
		for i := 0; i < 2; i++ { // the second is the client's retry with the same key
			r := e.do(t, h, pricingCheckout, map[string]any{"c": c, "k": key, "email": "ada@example.com", "country": "GB", "handle": "international"})
			var got pricedCheckoutOut
			mustData(t, r, &got)
			if got.CheckoutBegin.Order == nil {
				t.Fatalf("checkout %v: %s", codes, r.Data)
			}
			if i == 1 && got.CheckoutBegin.Order.ID != out.CheckoutBegin.Order.ID {
				t.Fatalf("the retry placed another order: %s then %s", out.CheckoutBegin.Order.ID, got.CheckoutBegin.Order.ID)
			}
			out = got
		}
		o := *out.CheckoutBegin.Order
		var status, intent string
		if err := e.db.Pool.QueryRow(context.Background(), `SELECT status, coalesce(payment_intent_id, '') FROM orders WHERE id = $1`,
			strings.TrimPrefix(o.ID, "gid://cartograph/Order/")).Scan(&status, &intent); err != nil {
			t.Fatal(err)
		}
		return o, status + " " + intent
	}

	t.Run("FreeOrderIsPaidWithoutTheProvider", func(t *testing.T) {
		before := rec.Calls("payment_intents")
		o, state := checkout(t, []string{"ALLFREE", "FREESHIP"}, "free-order-1")
		if o.TotalPrice.Amount != "0.0" && o.TotalPrice.Amount != "0.00" {
			b, _ := json.Marshal(o)
			t.Fatalf("total %s, want 0: %s", o.TotalPrice.Amount, b)
		}
		if state != "PAID " {
			t.Fatalf("order is %q, want PAID with no intent", state)
		}
		if n := rec.Calls("payment_intents") - before; n != 0 {
			t.Fatalf("%d PaymentIntents created for a free order", n)
		}
		onHand, reserved, states := e.stockOf(t, paidOrder{GID: o.ID, ID: strings.TrimPrefix(o.ID, "gid://cartograph/Order/")})
		if onHand != -2 || reserved != 0 || states != "committed" {
			t.Fatalf("stock of the free order: on_hand %+d reserved %+d reservations %q", onHand, reserved, states)
		}
		if n := e.count(t, `SELECT count(*)::int FROM discount_redemptions r JOIN discounts d ON d.shop_id = r.shop_id AND d.id = r.discount_id
			WHERE d.code = 'ALLFREE' AND r.order_id = $1 AND r.released_at IS NULL`, strings.TrimPrefix(o.ID, "gid://cartograph/Order/")); n != 1 {
			t.Fatalf("ALLFREE redeemed %d times by the free order", n)
		}
	})
	t.Run("OrderWithSomethingToPayGetsAnIntent", func(t *testing.T) {
		before := rec.Calls("payment_intents")
		o, state := checkout(t, []string{"FREESHIP"}, "paid-order-1")
		if o.TotalPrice.Amount == "0.0" || !strings.HasPrefix(state, "PENDING_PAYMENT pi_rec_") || rec.Calls("payment_intents")-before != 1 {
			t.Fatalf("total %s, state %q, %d intents", o.TotalPrice.Amount, state, rec.Calls("payment_intents")-before)
		}
	})
}
