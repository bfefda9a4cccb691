package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cartograph/internal/config"
	"cartograph/internal/payments"
)

func TestCart(t *testing.T) {
	e := newEnv(t, 0)
	h := e.storefront(t, "apparel")
	tee := e.stock(t, "apparel", "merino-crew-tee", 30, 0)
	beanie := e.stock(t, "apparel", "cashmere-beanie", 5, 0)

	t.Run("PricedOnTheServer", func(t *testing.T) {
		id := e.newCart(t, h, tee, 2)
		var out struct {
			CartLinesAdd struct {
				Cart struct {
					TotalQuantity int
					CheckoutURL   string
					Cost          struct {
						SubtotalAmount, TotalAmount struct{ Amount, CurrencyCode string }
					}
					Lines struct {
						Edges []struct {
							Node struct {
								ID       string
								Quantity int
								Cost     struct{ TotalAmount struct{ Amount string } }
								Merch    struct {
									ID                string
									Price             struct{ Amount string }
									QuantityAvailable int
									Product           struct{ Handle string }
								} `json:"merchandise"`
							}
						}
					}
				}
				UserErrors []gqlError
			}
		}
		mustData(t, e.do(t, h, `mutation($c: ID!, $v: ID!) { cartLinesAdd(cartId: $c, lines: [{merchandiseId: $v, quantity: 1}]) {
			cart { totalQuantity checkoutUrl cost { subtotalAmount { amount currencyCode } totalAmount { amount currencyCode } }
				lines(first: 10) { edges { node { id quantity cost { totalAmount { amount } }
					merchandise { ... on ProductVariant { id price { amount } quantityAvailable product { handle } } } } } } }
			userErrors { field message code } } }`, map[string]any{"c": id, "v": beanie}), &out)
		c := out.CartLinesAdd.Cart
		if c.TotalQuantity != 3 || len(c.Lines.Edges) != 2 || !strings.Contains(c.CheckoutURL, "apparel.localhost") {
			t.Fatalf("cart: %+v", c)
		}
		var want int64
		for _, ed := range c.Lines.Edges {
			var unit, total int64
			fmt.Sscanf(strings.Replace(ed.Node.Merch.Price.Amount, ".", "", 1), "%d", &unit)
			fmt.Sscanf(strings.Replace(ed.Node.Cost.TotalAmount.Amount, ".", "", 1), "%d", &total)
			if total != unit*int64(ed.Node.Quantity) {
				t.Fatalf("line total %d != %d x %d", total, unit, ed.Node.Quantity)
			}
			want += total
		}
		var sub int64
		fmt.Sscanf(strings.Replace(c.Cost.TotalAmount.Amount, ".", "", 1), "%d", &sub)
		if sub != want || c.Cost.TotalAmount.CurrencyCode != "USD" {
			t.Fatalf("cart total %s, lines sum to %d", c.Cost.TotalAmount.Amount, want)
		}
	})

	t.Run("ErrBadLines", func(t *testing.T) {
		id := e.newCart(t, h, tee, 1)
		var draft string
		_ = e.db.Pool.QueryRow(context.Background(), `SELECT 'gid://cartograph/ProductVariant/' || v.id FROM variants v JOIN products p ON p.id = v.product_id WHERE p.handle = 'recycled-fleece-pullover' LIMIT 1`).Scan(&draft)
		var otherShop string
		_ = e.db.Pool.QueryRow(context.Background(), `SELECT 'gid://cartograph/ProductVariant/' || v.id FROM variants v JOIN shops s ON s.id = v.shop_id WHERE s.handle = 'electronics' LIMIT 1`).Scan(&otherShop)
		for name, c := range map[string]struct {
			v    string
			q    int
			code string
		}{
			"ErrZeroQuantity":     {tee, 0, "INVALID"},
			"ErrNegative":         {tee, -3, "INVALID"},
			"ErrOverMax":          {tee, 101, "INVALID"},
			"ErrDraftProduct":     {draft, 1, "INVALID_MERCHANDISE_LINE"},
			"ErrOtherShopVariant": {otherShop, 1, "INVALID_MERCHANDISE_LINE"},
		} {
			t.Run(name, func(t *testing.T) {
				var out struct {
					CartLinesAdd struct {
						Cart       *struct{ TotalQuantity int }
						UserErrors []struct{ Code string }
					}
				}
				mustData(t, e.do(t, h, `mutation($c: ID!, $v: ID!, $q: Int) { cartLinesAdd(cartId: $c, lines: [{merchandiseId: $v, quantity: $q}]) { cart { totalQuantity } userErrors { code } } }`,
					map[string]any{"c": id, "v": c.v, "q": c.q}), &out)
				if len(out.CartLinesAdd.UserErrors) == 0 || out.CartLinesAdd.UserErrors[0].Code != c.code {
					t.Fatalf("want %s, got %+v", c.code, out.CartLinesAdd)
				}
			})
		}
		var q struct{ Cart struct{ TotalQuantity int } }
		mustData(t, e.do(t, h, `query($c: ID!) { cart(id: $c) { totalQuantity } }`, map[string]any{"c": id}), &q)
		if q.Cart.TotalQuantity != 1 {
			t.Fatalf("rejected lines changed the cart: %d", q.Cart.TotalQuantity)
		}
	})

	t.Run("OtherShopsCartIsNotFound", func(t *testing.T) {
		id := e.newCart(t, h, tee, 1)
		he := e.storefront(t, "electronics")
		r := e.do(t, he, `query($c: ID!) { cart(id: $c) { id } }`, map[string]any{"c": id})
		if len(r.Errors) != 0 || string(r.Data) != `{"cart":null}` {
			t.Fatalf("electronics read apparel's cart: %s %+v", r.Data, r.Errors)
		}
		r = e.do(t, he, `mutation($c: ID!, $v: ID!) { cartLinesAdd(cartId: $c, lines: [{merchandiseId: $v}]) { cart { id } } }`, map[string]any{"c": id, "v": tee})
		if r.code() != "NOT_FOUND" {
			t.Fatalf("electronics changed apparel's cart: %+v", r.Errors)
		}
	})

	t.Run("UpdateAndRemove", func(t *testing.T) {
		id := e.newCart(t, h, tee, 2)
		line := strings.Replace(tee, "ProductVariant", "CartLine", 1)
		var out struct {
			CartLinesUpdate struct{ Cart struct{ TotalQuantity int } }
		}
		mustData(t, e.do(t, h, `mutation($c: ID!, $l: ID!) { cartLinesUpdate(cartId: $c, lines: [{id: $l, quantity: 7}]) { cart { totalQuantity } } }`, map[string]any{"c": id, "l": line}), &out)
		if out.CartLinesUpdate.Cart.TotalQuantity != 7 {
			t.Fatalf("update: %+v", out)
		}
		var rm struct {
			CartLinesRemove struct{ Cart struct{ TotalQuantity int } }
		}
		mustData(t, e.do(t, h, `mutation($c: ID!, $l: ID!) { cartLinesRemove(cartId: $c, lineIds: [$l]) { cart { totalQuantity } } }`, map[string]any{"c": id, "l": line}), &rm)
		if rm.CartLinesRemove.Cart.TotalQuantity != 0 {
			t.Fatalf("remove: %+v", rm)
		}
	})

	t.Run("ConcurrentAddsAllCount", func(t *testing.T) {
		id := e.newCart(t, h, beanie, 1)
		line := strings.Replace(tee, "ProductVariant", "CartLine", 1)
		var wg sync.WaitGroup
		var failed atomic.Int32
		for i := 0; i < 50; i++ {
			wg.Go(func() {
				r := e.do(t, h, `mutation($c: ID!, $v: ID!) { cartLinesAdd(cartId: $c, lines: [{merchandiseId: $v, quantity: 1}]) { userErrors { code } } }`, map[string]any{"c": id, "v": tee})
				if len(r.Errors) > 0 || strings.Contains(string(r.Data), "code") {
					failed.Add(1)
				}
			})
		}
		wg.Wait()
		var q struct {
			Cart struct {
				Lines struct {
					Nodes []struct {
						ID       string
						Quantity int
					}
				}
			}
		}
		mustData(t, e.do(t, h, `query($c: ID!) { cart(id: $c) { lines(first: 10) { nodes { id quantity } } } }`, map[string]any{"c": id}), &q)
		got := 0
		for _, n := range q.Cart.Lines.Nodes {
			if strings.HasPrefix(n.ID, line+"?cart=") {
				got = n.Quantity
			}
		}
		if got != 50 || failed.Load() != 0 {
			t.Fatalf("50 concurrent adds of 1 left quantity %d (%d failed)", got, failed.Load())
		}
	})

	t.Run("GuestCartMergesIntoCustomersCart", func(t *testing.T) {
		e.register(t, "apparel", "merge@example.com", "password-merge-1")
		tok, _ := e.customerLogin(t, "apparel", "merge@example.com", "password-merge-1")
		ch := map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + tok}
		mine := e.newCart(t, ch, tee, 2) // created while logged in: attached
		guest := e.newCart(t, h, tee, 3)
		var out struct {
			CartBuyerIdentityUpdate struct {
				Cart struct {
					ID            string
					TotalQuantity int
					BuyerIdentity struct{ Email string }
				}
			}
		}
		mustData(t, e.do(t, ch, `mutation($c: ID!) { cartBuyerIdentityUpdate(cartId: $c, buyerIdentity: {email: "merge@example.com"}) { cart { id totalQuantity buyerIdentity { email } } } }`, map[string]any{"c": guest}), &out)
		c := out.CartBuyerIdentityUpdate.Cart
		if c.ID != mine || c.TotalQuantity != 5 {
			t.Fatalf("want guest lines merged into %s with 5 units, got %+v", mine, c)
		}
		r := e.do(t, h, `query($c: ID!) { cart(id: $c) { id } }`, map[string]any{"c": guest})
		if string(r.Data) != `{"cart":null}` {
			t.Fatalf("guest cart survived the merge: %s", r.Data)
		}
	})

	t.Run("ErrAnonymousCannotUseCarts", func(t *testing.T) {
		r := e.do(t, map[string]string{"X-Shop-Handle": "apparel"}, `mutation { cartCreate { cart { id } } }`, nil)
		if r.code() != "UNAUTHENTICATED" {
			t.Fatalf("got %+v", r.Errors)
		}
	})
}

