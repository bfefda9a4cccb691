package server_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"cartograph/internal/money"
	"cartograph/internal/seed"
)

const (
	marketCreate = `mutation($in: MarketInput!) { marketCreate(input: $in) {
		market { id handle currencyCode exchangeRate countries primary rounding priceAdjustmentPercentage } userErrors { field code message } } }`
	rateSet      = `mutation($c: CurrencyCode!, $r: Decimal!) { exchangeRateSet(currencyCode: $c, rate: $r) { exchangeRate { currencyCode rate setBy } userErrors { field code message } } }`
	fixedSet     = `mutation($m: ID!, $p: [MarketFixedPriceInput!]!) { marketFixedPricesSet(marketId: $m, prices: $p) { market { id } userErrors { field code message } } }`
	toteInMarket = `query($country: CountryCode) @inContext(country: $country) { product(handle: "everyday-canvas-tote") {
		priceRange { minVariantPrice { amount currencyCode } maxVariantPrice { amount currencyCode } }
		variants(first: 50) { nodes { id price { amount currencyCode } compareAtPrice { amount currencyCode } } } } }`
)

type marketPayload struct {
	Market *struct {
		ID, Handle, CurrencyCode, Rounding, PriceAdjustmentPercentage string
		ExchangeRate                                                  *string
		Countries                                                     []string
		Primary                                                       bool
	}
	UserErrors []struct {
		Field         []string
		Code, Message string
	}
}

type toteOut struct {
	Product struct {
		PriceRange struct {
			MinVariantPrice, MaxVariantPrice struct{ Amount, CurrencyCode string }
		}
		Variants struct {
			Nodes []struct {
				ID             string
				Price          struct{ Amount, CurrencyCode string }
				CompareAtPrice *struct{ Amount, CurrencyCode string }
			}
		}
	}
}

func minor(t *testing.T, amount string, cur money.Currency) int64 {
	t.Helper()
	v, err := money.ParseMinor(amount, cur.Exponent())
	if err != nil {
		t.Fatalf("amount %q: %v", amount, err)
	}
	return v
}

