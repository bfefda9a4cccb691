package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"cartograph/internal/seed"
)

// pricedCart is what the pricing tests read of a cart.
type pricedCart struct {
	ID            string
	BuyerIdentity struct{ CountryCode string }
	Cost          struct {
		SubtotalAmount, TotalAmount struct{ Amount string }
		TotalTaxAmount              *struct{ Amount string }
		TotalTaxAmountEstimated     bool
	}
	DiscountCodes []struct {
		Code       string
		Applicable bool
		Reason     *string
	}
	DiscountAllocations []struct {
		Code, Title      string
		TargetType       string
		DiscountedAmount struct{ Amount string }
	}
	Lines struct {
		Nodes []struct {
			Cost struct {
				AmountPerQuantity, TotalAmount struct{ Amount string }
			}
			DiscountAllocations []struct {
				Code             string
				DiscountedAmount struct{ Amount string }
			}
		}
	}
	DeliveryGroups struct {
		Nodes []struct {
			ID              string
			DeliveryAddress struct{ Country, Province string }
			DeliveryOptions []struct {
				Handle, Title, DeliveryMethodType string
				EstimatedCost                     struct{ Amount string }
			}
			SelectedDeliveryOption *struct{ Handle string }
			CartLines              struct{ Nodes []struct{ Quantity int } }
		}
	}
}

const pricedCartFields = `id buyerIdentity { countryCode }
	cost { subtotalAmount { amount } totalAmount { amount } totalTaxAmount { amount } totalTaxAmountEstimated }
	discountCodes { code applicable reason }
	discountAllocations { targetType discountedAmount { amount } ... on CartCodeDiscountAllocation { code } ... on CartAutomaticDiscountAllocation { title } }
	lines(first: 10) { nodes { ... on CartLine { cost { amountPerQuantity { amount } totalAmount { amount } } discountAllocations { discountedAmount { amount } ... on CartCodeDiscountAllocation { code } } } } }
	deliveryGroups(first: 1) { nodes { id deliveryAddress { country province } deliveryOptions { handle title deliveryMethodType estimatedCost { amount } }
		selectedDeliveryOption { handle } cartLines(first: 10) { nodes { quantity } } } }`

type cartPayload struct {
	Cart       *pricedCart
	UserErrors []struct {
		Field   []string
		Message string
		Code    string
	}
}