func TestCheckoutNeverOversells(t *testing.T) {
	for name, stock := range map[string][]int{"OneWarehouse": {10, 0}, "TwoWarehouses": {6, 4}} {
		t.Run(name, func(t *testing.T) {
			e := newEnvWith(t, 0, func(c *config.Config) { c.StripeSecretKey = "" }) // manual payments: no network in the hot loop
			h := e.storefront(t, "apparel")
			v := e.stock(t, "apparel", "leather-chelsea-boots", stock...)
			carts := make([]string, 200)
			for i := range carts {
				carts[i] = e.newCart(t, h, v, 1)
			}
			var ok, oos, other atomic.Int32
			var wg sync.WaitGroup
			for i := range carts {
				wg.Go(func() {
					r, out := e.checkout(t, h, carts[i], fmt.Sprintf("k-%d", i))
					switch {
					case len(r.Errors) > 0:
						other.Add(1)
					case out.CheckoutBegin.Order != nil:
						ok.Add(1)
					case len(out.CheckoutBegin.UserErrors) == 1 && out.CheckoutBegin.UserErrors[0].Code == "OUT_OF_STOCK":
						oos.Add(1)
					default:
						other.Add(1)
					}
				})
			}
			wg.Wait()
			if ok.Load() != 10 || oos.Load() != 190 || other.Load() != 0 {
				t.Fatalf("200 checkouts of 10 units: %d orders, %d OUT_OF_STOCK, %d other", ok.Load(), oos.Load(), other.Load())
			}
			onHand, reserved := e.levels(t, v)
			var orders, orderedUnits, reservedUnits int
			vid := strings.TrimPrefix(v, "gid://cartograph/ProductVariant/")
			_ = e.db.Pool.QueryRow(context.Background(), `SELECT count(DISTINCT o.id), coalesce(sum(l.quantity), 0) FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE l.variant_id = $1 AND o.status = 'PENDING_PAYMENT'`, vid).Scan(&orders, &orderedUnits)
			_ = e.db.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(quantity), 0) FROM order_reservations WHERE variant_id = $1 AND state = 'reserved'`, vid).Scan(&reservedUnits)
			if onHand != 10 || reserved != 10 || orders != 10 || orderedUnits != 10 || reservedUnits != 10 {
				t.Fatalf("books disagree: on_hand %d reserved %d orders %d ordered %d reservation rows %d", onHand, reserved, orders, orderedUnits, reservedUnits)
			}
		})
	}
}

func TestCheckoutIdempotency(t *testing.T) {
	e := newEnv(t, 0)
	h := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "waxed-canvas-field-jacket", 50, 0)
	id := e.newCart(t, h, v, 2)
	stripeProvider := e.app.Provider.(*payments.Stripe)
	before := stripeProvider.IntentCreates()
	var wg sync.WaitGroup
	results := make([]checkoutOut, 20)
	for i := range results {
		wg.Go(func() {
			r, out := e.checkout(t, h, id, "same-key-1")
			if len(r.Errors) > 0 {
				t.Errorf("retry %d: %+v", i, r.Errors)
			}
			results[i] = out
		})
	}
	wg.Wait()
	first := results[0].CheckoutBegin
	if first.Order == nil || first.Payment == nil || first.Payment.Provider != "stripe" || first.Payment.ClientSecret == nil {
		t.Fatalf("checkout: %+v", first)
	}
	for i, r := range results {
		if r.CheckoutBegin.Order == nil || r.CheckoutBegin.Order.ID != first.Order.ID || *r.CheckoutBegin.Payment.ClientSecret != *first.Payment.ClientSecret {
			t.Fatalf("retry %d got a different result: %+v", i, r.CheckoutBegin)
		}
	}
	var n int
	_ = e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM orders`).Scan(&n)
	if n != 1 || stripeProvider.IntentCreates()-before != 1 {
		t.Fatalf("20 retries made %d orders and %d payment intents", n, stripeProvider.IntentCreates()-before)
	}
	if _, reserved := e.levels(t, v); reserved != 2 {
		t.Fatalf("reserved %d, want 2", reserved)
	}
	t.Run("ErrKeyReusedForAnotherRequest", func(t *testing.T) {
		r := e.do(t, h, checkoutMutation, map[string]any{"c": id, "k": "same-key-1", "email": "someone-else@example.com"})
		if r.code() != "IDEMPOTENCY_KEY_REUSED" {
			t.Fatalf("got %+v", r.Errors)
		}
	})
	// A pk_ key is shared by every shopper of the storefront: its
	// idempotency keys are namespaced by cart, so two shoppers who both
	// send "same-key-1" get their own orders.
	t.Run("AnotherShoppersSameKeyIsIndependent", func(t *testing.T) {
		other := e.newCart(t, h, v, 1)
		_, out := e.checkout(t, h, other, "same-key-1")
		if out.CheckoutBegin.Order == nil || out.CheckoutBegin.Order.ID == first.Order.ID {
			t.Fatalf("another cart with the same key: %+v", out.CheckoutBegin)
		}
	})
	t.Run("ErrBadInputChangesNothing", func(t *testing.T) {
		r := e.do(t, h, `mutation($c: ID!) { checkoutBegin(input: {cartId: $c, email: "not-an-email", idempotencyKey: "bad-1", shippingAddress: {address1: "x", city: "y", country: "XX"}}) { order { id } userErrors { field code } } }`, map[string]any{"c": id})
		if !strings.Contains(string(r.Data), `"order":null`) || !strings.Contains(string(r.Data), "country") || !strings.Contains(string(r.Data), "email") {
			t.Fatalf("got %s %+v", r.Data, r.Errors)
		}
		var n2 int
		_ = e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM orders WHERE cart_id = $1`, id).Scan(&n2)
		if n2 != 1 {
			t.Fatalf("invalid checkout created an order")
		}
	})
}

func TestStripeWebhook(t *testing.T) {
	e := newEnv(t, 0)
	h := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "cashmere-beanie", 8, 0)
	cartID := e.newCart(t, h, v, 3)
	_, out := e.checkout(t, h, cartID, "wh-1")
	if out.CheckoutBegin.Order == nil {
		t.Fatalf("checkout: %+v", out)
	}
	orderGID := out.CheckoutBegin.Order.ID
	intent, shopID, orderID := e.intentOf(t, orderGID)
	payload := stripeEvent("evt_paid_1", "payment_intent.succeeded", intent, shopID, orderID)

	for name, c := range map[string]struct {
		secret string
		ts     time.Time
		tamper bool
	}{
		"ErrTamperedBody":   {testWebhookSecret, time.Now(), true},
		"ErrWrongSecret":    {"whsec_wrong", time.Now(), false},
		"ErrStaleTimestamp": {testWebhookSecret, time.Now().Add(-time.Hour), false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := e.deliver(t, payload, c.secret, c.ts, c.tamper); got != http.StatusBadRequest {
				t.Fatalf("want 400, got %d", got)
			}
			if s := e.orderStatus(t, orderGID); s != "PENDING_PAYMENT" {
				t.Fatalf("order moved to %s", s)
			}
		})
	}
	t.Run("ErrNoSignature", func(t *testing.T) {
		resp, err := e.srv.Client().Post(e.srv.URL+"/webhooks/stripe", "application/json", strings.NewReader(string(payload)))
		if err != nil || resp.StatusCode != 400 {
			t.Fatalf("unsigned webhook: %v %v", resp.StatusCode, err)
		}
		resp.Body.Close()
	})

	t.Run("FiveConcurrentDeliveriesApplyOnce", func(t *testing.T) {
		var wg sync.WaitGroup
		codes := make([]int, 5)
		for i := range codes {
			wg.Go(func() { codes[i] = e.deliver(t, payload, testWebhookSecret, time.Now(), false) })
		}
		wg.Wait()
		for _, c := range codes {
			if c != 200 {
				t.Fatalf("deliveries answered %v", codes)
			}
		}
		if s := e.orderStatus(t, orderGID); s != "PAID" {
			t.Fatalf("order is %s", s)
		}
		onHand, reserved := e.levels(t, v)
		if onHand != 5 || reserved != 0 {
			t.Fatalf("stock committed wrongly: on_hand %d reserved %d (want 5, 0)", onHand, reserved)
		}
		var paidEvents int
		_ = e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM order_events WHERE order_id = $1 AND to_status = 'PAID'`, orderID).Scan(&paidEvents)
		if paidEvents != 1 {
			t.Fatalf("%d PAID transitions", paidEvents)
		}
		var r struct{ Cart *struct{ ID string } }
		mustData(t, e.do(t, h, `query($c: ID!) { cart(id: $c) { id } }`, map[string]any{"c": cartID}), &r)
		if r.Cart != nil {
			t.Fatal("cart not cleared after payment")
		}
	})

	t.Run("UnknownOrderIsAcknowledged", func(t *testing.T) {
		p := stripeEvent("evt_unknown_1", "payment_intent.succeeded", "pi_nope", shopID, "01a20084-0000-7000-8000-000000000000")
		if got := e.deliver(t, p, testWebhookSecret, time.Now(), false); got != 200 {
			t.Fatalf("want 200, got %d", got)
		}
	})

	// A declined card leaves the intent open for another attempt (Stripe's
	// model): the order keeps its stock; only payment_intent.canceled (or
	// expiry) ends it. The original "cancel on payment_failed" was wrong.
	t.Run("PaymentFailedKeepsTheOrderOpenCanceledReleasesStock", func(t *testing.T) {
		v2 := e.stock(t, "apparel", "trail-running-shorts", 4, 0)
		c2 := e.newCart(t, h, v2, 4)
		_, o2 := e.checkout(t, h, c2, "wh-2")
		if o2.CheckoutBegin.Order == nil {
			t.Fatalf("checkout: %+v", o2)
		}
		in2, s2, id2 := e.intentOf(t, o2.CheckoutBegin.Order.ID)
		if _, res := e.levels(t, v2); res != 4 {
			t.Fatalf("reserved %d", res)
		}
		if got := e.deliver(t, stripeEvent("evt_fail_1", "payment_intent.payment_failed", in2, s2, id2), testWebhookSecret, time.Now(), false); got != 200 {
			t.Fatalf("status %d", got)
		}
		if st := e.orderStatus(t, o2.CheckoutBegin.Order.ID); st != "PENDING_PAYMENT" {
			t.Fatalf("a failed attempt moved the order to %s", st)
		}
		if _, res := e.levels(t, v2); res != 4 {
			t.Fatalf("a failed attempt released stock: reserved %d", res)
		}
		if got := e.deliver(t, stripeEvent("evt_cancel_1", "payment_intent.canceled", in2, s2, id2), testWebhookSecret, time.Now(), false); got != 200 {
			t.Fatalf("status %d", got)
		}
		onHand, res := e.levels(t, v2)
		if e.orderStatus(t, o2.CheckoutBegin.Order.ID) != "CANCELLED" || onHand != 4 || res != 0 {
			t.Fatalf("canceled payment: status %s on_hand %d reserved %d", e.orderStatus(t, o2.CheckoutBegin.Order.ID), onHand, res)
		}
	})
	t.Run("SucceededAfterAFailedAttemptPays", func(t *testing.T) {
		v3 := e.stock(t, "apparel", "trail-running-shorts", 2, 0)
		_, o3 := e.checkout(t, h, e.newCart(t, h, v3, 1), "wh-3")
		if o3.CheckoutBegin.Order == nil {
			t.Fatalf("checkout: %+v", o3)
		}
		in3, s3, id3 := e.intentOf(t, o3.CheckoutBegin.Order.ID)
		e.deliver(t, stripeEvent("evt_fail_3", "payment_intent.payment_failed", in3, s3, id3), testWebhookSecret, time.Now(), false)
		if got := e.deliver(t, stripeEvent("evt_ok_3", "payment_intent.succeeded", in3, s3, id3), testWebhookSecret, time.Now(), false); got != 200 {
			t.Fatalf("status %d", got)
		}
		if st := e.orderStatus(t, o3.CheckoutBegin.Order.ID); st != "PAID" {
			t.Fatalf("retry with another card: order %s, want PAID", st)
		}
	})
}