// TestMarkets: staff set up markets and exchange rates through the admin
// API (bad input refused with a code, changing nothing); @inContext and a
// cart's country price the catalog and the cart in the market's currency
// by its price list (adjustment, rounding rule, fixed prices); checkout
// charges that currency (the PaymentIntent asks for it, counted by the
// recording provider) and the order keeps shop-currency figures that add
// up, with the rate used; a rate change between cart and checkout is
// charged at checkout's rate; a country no market sells to is refused.
func TestMarkets(t *testing.T) {
	e, rec := moneyEnv(t)
	ctx := context.Background()
	if err := seed.DemoPricing(ctx, e.db.Pool); err != nil {
		t.Fatal(err)
	}
	staff := e.staff(t, "apparel")
	h := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "everyday-canvas-tote", 50, 0)
	var base int64
	if err := e.db.Pool.QueryRow(ctx, `SELECT price_amount FROM variants WHERE id = $1`, strings.TrimPrefix(v, "gid://cartograph/ProductVariant/")).Scan(&base); err != nil {
		t.Fatal(err)
	}
	create := func(t *testing.T, in map[string]any) marketPayload {
		t.Helper()
		var out struct{ MarketCreate marketPayload }
		mustData(t, e.do(t, staff, marketCreate, map[string]any{"in": in}), &out)
		return out.MarketCreate
	}
	codes := func(p marketPayload) []string {
		var cs []string
		for _, u := range p.UserErrors {
			cs = append(cs, u.Code)
		}
		return cs
	}
	setRate := func(t *testing.T, cur, r string) []string {
		t.Helper()
		var out struct {
			ExchangeRateSet struct{ UserErrors []struct{ Code string } }
		}
		mustData(t, e.do(t, staff, rateSet, map[string]any{"c": cur, "r": r}), &out)
		var cs []string
		for _, u := range out.ExchangeRateSet.UserErrors {
			cs = append(cs, u.Code)
		}
		return cs
	}
	us := map[string]any{"handle": "us", "name": "United States", "currencyCode": "USD", "countries": []string{"US"}, "primary": true}
	europe := map[string]any{"handle": "europe", "name": "Europe", "currencyCode": "EUR", "countries": []string{"DE", "FR", "IE"}, "rounding": "END_99"}
	uk := map[string]any{"handle": "uk", "name": "United Kingdom", "currencyCode": "GBP", "countries": []string{"GB"}, "rounding": "WHOLE", "priceAdjustmentPercentage": "10"}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for a, b := range m {
			out[a] = b
		}
		out[k] = v
		return out
	}

	t.Run("BadInputChangesNothing", func(t *testing.T) {
		for _, c := range []struct {
			name string
			in   map[string]any
			want string
		}{
			{"NonPrimaryFirst", europe, "PRIMARY_MARKET_REQUIRED"},
			{"PrimaryInAnotherCurrency", with(us, "currencyCode", "EUR"), "PRIMARY_MARKET_BASE_PRICES"},
			{"PrimaryWithAdjustment", with(us, "priceAdjustmentPercentage", "5"), "PRIMARY_MARKET_BASE_PRICES"},
			{"DuplicateCountry", with(us, "countries", []string{"US", "US"}), "DUPLICATE_COUNTRY"},
			{"NoCountries", with(us, "countries", []string{}), "INVALID"},
			{"BadHandle", with(us, "handle", "Not A Handle"), "INVALID"},
			{"AdjustmentOutOfRange", with(with(europe, "priceAdjustmentPercentage", "1000.01"), "primary", true), "INVALID_ADJUSTMENT"},
			{"AdjustmentTooPrecise", with(us, "priceAdjustmentPercentage", "1.234"), "INVALID_ADJUSTMENT"},
		} {
			t.Run(c.name, func(t *testing.T) {
				if got := codes(create(t, c.in)); !slices.Contains(got, c.want) {
					t.Fatalf("codes %v, want %s", got, c.want)
				}
			})
		}
		for _, c := range []struct{ name, cur, rate, want string }{
			{"RateForTheShopsCurrency", "USD", "1", "INVALID_CURRENCY"},
			{"ZeroRate", "EUR", "0", "INVALID_RATE"},
			{"NegativeRate", "EUR", "-0.9", "INVALID_RATE"},
			{"ElevenDecimals", "EUR", "0.92000000001", "INVALID_RATE"},
			{"NotADecimal", "EUR", "abc", "INVALID_RATE"},
		} {
			t.Run(c.name, func(t *testing.T) {
				if got := setRate(t, c.cur, c.rate); !slices.Contains(got, c.want) {
					t.Fatalf("codes %v, want %s", got, c.want)
				}
			})
		}
		if n := e.count(t, `SELECT (SELECT count(*) FROM markets) + (SELECT count(*) FROM exchange_rates)`); n != 0 {
			t.Fatalf("%d markets or rates written by refused input", n)
		}
	})

	var europeID string
	t.Run("SetUp", func(t *testing.T) {
		if p := create(t, us); p.Market == nil || !p.Market.Primary {
			t.Fatalf("primary market: %+v", p)
		}
		if got := codes(create(t, europe)); !slices.Contains(got, "EXCHANGE_RATE_MISSING") {
			t.Fatalf("EUR market before its rate: %v", got)
		}
		for _, r := range []string{"0.9", "0.92"} { // the newest is in force
			if got := setRate(t, "EUR", r); len(got) > 0 {
				t.Fatal(got)
			}
		}
		p := create(t, europe)
		if p.Market == nil || p.Market.ExchangeRate == nil || *p.Market.ExchangeRate != "0.92" || p.Market.Rounding != "END_99" {
			t.Fatalf("europe: %+v", p)
		}
		europeID = p.Market.ID
		if got := setRate(t, "GBP", "0.8"); len(got) > 0 {
			t.Fatal(got)
		}
		if p := create(t, uk); p.Market == nil || p.Market.PriceAdjustmentPercentage != "10" {
			t.Fatalf("uk: %+v", p)
		}
		if got := codes(create(t, with(with(europe, "handle", "europe-2"), "countries", []string{"DE"}))); !slices.Contains(got, "COUNTRY_IN_OTHER_MARKET") {
			t.Fatalf("a country in two markets: %v", got)
		}
		if got := codes(create(t, with(europe, "countries", []string{"NL"}))); !slices.Contains(got, "TAKEN") {
			t.Fatalf("a handle twice: %v", got)
		}
		var hist struct {
			ExchangeRates []struct{ Rate, SetBy string }
		}
		mustData(t, e.do(t, staff, `{ exchangeRates(currencyCode: EUR) { rate setBy } }`, nil), &hist)
		if len(hist.ExchangeRates) != 2 || hist.ExchangeRates[0].Rate != "0.92" || hist.ExchangeRates[1].Rate != "0.9" || hist.ExchangeRates[0].SetBy == "" {
			t.Fatalf("EUR history: %+v", hist)
		}
		var ms struct{ Markets []struct{ Handle string } }
		mustData(t, e.do(t, staff, `{ markets { handle } }`, nil), &ms)
		if len(ms.Markets) != 3 || ms.Markets[0].Handle != "us" {
			t.Fatalf("markets: %+v", ms)
		}
	})

	tote := func(t *testing.T, country any) toteOut {
		t.Helper()
		var out toteOut
		mustData(t, e.do(t, h, toteInMarket, map[string]any{"country": country}), &out)
		return out
	}
	t.Run("CatalogInTheMarketsCurrency", func(t *testing.T) {
		// END_99 at 0.92: the smallest x.99 at or above base × 0.92.
		got := tote(t, "DE").Product.Variants.Nodes[0].Price
		p := minor(t, got.Amount, "EUR")
		if got.CurrencyCode != "EUR" || p%100 != 99 || p*100 < base*92 || p*100 >= base*92+10000 {
			t.Fatalf("DE price %+v for base %d", got, base)
		}
		// WHOLE at 0.8 + 10 %: the next whole pound at or above base × 0.88.
		got = tote(t, "GB").Product.Variants.Nodes[0].Price
		p = minor(t, got.Amount, "GBP")
		if got.CurrencyCode != "GBP" || p%100 != 0 || p*100 < base*88 || p*100 >= base*88+10000 {
			t.Fatalf("GB price %+v for base %d", got, base)
		}
		for _, c := range []any{"US", "JP", nil} { // the primary market, a country no market sells to, no context
			got := tote(t, c).Product.Variants.Nodes[0].Price
			if got.CurrencyCode != "USD" || minor(t, got.Amount, "USD") != base {
				t.Fatalf("%v price %+v, want base %d USD", c, got, base)
			}
		}
		var loc struct {
			Localization struct {
				Country struct {
					IsoCode  string
					Currency struct{ IsoCode string }
				}
				AvailableCountries []struct {
					IsoCode  string
					Currency struct{ IsoCode string }
				}
			}
		}
		mustData(t, e.do(t, h, `query @inContext(country: GB) { localization { country { isoCode currency { isoCode } } availableCountries { isoCode currency { isoCode } } } }`, nil), &loc)
		if loc.Localization.Country.IsoCode != "GB" || loc.Localization.Country.Currency.IsoCode != "GBP" {
			t.Fatalf("localization in GB: %+v", loc.Localization.Country)
		}
		var avail []string
		for _, c := range loc.Localization.AvailableCountries {
			avail = append(avail, c.IsoCode+":"+c.Currency.IsoCode)
		}
		if strings.Join(avail, ",") != "US:USD,DE:EUR,FR:EUR,IE:EUR,GB:GBP" {
			t.Fatalf("available countries %v", avail)
		}
	})

	t.Run("FixedPrices", func(t *testing.T) {
		var out struct{ MarketFixedPricesSet marketPayload }
		for _, c := range []struct {
			name   string
			market string
			prices []map[string]any
			want   string
		}{
			{"NegativePrice", europeID, []map[string]any{{"variantId": v, "price": "-1"}}, "INVALID_AMOUNT"},
			{"TooPrecise", europeID, []map[string]any{{"variantId": v, "price": "1.234"}}, "INVALID_AMOUNT"},
			{"ForeignVariant", europeID, []map[string]any{{"variantId": e.stock(t, "electronics", "pulse-anc-headphones", 1)}}, "NOT_FOUND"},
			{"Twice", europeID, []map[string]any{{"variantId": v, "price": "1"}, {"variantId": v, "price": "2"}}, "DUPLICATE"},
			{"TooMany", europeID, func() []map[string]any {
				ps := make([]map[string]any, 251)
				for i := range ps {
					ps[i] = map[string]any{"variantId": v, "price": "1"}
				}
				return ps
			}(), "INVALID"},
		} {
			t.Run(c.name, func(t *testing.T) {
				mustData(t, e.do(t, staff, fixedSet, map[string]any{"m": c.market, "p": c.prices}), &out)
				if got := codes(out.MarketFixedPricesSet); !slices.Contains(got, c.want) {
					t.Fatalf("codes %v, want %s", got, c.want)
				}
			})
		}
		if n := e.count(t, `SELECT count(*)::int FROM market_prices`); n != 0 {
			t.Fatalf("%d fixed prices written by refused input", n)
		}
		mustData(t, e.do(t, staff, fixedSet, map[string]any{"m": europeID, "p": []map[string]any{{"variantId": v, "price": "12.34", "compareAtPrice": "20.00"}}}), &out)
		if len(out.MarketFixedPricesSet.UserErrors) > 0 {
			t.Fatal(out.MarketFixedPricesSet.UserErrors)
		}
		de := tote(t, "DE").Product
		n := de.Variants.Nodes[0]
		if n.Price.Amount != "12.34" || n.Price.CurrencyCode != "EUR" || n.CompareAtPrice == nil || n.CompareAtPrice.Amount != "20.0" && n.CompareAtPrice.Amount != "20.00" {
			t.Fatalf("fixed price in DE: %+v", n)
		}
		// The product's range agrees with its variants' market prices.
		lo, hi := int64(-1), int64(0)
		for _, x := range de.Variants.Nodes {
			p := minor(t, x.Price.Amount, "EUR")
			if lo < 0 || p < lo {
				lo = p
			}
			hi = max(hi, p)
		}
		if minor(t, de.PriceRange.MinVariantPrice.Amount, "EUR") != lo || minor(t, de.PriceRange.MaxVariantPrice.Amount, "EUR") != hi {
			t.Fatalf("DE price range %+v, variants span %d..%d", de.PriceRange, lo, hi)
		}
		// Staff read the variant's price per market (contextualPricing).
		var cp struct {
			Product struct {
				Variants struct {
					Nodes []struct {
						DE, GB, US, JP struct {
							Price        struct{ Amount, CurrencyCode string }
							MarketHandle *string
						}
					}
				}
			}
		}
		mustData(t, e.do(t, staff, `{ product(handle: "everyday-canvas-tote") { variants(first: 1) { nodes {
			DE: contextualPricing(context: {country: DE}) { price { amount currencyCode } marketHandle }
			GB: contextualPricing(context: {country: GB}) { price { amount currencyCode } marketHandle }
			US: contextualPricing(context: {country: US}) { price { amount currencyCode } marketHandle }
			JP: contextualPricing(context: {country: JP}) { price { amount currencyCode } marketHandle } } } } }`, nil), &cp)
		got := cp.Product.Variants.Nodes[0]
		gb := tote(t, "GB").Product.Variants.Nodes[0].Price
		if got.DE.Price.Amount != "12.34" || *got.DE.MarketHandle != "europe" || got.GB.Price != gb || *got.GB.MarketHandle != "uk" ||
			got.US.Price.CurrencyCode != "USD" || *got.US.MarketHandle != "us" || got.JP.Price.CurrencyCode != "USD" {
			t.Fatalf("contextual pricing %+v (GB catalog %+v)", got, gb)
		}
		// Inside a market (@inContext: the variant is already presented in
		// GBP) it still prices from the base variant.
		var inGB struct {
			Product struct {
				Variants struct {
					Nodes []struct {
						Price             struct{ Amount, CurrencyCode string }
						ContextualPricing struct {
							Price struct{ Amount, CurrencyCode string }
						}
					}
				}
			}
		}
		mustData(t, e.do(t, staff, `query @inContext(country: GB) { product(handle: "everyday-canvas-tote") { variants(first: 1) { nodes {
			price { amount currencyCode } contextualPricing(context: {country: DE}) { price { amount currencyCode } } } } } }`, nil), &inGB)
		if n := inGB.Product.Variants.Nodes[0]; n.Price != gb || n.ContextualPricing.Price.Amount != "12.34" || n.ContextualPricing.Price.CurrencyCode != "EUR" {
			t.Fatalf("contextual pricing inside the GB market: %+v", n)
		}
		// Public, like the prices @inContext shows (no scope: nested
		// fields of cacheable public queries carry no permission).
		var anon struct {
			Product struct {
				Variants struct {
					Nodes []struct {
						ContextualPricing struct{ Price struct{ Amount string } }
					}
				}
			}
		}
		mustData(t, e.do(t, map[string]string{"X-Shop-Handle": "apparel"}, `{ product(handle: "everyday-canvas-tote") { variants(first: 1) { nodes { contextualPricing(context: {country: DE}) { price { amount } } } } } }`, nil), &anon)
		if anon.Product.Variants.Nodes[0].ContextualPricing.Price.Amount != "12.34" {
			t.Fatalf("anonymous contextualPricing: %+v", anon)
		}
	})

	var cartTotal string
	t.Run("CartAndCheckoutChargeTheMarketsCurrency", func(t *testing.T) {
		c := e.newCart(t, h, v, 2)
		e.cartOp(t, h, "cartBuyerIdentityUpdate", setBuyer, map[string]any{"c": c, "country": "DE"})
		cart := e.cartOp(t, h, "cartDiscountCodesUpdate", setCodes, map[string]any{"c": c, "codes": []string{"SAVE5"}}).Cart
		line := cart.Lines.Nodes[0]
		if line.Cost.AmountPerQuantity.Amount != "12.34" {
			t.Fatalf("cart line in DE: %+v", line.Cost)
		}
		// $5 off at 0.92 is €4.60; the $19.99 international rate is €18.39.
		if len(cart.DiscountAllocations) != 1 || cart.DiscountAllocations[0].DiscountedAmount.Amount != "4.6" && cart.DiscountAllocations[0].DiscountedAmount.Amount != "4.60" {
			t.Fatalf("SAVE5 in EUR: %+v (codes %+v)", cart.DiscountAllocations, cart.DiscountCodes)
		}
		opts := cart.DeliveryGroups.Nodes[0].DeliveryOptions
		if len(opts) != 1 || opts[0].Handle != "international" || opts[0].EstimatedCost.Amount != "18.39" {
			t.Fatalf("delivery options in DE: %+v", opts)
		}
		var cur struct {
			Cart struct {
				Cost struct {
					TotalAmount struct{ Amount, CurrencyCode string }
				}
			}
		}
		e.cartOp(t, h, "cartSelectedDeliveryOptionsUpdate", setOption, map[string]any{"c": c, "g": cart.DeliveryGroups.Nodes[0].ID, "h": "international"})
		mustData(t, e.do(t, h, `query($id: ID!) { cart(id: $id) { cost { totalAmount { amount currencyCode } } } }`, map[string]any{"id": c}), &cur)
		if cur.Cart.Cost.TotalAmount.CurrencyCode != "EUR" {
			t.Fatalf("cart total %+v", cur.Cart.Cost.TotalAmount)
		}
		cartTotal = cur.Cart.Cost.TotalAmount.Amount

		out := e.pricedCheckout(t, h, c, "market-order-1", "ada@example.com", "DE", "", "international")
		o := out.CheckoutBegin.Order
		if o == nil || o.TotalPrice.Amount != cartTotal {
			t.Fatalf("checkout in DE: %+v (cart total %s)", out, cartTotal)
		}
		// Lines + shipping = total (German prices include VAT).
		sum := minor(t, o.TotalShippingPrice.Amount, "EUR")
		for _, l := range o.LineItems {
			sum += minor(t, l.DiscountedTotalPrice.Amount, "EUR")
		}
		if sum != minor(t, o.TotalPrice.Amount, "EUR") || !o.TaxesIncluded {
			t.Fatalf("lines and shipping %d ≠ total %s", sum, o.TotalPrice.Amount)
		}
		var so struct {
			Order struct {
				CurrencyCode string
				MarketHandle *string
				ShopAmounts  struct {
					CurrencyCode, ExchangeRate                                              string
					SubtotalPrice, TotalDiscounts, TotalShippingPrice, TotalTax, TotalPrice struct{ Amount string }
				}
			}
		}
		mustData(t, e.do(t, staff, `query($id: ID!) { order(id: $id) { currencyCode marketHandle shopAmounts { currencyCode exchangeRate
			subtotalPrice { amount } totalDiscounts { amount } totalShippingPrice { amount } totalTax { amount } totalPrice { amount } } } }`, map[string]any{"id": o.ID}), &so)
		sa := so.Order.ShopAmounts
		if so.Order.CurrencyCode != "EUR" || so.Order.MarketHandle == nil || *so.Order.MarketHandle != "europe" || sa.CurrencyCode != "USD" || sa.ExchangeRate != "0.92" {
			t.Fatalf("order currencies: %+v", so.Order)
		}
		m := func(s struct{ Amount string }) int64 { return minor(t, s.Amount, "USD") }
		if m(sa.SubtotalPrice)-m(sa.TotalDiscounts)+m(sa.TotalShippingPrice) != m(sa.TotalPrice) {
			t.Fatalf("shop-currency figures do not add up: %+v", sa)
		}
		// Converted back at 0.92: within a cent per figure of total / 0.92.
		if want := minor(t, o.TotalPrice.Amount, "EUR") * 100 / 92; m(sa.TotalPrice) < want-3 || m(sa.TotalPrice) > want+3 {
			t.Fatalf("shop total %d USD minor, presentment total %s EUR", m(sa.TotalPrice), o.TotalPrice.Amount)
		}
		var intent string
		if err := e.db.Pool.QueryRow(ctx, `SELECT payment_intent_id FROM orders WHERE id = $1`, strings.TrimPrefix(o.ID, "gid://cartograph/Order/")).Scan(&intent); err != nil {
			t.Fatal(err)
		}
		if rec.IntentCurrency(intent) != "eur" || rec.Intents()[intent] != minor(t, o.TotalPrice.Amount, "EUR") {
			t.Fatalf("PaymentIntent %s: %d %s, order total %s EUR", intent, rec.Intents()[intent], rec.IntentCurrency(intent), o.TotalPrice.Amount)
		}
	})

	t.Run("RateChangeBetweenCartAndCheckoutIsChargedAtCheckout", func(t *testing.T) {
		var out struct{ MarketFixedPricesSet marketPayload }
		mustData(t, e.do(t, staff, fixedSet, map[string]any{"m": europeID, "p": []map[string]any{{"variantId": v}}}), &out) // back to the price list rule
		c := e.newCart(t, h, v, 1)
		before := e.cartOp(t, h, "cartBuyerIdentityUpdate", setBuyer, map[string]any{"c": c, "country": "DE"}).Cart.Lines.Nodes[0].Cost.AmountPerQuantity.Amount
		// A new rate from elsewhere (another instance, or SQL): this
		// instance's snapshot does not know it yet; checkout reads fresh.
		e.exec(t, `INSERT INTO exchange_rates (shop_id, currency_code, rate_e10, set_by) SELECT id, 'EUR', 15000000000, 'test' FROM shops WHERE handle = 'apparel'`)
		o := e.pricedCheckout(t, h, c, "market-order-2", "ada@example.com", "DE", "", "international").CheckoutBegin.Order
		if o == nil {
			t.Fatal("no order")
		}
		p := minor(t, o.SubtotalPrice.Amount, "EUR")
		if o.SubtotalPrice.Amount == before || p%100 != 99 || p*100 < base*150 || p*100 >= base*150+10000 {
			t.Fatalf("charged %s after the rate became 1.5 (cart said %s at 0.92, base %d)", o.SubtotalPrice.Amount, before, base)
		}
	})

	t.Run("CountryNoMarketSellsToIsRefused", func(t *testing.T) {
		before := e.count(t, `SELECT count(*)::int FROM orders`)
		out := e.pricedCheckout(t, h, e.newCart(t, h, v, 1), "market-order-3", "ada@example.com", "JP", "", "")
		if userErrorCode(out) != "UNSUPPORTED_COUNTRY" || !strings.Contains(out.CheckoutBegin.UserErrors[0].Message, "does not sell") {
			b, _ := json.Marshal(out)
			t.Fatalf("checkout to JP: %s", b)
		}
		if e.count(t, `SELECT count(*)::int FROM orders`) != before {
			t.Fatal("an order was placed for a country no market sells to")
		}
	})

	t.Run("ConcurrentCreatesOfOneHandle", func(t *testing.T) {
		// Ten staff requests race for one handle and one country: one wins,
		// the others get a coded user error, never a 500 or a second row.
		var wg sync.WaitGroup
		got := make([]marketPayload, 10)
		for i := range got {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				var out struct{ MarketCreate marketPayload }
				mustData(t, e.do(t, staff, marketCreate, map[string]any{"in": with(with(europe, "handle", "nordics"), "countries", []string{"SE"})}), &out)
				got[i] = out.MarketCreate
			}(i)
		}
		wg.Wait()
		won := 0
		for _, p := range got {
			switch {
			case p.Market != nil:
				won++
			case len(p.UserErrors) == 0:
				t.Fatalf("neither a market nor a user error: %+v", p)
			}
		}
		if won != 1 || e.count(t, `SELECT count(*)::int FROM markets WHERE handle = 'nordics'`) != 1 || e.count(t, `SELECT count(*)::int FROM market_countries WHERE country = 'SE'`) != 1 {
			t.Fatalf("%d of 10 concurrent creates won: %+v", won, got)
		}
	})
}