// cartOp runs a cart mutation or query whose result (under name) is a
// payload with cart and userErrors, or a cart.
func (e *env) cartOp(t *testing.T, h map[string]string, name, doc string, vars map[string]any) cartPayload {
	t.Helper()
	r := e.do(t, h, doc, vars)
	var raw map[string]json.RawMessage
	mustData(t, r, &raw)
	var out cartPayload
	if name == "cart" {
		out.Cart = &pricedCart{}
		if err := json.Unmarshal(raw[name], out.Cart); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if err := json.Unmarshal(raw[name], &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) readCart(t *testing.T, h map[string]string, id string) *pricedCart {
	t.Helper()
	return e.cartOp(t, h, "cart", `query($id: ID!) { cart(id: $id) { `+pricedCartFields+` } }`, map[string]any{"id": id}).Cart
}

func (e *env) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := e.db.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

const pricingCheckout = `mutation($c: ID!, $k: String!, $email: String!, $country: String!, $province: String, $handle: String) {
	checkoutBegin(input: {cartId: $c, email: $email, idempotencyKey: $k, deliveryOptionHandle: $handle,
		shippingAddress: {firstName: "Ada", lastName: "Lovelace", address1: "1 Main St", city: "Somewhere", province: $province, zip: "10001", country: $country}}) {
	order { id totalPrice { amount } subtotalPrice { amount } totalTax { amount } totalDiscounts { amount } totalShippingPrice { amount } taxesIncluded
		shippingLine { handle originalPrice { amount } discountedPrice { amount } tax { amount } }
		taxLines { title ratePercentage price { amount } }
		discountApplications { code title kind amount { amount } }
		lineItems { quantity totalDiscount { amount } discountedTotalPrice { amount } totalTax { amount } } }
	userErrors { field message code } } }`

type pricedOrder struct {
	ID                                                                      string
	TotalPrice, SubtotalPrice, TotalTax, TotalDiscounts, TotalShippingPrice struct{ Amount string }
	TaxesIncluded                                                           bool
	ShippingLine                                                            *struct {
		Handle                              string
		OriginalPrice, DiscountedPrice, Tax struct{ Amount string }
	}
	TaxLines []struct {
		Title, RatePercentage string
		Price                 struct{ Amount string }
	}
	DiscountApplications []struct {
		Code, Title, Kind string
		Amount            struct{ Amount string }
	}
	LineItems []struct {
		Quantity                                      int
		TotalDiscount, DiscountedTotalPrice, TotalTax struct{ Amount string }
	}
}

type pricedCheckoutOut struct {
	CheckoutBegin struct {
		Order      *pricedOrder
		UserErrors []struct {
			Field         []string
			Message, Code string
		}
	}
}

func (e *env) pricedCheckout(t *testing.T, h map[string]string, cartID, key, email, country, province, handle string) pricedCheckoutOut {
	t.Helper()
	vars := map[string]any{"c": cartID, "k": key, "email": email, "country": country, "province": province}
	if handle != "" {
		vars["handle"] = handle
	}
	var out pricedCheckoutOut
	mustData(t, e.do(t, h, pricingCheckout, vars), &out)
	return out
}

func userErrorCode(out pricedCheckoutOut) string {
	if len(out.CheckoutBegin.UserErrors) == 0 {
		return ""
	}
	return out.CheckoutBegin.UserErrors[0].Code
}

const (
	setBuyer = `mutation($c: ID!, $country: String, $province: String) { cartBuyerIdentityUpdate(cartId: $c, buyerIdentity: {countryCode: $country,
		deliveryAddressPreferences: [{deliveryAddress: {country: $country, province: $province, zip: "10001"}}]}) { cart { ` + pricedCartFields + ` } userErrors { field message code } } }`
	setCodes  = `mutation($c: ID!, $codes: [String!]) { cartDiscountCodesUpdate(cartId: $c, discountCodes: $codes) { cart { ` + pricedCartFields + ` } userErrors { field message code } } }`
	setOption = `mutation($c: ID!, $g: ID!, $h: String!) { cartSelectedDeliveryOptionsUpdate(cartId: $c, selectedDeliveryOptions: [{deliveryGroupId: $g, deliveryOptionHandle: $h}]) {
		cart { ` + pricedCartFields + ` } userErrors { field message code } } }`
)

// pricingEnv is the demo with DemoPricing, plus codes that cannot apply at
// apparel: OLD (expired), GONE (exhausted), ELEKTRO (electronics' code).
// The apparel tote costs 29.99 and weighs 400 g, with 1000 in stock.
func pricingEnv(t *testing.T) (*env, map[string]string, string) {
	t.Helper()
	e := newEnv(t, 0)
	if err := seed.DemoPricing(context.Background(), e.db.Pool); err != nil {
		t.Fatal(err)
	}
	e.exec(t, `INSERT INTO discounts (shop_id, code, title, kind, value, currency_code, starts_at, ends_at)
		SELECT id, 'OLD', 'Last year', 'PERCENTAGE', 5000, 'USD', now() - interval '2 days', now() - interval '1 day' FROM shops WHERE handle = 'apparel'`)
	e.exec(t, `INSERT INTO discounts (shop_id, code, title, kind, value, currency_code, usage_limit, used_count)
		SELECT id, 'GONE', 'Used up', 'PERCENTAGE', 5000, 'USD', 1, 1 FROM shops WHERE handle = 'apparel'`)
	e.exec(t, `INSERT INTO discounts (shop_id, code, title, kind, value, currency_code)
		SELECT id, 'ELEKTRO', 'Electronics only', 'PERCENTAGE', 5000, 'EUR' FROM shops WHERE handle = 'electronics'`)
	v := e.stock(t, "apparel", "everyday-canvas-tote", 1000, 0)
	e.exec(t, `UPDATE variants SET price_amount = 2999, weight_grams = 400 WHERE id = $1`, strings.TrimPrefix(v, "gid://cartograph/ProductVariant/"))
	return e, e.storefront(t, "apparel"), v
}

func TestPricingCartAndCheckout(t *testing.T) {
	e, h, v := pricingEnv(t)
	c := e.newCart(t, h, v, 3)

	// No destination yet: no delivery group, tax unknown.
	cart := e.readCart(t, h, c)
	if len(cart.DeliveryGroups.Nodes) != 0 || cart.Cost.TotalTaxAmount != nil || !cart.Cost.TotalTaxAmountEstimated || cart.Cost.TotalAmount.Amount != "89.97" {
		t.Fatalf("cart without address: %+v", cart)
	}

	e.cartOp(t, h, "cartBuyerIdentityUpdate", setBuyer, map[string]any{"c": c, "country": "US", "province": "NY"})
	// Malformed codes: a NUL is refused at the door (BAD_USER_INPUT, the
	// cart unchanged), an over-long code is a user error (nothing stored),
	// other control characters are stored and never match.
	if r := e.do(t, h, setCodes, map[string]any{"c": c, "codes": []string{"WELCOME10", "bad\x00code"}}); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("NUL in a code: %+v", r.Errors)
	}
	// Over 255 characters: refused by the gateway's variable limits
	// (BAD_USER_INPUT) or, below them, by the cart (INVALID user error).
	if r := e.do(t, h, setCodes, map[string]any{"c": c, "codes": []string{"WELCOME10", strings.Repeat("X", 256)}}); r.code() != "BAD_USER_INPUT" {
		var p struct{ CartDiscountCodesUpdate cartPayload }
		_ = json.Unmarshal(r.Data, &p)
		if ues := p.CartDiscountCodesUpdate.UserErrors; len(ues) != 1 || ues[0].Code != "INVALID" || p.CartDiscountCodesUpdate.Cart != nil {
			t.Fatalf("over-long code: %+v %+v", r.Errors, p)
		}
	}
	if cart := e.readCart(t, h, c); len(cart.DiscountCodes) != 0 {
		t.Fatalf("refused codes were stored: %+v", cart.DiscountCodes)
	}
	codes := []string{"WELCOME10", "freeship", "NOPE", "OLD", "GONE", "ELEKTRO", "bad\tcode"}
	p := e.cartOp(t, h, "cartDiscountCodesUpdate", setCodes, map[string]any{"c": c, "codes": codes})
	if len(p.UserErrors) > 0 {
		t.Fatalf("codes: %+v", p.UserErrors)
	}
	cart = p.Cart
	wantReasons := []string{"", "", "DISCOUNT_NOT_FOUND", "DISCOUNT_CURRENTLY_INACTIVE", "DISCOUNT_USAGE_LIMIT_REACHED", "DISCOUNT_NOT_FOUND", "DISCOUNT_NOT_FOUND"}
	for i, dc := range cart.DiscountCodes {
		reason := ""
		if dc.Reason != nil {
			reason = *dc.Reason
		}
		if dc.Code != codes[i] || reason != wantReasons[i] || dc.Applicable != (reason == "") {
			t.Errorf("code %q: applicable %v reason %q; want reason %q", dc.Code, dc.Applicable, reason, wantReasons[i])
		}
	}
	// 3 × 29.99 = 89.97; 10 % = 8.997 → 9.00; NY 4 % of 80.97 = 3.2388 → 3.24.
	// Standard (5.99, free over 75.00) is free; express is 18.00 for 1200 g.
	g := cart.DeliveryGroups.Nodes
	if len(g) != 1 || g[0].DeliveryAddress.Country != "US" || g[0].DeliveryAddress.Province != "NY" || len(g[0].CartLines.Nodes) != 1 ||
		len(g[0].DeliveryOptions) != 2 || g[0].DeliveryOptions[0].Handle != "standard" || g[0].DeliveryOptions[0].EstimatedCost.Amount != "0.00" ||
		g[0].DeliveryOptions[1].Handle != "express" || g[0].DeliveryOptions[1].EstimatedCost.Amount != "18.00" || g[0].DeliveryOptions[1].DeliveryMethodType != "SHIPPING" ||
		g[0].SelectedDeliveryOption != nil {
		t.Fatalf("delivery groups: %+v", g)
	}
	if cart.BuyerIdentity.CountryCode != "US" || cart.Cost.SubtotalAmount.Amount != "89.97" || cart.Cost.TotalTaxAmount == nil || cart.Cost.TotalTaxAmount.Amount != "3.24" || cart.Cost.TotalAmount.Amount != "84.21" {
		t.Fatalf("cost before delivery: %+v", cart.Cost)
	}
	l := cart.Lines.Nodes[0]
	if l.Cost.TotalAmount.Amount != "80.97" || len(l.DiscountAllocations) != 1 || l.DiscountAllocations[0].Code != "WELCOME10" || l.DiscountAllocations[0].DiscountedAmount.Amount != "9.00" {
		t.Fatalf("line: %+v", l)
	}

	group := g[0].ID
	for name, tc := range map[string]struct{ group, handle, code string }{
		"ErrUnknownHandle": {group, "teleport", "INVALID_DELIVERY_OPTION"},
		"ErrOtherGroup":    {"gid://cartograph/CartDeliveryGroup/000000000000000000000000", "express", "INVALID_DELIVERY_GROUP"},
	} {
		p := e.cartOp(t, h, "cartSelectedDeliveryOptionsUpdate", setOption, map[string]any{"c": c, "g": tc.group, "h": tc.handle})
		if len(p.UserErrors) != 1 || p.UserErrors[0].Code != tc.code || p.Cart == nil || p.Cart.DeliveryGroups.Nodes[0].SelectedDeliveryOption != nil {
			t.Fatalf("%s: %+v", name, p)
		}
	}
	cart = e.cartOp(t, h, "cartSelectedDeliveryOptionsUpdate", setOption, map[string]any{"c": c, "g": group, "h": "express"}).Cart
	// FREESHIP takes the 18.00 off; shipping tax is then 0.
	if sel := cart.DeliveryGroups.Nodes[0].SelectedDeliveryOption; sel == nil || sel.Handle != "express" || cart.Cost.TotalAmount.Amount != "84.21" {
		t.Fatalf("after selecting express: %+v", cart)
	}
	allocs := map[string]string{}
	for _, a := range cart.DiscountAllocations {
		allocs[a.Code+"/"+a.TargetType] = a.DiscountedAmount.Amount
	}
	if len(allocs) != 2 || allocs["WELCOME10/LINE_ITEM"] != "9.00" || allocs["freeship/SHIPPING_LINE"] != "18.00" {
		t.Fatalf("cart discount allocations: %+v", cart.DiscountAllocations)
	}

	t.Run("ErrDeliveryOptionOfAnotherAddress", func(t *testing.T) {
		if out := e.pricedCheckout(t, h, c, "other-address", "ada@example.com", "US", "CA", ""); userErrorCode(out) != "INVALID_DELIVERY_OPTION" || out.CheckoutBegin.Order != nil {
			t.Fatalf("%+v", out)
		}
	})
	t.Run("ErrCountryNotShippedTo", func(t *testing.T) {
		if out := e.pricedCheckout(t, h, c, "japan", "ada@example.com", "JP", "", "standard"); userErrorCode(out) != "UNSUPPORTED_COUNTRY" || out.CheckoutBegin.Order != nil {
			t.Fatalf("%+v", out)
		}
	})
	t.Run("ErrNoDeliveryOption", func(t *testing.T) {
		c2 := e.newCart(t, h, v, 1)
		if out := e.pricedCheckout(t, h, c2, "no-option", "ada@example.com", "US", "NY", ""); userErrorCode(out) != "DELIVERY_OPTION_REQUIRED" {
			t.Fatalf("%+v", out)
		}
		if out := e.pricedCheckout(t, h, c2, "bad-option", "ada@example.com", "US", "NY", "teleport"); userErrorCode(out) != "INVALID_DELIVERY_OPTION" {
			t.Fatalf("%+v", out)
		}
	})
	if n := e.count(t, `SELECT count(*) FROM orders`); n != 0 {
		t.Fatalf("%d orders placed by refused checkouts", n)
	}

	// The price changes between cart and checkout: the cart shows the new
	// price and checkout charges it. 3 × 34.99 = 104.97; 10 % = 10.497 →
	// 10.50; 94.47 × 4 % = 3.7788 → 3.78; express free → 98.25.
	e.exec(t, `UPDATE variants SET price_amount = 3499 WHERE id = $1`, strings.TrimPrefix(v, "gid://cartograph/ProductVariant/"))
	cart = e.readCart(t, h, c)
	if cart.Lines.Nodes[0].Cost.AmountPerQuantity.Amount != "34.99" || cart.Cost.TotalAmount.Amount != "98.25" {
		t.Fatalf("cart after the price change: %+v", cart)
	}
	out := e.pricedCheckout(t, h, c, "priced-1", "ada@example.com", "US", "NY", "")
	o := out.CheckoutBegin.Order
	if o == nil {
		t.Fatalf("checkout: %+v", out.CheckoutBegin.UserErrors)
	}
	if o.TotalPrice.Amount != "98.25" || o.SubtotalPrice.Amount != "104.97" || o.TotalTax.Amount != "3.78" || o.TotalDiscounts.Amount != "28.50" ||
		o.TotalShippingPrice.Amount != "0.00" || o.TaxesIncluded {
		t.Fatalf("order totals: %+v", o)
	}
	if o.ShippingLine == nil || o.ShippingLine.Handle != "express" || o.ShippingLine.OriginalPrice.Amount != "18.00" || o.ShippingLine.DiscountedPrice.Amount != "0.00" ||
		len(o.TaxLines) != 1 || o.TaxLines[0].RatePercentage != "4" || o.TaxLines[0].Price.Amount != "3.78" || len(o.DiscountApplications) != 2 ||
		len(o.LineItems) != 1 || o.LineItems[0].TotalDiscount.Amount != "10.50" || o.LineItems[0].DiscountedTotalPrice.Amount != "94.47" || o.LineItems[0].TotalTax.Amount != "3.78" {
		t.Fatalf("order detail: %+v", o)
	}
	// What the provider was asked to charge is the order's server total.
	if n := e.count(t, `SELECT total_amount FROM orders WHERE id = $1`, strings.TrimPrefix(o.ID, "gid://cartograph/Order/")); n != 9825 {
		t.Fatalf("stored total %d", n)
	}
	if n := e.count(t, `SELECT count(*) FROM discount_redemptions WHERE released_at IS NULL`); n != 2 {
		t.Fatalf("%d live redemptions, want WELCOME10 and FREESHIP", n)
	}

	// Cancelling the unpaid order gives both uses back, once.
	cancel := `mutation($id: ID!) { orderCancel(id: $id, reason: "changed mind") { order { status } userErrors { code } } }`
	staff := e.staff(t, "apparel")
	mustData(t, e.do(t, staff, cancel, map[string]any{"id": o.ID}), nil)
	e.do(t, staff, cancel, map[string]any{"id": o.ID}) // a second cancel gives nothing back again
	if n := e.count(t, `SELECT count(*) FROM discount_redemptions WHERE released_at IS NULL`); n != 0 {
		t.Fatalf("%d live redemptions after cancel", n)
	}
	if n := e.count(t, `SELECT coalesce(sum(used_count), 0)::int FROM discounts WHERE code IN ('WELCOME10', 'FREESHIP')`); n != 0 {
		t.Fatalf("used_count %d after cancel, want 0", n)
	}

	t.Run("VATIncludedInTheUK", func(t *testing.T) {
		// 1 × 34.99 + international 19.99 (free only over 200.00); 20 % VAT
		// included: 34.99/6 = 5.8317 → 5.83, 19.99/6 = 3.3317 → 3.33.
		c3 := e.newCart(t, h, v, 1)
		e.cartOp(t, h, "cartBuyerIdentityUpdate", setBuyer, map[string]any{"c": c3, "country": "GB"})
		cart := e.readCart(t, h, c3)
		g := cart.DeliveryGroups.Nodes
		if len(g) != 1 || len(g[0].DeliveryOptions) != 1 || g[0].DeliveryOptions[0].Handle != "international" {
			t.Fatalf("UK options: %+v", g)
		}
		cart = e.cartOp(t, h, "cartSelectedDeliveryOptionsUpdate", setOption, map[string]any{"c": c3, "g": g[0].ID, "h": "international"}).Cart
		if cart.Cost.TotalAmount.Amount != "54.98" || cart.Cost.TotalTaxAmount == nil || cart.Cost.TotalTaxAmount.Amount != "9.16" {
			t.Fatalf("UK cost: %+v", cart.Cost)
		}
	})

	t.Run("ThresholdUncrossedByDiscount", func(t *testing.T) {
		// 1 × 79.99 ships free over 75.00; WELCOME10 brings it to 71.99.
		e.exec(t, `UPDATE variants SET price_amount = 7999 WHERE id = $1`, strings.TrimPrefix(v, "gid://cartograph/ProductVariant/"))
		c4 := e.newCart(t, h, v, 1)
		cart := e.cartOp(t, h, "cartBuyerIdentityUpdate", setBuyer, map[string]any{"c": c4, "country": "US", "province": "CA"}).Cart
		if got := cart.DeliveryGroups.Nodes[0].DeliveryOptions[0]; got.Handle != "standard" || got.EstimatedCost.Amount != "0.00" {
			t.Fatalf("without code: %+v", got)
		}
		cart = e.cartOp(t, h, "cartDiscountCodesUpdate", setCodes, map[string]any{"c": c4, "codes": []string{"WELCOME10"}}).Cart
		if got := cart.DeliveryGroups.Nodes[0].DeliveryOptions[0]; got.Handle != "standard" || got.EstimatedCost.Amount != "5.99" {
			t.Fatalf("with code: %+v", got)
		}
	})
}

// TestDiscountUsageLimitUnderConcurrency: 200 concurrent checkouts of
// distinct carts with a code limited to 10 uses redeem it exactly 10
// times; 20 concurrent checkouts by one guest with a once-per-customer
// code redeem it once; an expired order gives its use back.
func TestDiscountUsageLimitUnderConcurrency(t *testing.T) {
	e, h, v := pricingEnv(t)
	e.exec(t, `INSERT INTO discounts (shop_id, code, title, kind, value, currency_code, usage_limit)
		SELECT id, 'TEN', 'First ten', 'FIXED_AMOUNT', 500, 'USD', 10 FROM shops WHERE handle = 'apparel'`)
	e.exec(t, `INSERT INTO discounts (shop_id, code, title, kind, value, currency_code, per_customer_limit)
		SELECT id, 'ONCE', 'Once each', 'FIXED_AMOUNT', 300, 'USD', 1 FROM shops WHERE handle = 'apparel'`)

	run := func(n int, code string, email func(i int) string) []pricedCheckoutOut {
		carts := make([]string, n)
		for i := range carts {
			carts[i] = e.newCart(t, h, v, 1)
			p := e.cartOp(t, h, "cartDiscountCodesUpdate", setCodes, map[string]any{"c": carts[i], "codes": []string{code}})
			if !p.Cart.DiscountCodes[0].Applicable {
				t.Fatalf("%s not applicable before the race: %+v", code, p.Cart.DiscountCodes)
			}
		}
		outs := make([]pricedCheckoutOut, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range carts {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				vars := map[string]any{"c": carts[i], "k": fmt.Sprintf("%s-%d", code, i), "email": email(i), "country": "US", "province": "CA", "handle": "standard"}
				r := e.do(t, h, pricingCheckout, vars)
				if len(r.Errors) > 0 {
					t.Errorf("checkout %d: %+v", i, r.Errors)
					return
				}
				_ = json.Unmarshal(r.Data, &outs[i])
			}(i)
		}
		close(start)
		wg.Wait()
		return outs
	}

	outs := run(200, "TEN", func(i int) string { return fmt.Sprintf("buyer%d@example.com", i) })
	discounted, refused, placed := 0, 0, 0
	for _, o := range outs {
		switch {
		case o.CheckoutBegin.Order != nil:
			placed++
			if o.CheckoutBegin.Order.TotalDiscounts.Amount == "5.00" {
				discounted++
			}
		case userErrorCode(o) == "DISCOUNT_USAGE_LIMIT_REACHED":
			refused++
		default:
			t.Errorf("unexpected outcome %+v", o.CheckoutBegin.UserErrors)
		}
	}
	redeemed := e.count(t, `SELECT count(*) FROM discount_redemptions r JOIN discounts d ON d.id = r.discount_id WHERE d.code = 'TEN'`)
	used := e.count(t, `SELECT used_count FROM discounts WHERE code = 'TEN'`)
	if redeemed != 10 || used != 10 || discounted != 10 || placed+refused != 200 {
		t.Fatalf("TEN: %d redemptions, used_count %d, %d discounted orders, %d placed, %d refused", redeemed, used, discounted, placed, refused)
	}
	t.Logf("TEN under 200 concurrent checkouts: 10 redeemed, %d placed without it (code already reported used up), %d refused at commit", placed-10, refused)

	_ = run(20, "ONCE", func(int) string { return "Same.Guest@example.com" })
	if n := e.count(t, `SELECT count(*) FROM discount_redemptions r JOIN discounts d ON d.id = r.discount_id WHERE d.code = 'ONCE' AND r.customer_key = 'e:same.guest@example.com'`); n != 1 {
		t.Fatalf("ONCE redeemed %d times by one guest", n)
	}
	if n := e.count(t, `SELECT used_count FROM discounts WHERE code = 'ONCE'`); n != 1 {
		t.Fatalf("ONCE used_count %d", n)
	}

	// Expire every unpaid order: each TEN use comes back exactly once,
	// however often the sweeper runs.
	e.exec(t, `UPDATE order_expiries SET expires_at = now() - interval '1 minute'`)
	for i := 0; i < 3; i++ {
		for {
			n, err := e.app.Orders.SweepExpired(context.Background(), 100)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
	}
	if used := e.count(t, `SELECT sum(used_count)::int FROM discounts WHERE code IN ('TEN', 'ONCE')`); used != 0 {
		t.Fatalf("used_count %d after every order expired, want 0", used)
	}
	if n := e.count(t, `SELECT count(*) FROM discount_redemptions WHERE released_at IS NULL`); n != 0 {
		t.Fatalf("%d redemptions still live", n)
	}
}

func TestPricingAdminMutations(t *testing.T) {
	e, h, v := pricingEnv(t)
	staff := e.staff(t, "apparel")
	create := `mutation($in: DiscountInput!) { discountCreate(input: $in) { discount { id code percentage usedCount active } userErrors { field code message } } }`
	type payload struct {
		Discount *struct {
			ID, Code, Percentage string
			Active               bool
		}
		UserErrors []struct {
			Field         []string
			Code, Message string
		}
	}
	do := func(hdr map[string]string, in map[string]any) (payload, *gqlResponse) {
		r := e.do(t, hdr, create, map[string]any{"in": in})
		var out struct{ DiscountCreate payload }
		if r.Data != nil {
			_ = json.Unmarshal(r.Data, &out)
		}
		return out.DiscountCreate, r
	}
	for name, tc := range map[string]struct {
		in   map[string]any
		code string
	}{
		"ErrPercentageOver100": {map[string]any{"code": "BIG", "title": "Too big", "kind": "PERCENTAGE", "percentage": "150"}, "INVALID_PERCENTAGE"},
		"ErrNegativeAmount":    {map[string]any{"code": "NEG", "title": "Negative", "kind": "FIXED_AMOUNT", "amount": "-5.00"}, "INVALID_AMOUNT"},
		"ErrTooManyDecimals":   {map[string]any{"code": "DEC", "title": "Decimals", "kind": "FIXED_AMOUNT", "amount": "5.001"}, "INVALID_AMOUNT"},
		"ErrControlInCode":     {map[string]any{"code": "A\x01B", "title": "Control", "kind": "PERCENTAGE", "percentage": "5"}, "INVALID"},
		"ErrEndBeforeStart":    {map[string]any{"code": "WIN", "title": "Window", "kind": "PERCENTAGE", "percentage": "5", "startsAt": "2026-01-02T00:00:00Z", "endsAt": "2026-01-01T00:00:00Z"}, "INVALID_DATES"},
		"ErrCodeTaken":         {map[string]any{"code": "welcome10", "title": "Dup", "kind": "PERCENTAGE", "percentage": "5"}, "TAKEN"},
	} {
		t.Run(name, func(t *testing.T) {
			out, r := do(staff, tc.in)
			if len(r.Errors) > 0 || out.Discount != nil || len(out.UserErrors) == 0 || out.UserErrors[0].Code != tc.code {
				t.Fatalf("%+v %+v", out, r.Errors)
			}
		})
	}
	if n := e.count(t, `SELECT count(*) FROM discounts`); n != 8 {
		t.Fatalf("%d discounts after refused creations, want the 8 seeded", n)
	}
	t.Run("ErrForbiddenForStorefrontKey", func(t *testing.T) {
		if _, r := do(h, map[string]any{"code": "HACK", "title": "Hack", "kind": "PERCENTAGE", "percentage": "100"}); r.code() != "FORBIDDEN" {
			t.Fatalf("%+v", r.Errors)
		}
	})
	out, _ := do(staff, map[string]any{"code": "HALF", "title": "Half off", "kind": "PERCENTAGE", "percentage": "50", "usageLimit": 5})
	if out.Discount == nil || out.Discount.Percentage != "50.00" || !out.Discount.Active {
		t.Fatalf("create: %+v", out)
	}
	c := e.newCart(t, h, v, 1)
	cart := e.cartOp(t, h, "cartDiscountCodesUpdate", setCodes, map[string]any{"c": c, "codes": []string{"half"}}).Cart
	if !cart.DiscountCodes[0].Applicable || cart.Cost.TotalAmount.Amount != "14.99" { // 50 % of 29.99 = 14.995 → 15.00 off
		t.Fatalf("HALF: %+v", cart)
	}
	r := e.do(t, staff, `mutation($id: ID!) { discountDeactivate(id: $id) { discount { active } userErrors { code } } }`, map[string]any{"id": out.Discount.ID})
	mustData(t, r, nil)
	cart = e.readCart(t, h, c)
	if cart.DiscountCodes[0].Applicable || cart.DiscountCodes[0].Reason == nil || *cart.DiscountCodes[0].Reason != "DISCOUNT_CURRENTLY_INACTIVE" || cart.Cost.TotalAmount.Amount != "29.99" {
		t.Fatalf("after deactivation: %+v", cart.DiscountCodes)
	}

	rate := `mutation($in: ShippingRateInput!) { shippingRateCreate(input: $in) { shippingRate { handle } userErrors { field code } } }`
	zone := `mutation { shippingZoneCreate(input: {name: "Canada", areas: ["CA"]}) { shippingZone { id } userErrors { code } } }`
	var z struct {
		ShippingZoneCreate struct{ ShippingZone struct{ ID string } }
	}
	mustData(t, e.do(t, staff, zone, nil), &z)
	for name, tc := range map[string]struct {
		in   map[string]any
		code string
	}{
		"ErrOverlappingBands": {map[string]any{"handle": "ground", "title": "Ground", "price": "0", "weightBands": []map[string]any{
			{"minGrams": 0, "maxGrams": 1000, "price": "5.00"}, {"minGrams": 1000, "maxGrams": 2000, "price": "8.00"}}}, "OVERLAPPING_BANDS"},
		"ErrNegativePrice": {map[string]any{"handle": "ground", "title": "Ground", "price": "-1.00"}, "INVALID_AMOUNT"},
		"ErrBadHandle":     {map[string]any{"handle": "Not A Handle", "title": "Ground", "price": "1.00"}, "INVALID"},
	} {
		tc.in["zoneId"] = z.ShippingZoneCreate.ShippingZone.ID
		var out struct {
			ShippingRateCreate struct {
				ShippingRate *struct{ Handle string }
				UserErrors   []struct{ Code string }
			}
		}
		mustData(t, e.do(t, staff, rate, map[string]any{"in": tc.in}), &out)
		if out.ShippingRateCreate.ShippingRate != nil || len(out.ShippingRateCreate.UserErrors) == 0 || out.ShippingRateCreate.UserErrors[0].Code != tc.code {
			t.Fatalf("%s: %+v", name, out)
		}
	}
	var tax struct {
		TaxRateSet struct {
			TaxRate    *struct{ RatePercentage string }
			UserErrors []struct{ Code string }
		}
	}
	mustData(t, e.do(t, staff, `mutation { taxRateSet(input: {countryCode: "CA", title: "GST", ratePercentage: "5", included: false, shipping: true}) { taxRate { ratePercentage } userErrors { code } } }`, nil), &tax)
	if tax.TaxRateSet.TaxRate == nil || tax.TaxRateSet.TaxRate.RatePercentage != "5" {
		t.Fatalf("taxRateSet: %+v", tax)
	}
	mustData(t, e.do(t, staff, `mutation { taxRateSet(input: {countryCode: "CA", title: "GST", ratePercentage: "101", included: false, shipping: true}) { taxRate { ratePercentage } userErrors { code } } }`, nil), &tax)
	if tax.TaxRateSet.TaxRate != nil || len(tax.TaxRateSet.UserErrors) == 0 || tax.TaxRateSet.UserErrors[0].Code != "INVALID_RATE" {
		t.Fatalf("taxRateSet 101 %%: %+v", tax)
	}

	// The admin lists: everything just made, paged by id, deactivated
	// discounts and rates included; a storefront key may not list them.
	var lists struct {
		Discounts []struct {
			ID, Code string
			Active   bool
		}
		ShippingZones []struct{ ID, Name string }
		ShippingRates []struct {
			Handle string
			Active bool
		}
		TaxRates []struct{ CountryCode, Title, RatePercentage string }
	}
	mustData(t, e.do(t, staff, `query($z: ID) { discounts(first: 250) { id code active } shippingZones { id name }
		shippingRates(zoneId: $z) { handle active } taxRates(countryCode: "ca") { countryCode title ratePercentage } }`,
		map[string]any{"z": z.ShippingZoneCreate.ShippingZone.ID}), &lists)
	codes := map[string]bool{}
	for _, d := range lists.Discounts {
		codes[d.Code] = d.Active
	}
	if len(lists.Discounts) != 6 || codes["HALF"] || !codes["WELCOME10"] {
		t.Fatalf("discounts list: %+v", lists.Discounts)
	}
	if len(lists.ShippingZones) != 3 || lists.ShippingZones[2].Name != "Canada" || len(lists.ShippingRates) != 0 {
		t.Fatalf("zones %+v, rates of the new zone %+v", lists.ShippingZones, lists.ShippingRates)
	}
	if len(lists.TaxRates) != 1 || lists.TaxRates[0].Title != "GST" || lists.TaxRates[0].RatePercentage != "5" {
		t.Fatalf("tax rates of CA: %+v", lists.TaxRates)
	}
	var page struct{ Discounts []struct{ ID string } }
	mustData(t, e.do(t, staff, `query($a: ID) { discounts(first: 2, after: $a) { id } }`, map[string]any{"a": lists.Discounts[2].ID}), &page)
	if len(page.Discounts) != 2 || page.Discounts[0].ID != lists.Discounts[3].ID || page.Discounts[1].ID != lists.Discounts[4].ID {
		t.Fatalf("two after the third: %+v", page)
	}
	if r := e.do(t, staff, `{ discounts(first: 251) { id } }`, nil); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("first: 251 → %+v", r.Errors)
	}
	if r := e.do(t, h, `{ discounts { id } }`, nil); r.code() != "FORBIDDEN" {
		t.Fatalf("a storefront key listed discounts: %s %+v", r.Data, r.Errors)
	}
}