func TestReservationExpiry(t *testing.T) {
	e := newEnvWith(t, 0, func(c *config.Config) { c.ReservationTTL = 300 * time.Millisecond })
	h := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "everyday-canvas-tote", 3, 0)
	_, out := e.checkout(t, h, e.newCart(t, h, v, 2), "exp-1")
	if out.CheckoutBegin.Order == nil {
		t.Fatalf("checkout: %+v", out)
	}
	if n, err := e.app.Orders.SweepExpired(context.Background(), 10); err != nil || n != 0 {
		t.Fatalf("swept %d before expiry (%v)", n, err)
	}
	time.Sleep(400 * time.Millisecond)
	n, err := e.app.Orders.SweepExpired(context.Background(), 10)
	if err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	onHand, reserved := e.levels(t, v)
	if e.orderStatus(t, out.CheckoutBegin.Order.ID) != "EXPIRED" || onHand != 3 || reserved != 0 {
		t.Fatalf("after expiry: %s on_hand %d reserved %d", e.orderStatus(t, out.CheckoutBegin.Order.ID), onHand, reserved)
	}
	// A late payment for an expired order is acknowledged, not applied.
	intent, shopID, orderID := e.intentOf(t, out.CheckoutBegin.Order.ID)
	if got := e.deliver(t, stripeEvent("evt_late_1", "payment_intent.succeeded", intent, shopID, orderID), testWebhookSecret, time.Now(), false); got != 200 {
		t.Fatalf("late webhook: %d", got)
	}
	if s := e.orderStatus(t, out.CheckoutBegin.Order.ID); s != "EXPIRED" {
		t.Fatalf("expired order became %s", s)
	}
}

func TestFullPurchaseOverHTTP(t *testing.T) {
	e := newEnv(t, 0)
	h := e.storefront(t, "apparel")
	e.stock(t, "apparel", "slim-selvedge-jeans", 10, 10)
	// Browse.
	var p struct {
		Product struct {
			Title    string
			Variants struct {
				Nodes []struct {
					ID    string
					Title string
					Price struct{ Amount string }
				}
			}
		}
	}
	mustData(t, e.do(t, h, `{ product(handle: "slim-selvedge-jeans") { title variants(first: 1) { nodes { id title price { amount } } } } }`, nil), &p)
	variant := p.Product.Variants.Nodes[0]
	// Cart, checkout.
	cartID := e.newCart(t, h, variant.ID, 2)
	_, out := e.checkout(t, h, cartID, "buy-1")
	o := out.CheckoutBegin.Order
	if o == nil || o.Status != "PENDING_PAYMENT" || !strings.HasPrefix(o.Name, "#10") {
		t.Fatalf("checkout: %+v", out)
	}
	// Pay (signed webhook), then fulfil as staff.
	intent, shopID, orderID := e.intentOf(t, o.ID)
	if got := e.deliver(t, stripeEvent("evt_buy_1", "payment_intent.succeeded", intent, shopID, orderID), testWebhookSecret, time.Now(), false); got != 200 {
		t.Fatalf("webhook %d", got)
	}
	staff := e.staff(t, "apparel")
	var f struct {
		OrderFulfill struct {
			Order      struct{ Status string }
			UserErrors []gqlError
		}
	}
	mustData(t, e.do(t, staff, `mutation($id: ID!) { orderFulfill(id: $id, note: "shipped DHL") { order { status } userErrors { message code } } }`, map[string]any{"id": o.ID}), &f)
	if f.OrderFulfill.Order.Status != "FULFILLED" {
		t.Fatalf("fulfil: %+v", f)
	}
	// Rename and reprice the product: the order's snapshot must not move.
	if _, err := e.db.Pool.Exec(context.Background(), `UPDATE products SET title = 'Renamed Jeans' WHERE handle = 'slim-selvedge-jeans'`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Pool.Exec(context.Background(), `UPDATE variants SET price_amount = price_amount * 3, title = 'Other' WHERE id = $1`, strings.TrimPrefix(variant.ID, "gid://cartograph/ProductVariant/")); err != nil {
		t.Fatal(err)
	}
	var ord struct {
		Order struct {
			Status     string
			TotalPrice struct{ Amount string }
			LineItems  []struct {
				Title, VariantTitle string
				Quantity            int
				OriginalUnitPrice   struct{ Amount string }
				Variant             struct{ Price struct{ Amount string } }
			}
			Events []struct{ ToStatus, Actor string }
		}
	}
	mustData(t, e.do(t, staff, `query($id: ID!) { order(id: $id) { status totalPrice { amount } lineItems { title variantTitle quantity originalUnitPrice { amount } variant { price { amount } } } events { toStatus actor } } }`, map[string]any{"id": o.ID}), &ord)
	li := ord.Order.LineItems[0]
	if li.Title != p.Product.Title || li.VariantTitle != variant.Title || li.OriginalUnitPrice.Amount != variant.Price.Amount || li.Quantity != 2 {
		t.Fatalf("snapshot changed: %+v (was %s / %s / %s)", li, p.Product.Title, variant.Title, variant.Price.Amount)
	}
	if li.Variant.Price.Amount == variant.Price.Amount {
		t.Fatal("the current variant price should have changed (test setup)")
	}
	if len(ord.Order.Events) != 3 || ord.Order.Events[1].ToStatus != "PAID" || ord.Order.Events[2].ToStatus != "FULFILLED" {
		t.Fatalf("timeline: %+v", ord.Order.Events)
	}
	t.Run("ErrIllegalTransitionChangesNothing", func(t *testing.T) {
		var c struct {
			OrderMarkPaid struct {
				Order      *struct{ Status string }
				UserErrors []struct{ Code string }
			}
		}
		mustData(t, e.do(t, staff, `mutation($id: ID!) { orderMarkPaid(id: $id) { order { status } userErrors { code } } }`, map[string]any{"id": o.ID}), &c)
		if len(c.OrderMarkPaid.UserErrors) != 1 || e.orderStatus(t, o.ID) != "FULFILLED" {
			t.Fatalf("got %+v, status %s", c, e.orderStatus(t, o.ID))
		}
	})
	t.Run("ErrStorefrontKeyCannotReadOrders", func(t *testing.T) {
		if r := e.do(t, h, `query($id: ID!) { order(id: $id) { id } }`, map[string]any{"id": o.ID}); r.code() != "FORBIDDEN" {
			t.Fatalf("got %+v", r.Errors)
		}
	})
}

func TestManualPaymentsAndRefunds(t *testing.T) {
	e := newEnvWith(t, 0, func(c *config.Config) { c.StripeSecretKey = "" })
	h := e.storefront(t, "apparel")
	staff := e.staff(t, "apparel")
	v := e.stock(t, "apparel", "organic-cotton-hoodie", 5, 0)
	_, out := e.checkout(t, h, e.newCart(t, h, v, 1), "man-1")
	o := out.CheckoutBegin.Order
	if o == nil || out.CheckoutBegin.Payment.Provider != "manual" || out.CheckoutBegin.Payment.ClientSecret != nil {
		t.Fatalf("manual checkout: %+v", out)
	}
	paid := e.do(t, staff, `mutation($id: ID!) { orderMarkPaid(id: $id, note: "bank transfer", idempotencyKey: "mp-1") { order { status } userErrors { code } } }`, map[string]any{"id": o.ID})
	mustData(t, paid, nil)
	if e.orderStatus(t, o.ID) != "PAID" {
		t.Fatalf("mark paid: %s", paid.Data)
	}
	if onHand, res := e.levels(t, v); onHand != 4 || res != 0 {
		t.Fatalf("stock after payment: %d/%d", onHand, res)
	}
	again := e.do(t, staff, `mutation($id: ID!) { orderMarkPaid(id: $id, note: "bank transfer", idempotencyKey: "mp-1") { order { status } userErrors { code } } }`, map[string]any{"id": o.ID})
	if string(again.Data) != string(paid.Data) {
		t.Fatalf("idempotent retry differs: %s vs %s", again.Data, paid.Data)
	}
	part := e.do(t, staff, `mutation($id: ID!) { orderRefund(id: $id, amount: "10.00", reason: "damaged", idempotencyKey: "rf-1") { order { status totalRefunded { amount } } userErrors { code } } }`, map[string]any{"id": o.ID})
	mustData(t, part, nil)
	if e.orderStatus(t, o.ID) != "PARTIALLY_REFUNDED" || !strings.Contains(string(part.Data), `"10.00"`) {
		t.Fatalf("partial refund: %s", part.Data)
	}
	rest := e.do(t, staff, `mutation($id: ID!) { orderRefund(id: $id, idempotencyKey: "rf-2") { order { status } userErrors { code } } }`, map[string]any{"id": o.ID})
	mustData(t, rest, nil)
	if e.orderStatus(t, o.ID) != "REFUNDED" {
		t.Fatalf("full refund: %s", rest.Data)
	}
	over := e.do(t, staff, `mutation($id: ID!) { orderRefund(id: $id, amount: "1.00", idempotencyKey: "rf-3") { userErrors { code } } }`, map[string]any{"id": o.ID})
	if !strings.Contains(string(over.Data), "INVALID") {
		t.Fatalf("refund beyond total accepted: %s", over.Data)
	}
	t.Run("CancellingAPaidOrderRefundsAndRestocks", func(t *testing.T) {
		_, out := e.checkout(t, h, e.newCart(t, h, v, 2), "man-2")
		o2 := out.CheckoutBegin.Order
		mustData(t, e.do(t, staff, `mutation($id: ID!) { orderMarkPaid(id: $id) { userErrors { code } } }`, map[string]any{"id": o2.ID}), nil)
		if onHand, _ := e.levels(t, v); onHand != 2 {
			t.Fatalf("after paying for 2: on_hand %d", onHand)
		}
		r := e.do(t, staff, `mutation($id: ID!) { orderCancel(id: $id, reason: "customer changed mind", idempotencyKey: "cx-1") { order { status totalRefunded { amount } totalPrice { amount } cancelReason } userErrors { code } } }`, map[string]any{"id": o2.ID})
		var c struct {
			OrderCancel struct {
				Order struct {
					Status        string
					TotalRefunded struct{ Amount string }
					TotalPrice    struct{ Amount string }
					CancelReason  string
				}
			}
		}
		mustData(t, r, &c)
		co := c.OrderCancel.Order
		if co.Status != "CANCELLED" || co.TotalRefunded.Amount != co.TotalPrice.Amount || co.CancelReason == "" {
			t.Fatalf("cancel: %+v", co)
		}
		if onHand, res := e.levels(t, v); onHand != 4 || res != 0 {
			t.Fatalf("after cancelling: on_hand %d reserved %d (want 4, 0)", onHand, res)
		}
	})
}

func TestCustomersSeeOnlyTheirOwnOrders(t *testing.T) {
	e := newEnvWith(t, 0, func(c *config.Config) { c.StripeSecretKey = "" })
	v := e.stock(t, "apparel", "linen-button-down-shirt", 10, 0)
	session := func(email string) map[string]string {
		e.register(t, "apparel", email, "password-"+email)
		tok, _ := e.customerLogin(t, "apparel", email, "password-"+email)
		return map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + tok}
	}
	ann, bob := session("ann@example.com"), session("bob@example.com")
	_, out := e.checkout(t, ann, e.newCart(t, ann, v, 1), "ann-1")
	if out.CheckoutBegin.Order == nil {
		t.Fatalf("customer checkout: %+v", out)
	}
	id := out.CheckoutBegin.Order.ID
	var me struct {
		Me struct {
			Orders struct {
				Nodes []struct {
					ID       string
					Customer struct{ Email string }
				}
			}
		}
	}
	mustData(t, e.do(t, ann, `{ me { orders(first: 10) { nodes { id customer { email } } } } }`, nil), &me)
	if len(me.Me.Orders.Nodes) != 1 || me.Me.Orders.Nodes[0].ID != id || me.Me.Orders.Nodes[0].Customer.Email != "ann@example.com" {
		t.Fatalf("ann's orders: %+v", me)
	}
	mustData(t, e.do(t, bob, `{ me { orders(first: 10) { nodes { id } } } }`, nil), &me)
	if len(me.Me.Orders.Nodes) != 0 {
		t.Fatalf("bob sees ann's orders: %+v", me)
	}
	r := e.do(t, bob, `query($id: ID!) { order(id: $id) { id } }`, map[string]any{"id": id})
	if string(r.Data) != `{"order":null}` || len(r.Errors) != 0 {
		t.Fatalf("bob read ann's order: %s %+v", r.Data, r.Errors)
	}
	var all struct {
		Orders struct{ Nodes []struct{ ID string } }
	}
	mustData(t, e.do(t, bob, `{ orders(first: 10) { nodes { id } } }`, nil), &all)
	if len(all.Orders.Nodes) != 0 {
		t.Fatalf("bob's orders() lists others: %+v", all)
	}
}
