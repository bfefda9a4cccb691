package pricing_test

import (
	"math/rand/v2"
	"testing"

	"cartograph/internal/money"
	"cartograph/internal/pricing"

	"github.com/google/uuid"
)

var (
	p1, p2, p3 = uuid.New(), uuid.New(), uuid.New()
	coll       = uuid.New()
)

func ptr[T any](v T) *T { return &v }

func TestCompute(t *testing.T) {
	vat20 := []pricing.TaxRate{{Title: "VAT", Rate: 200_000, Shipping: true}}
	tests := []struct {
		name string
		in   pricing.Input
		// want: subtotal, line discounts + order discounts, shipping total,
		// total tax, total; and per-line discount and tax.
		subtotal, discount, shipping, tax, total int64
		lineDiscount, lineTax                    []int64
		reasons                                  []string
	}{
		{
			name: "JPY exclusive 10% tax, 15% off rounds half up per line",
			in: pricing.Input{Currency: "JPY",
				Lines:     []pricing.Line{{ProductID: p1, Unit: 333, Quantity: 1}, {ProductID: p2, Unit: 999, Quantity: 1}},
				Discounts: []pricing.Discount{{Code: "X", Kind: pricing.Percentage, Scope: pricing.ScopeProducts, Value: 1500, ProductIDs: []uuid.UUID{p1, p2}}},
				Taxes:     []pricing.TaxRate{{Title: "JCT", Rate: 100_000}}},
			// 333×15% = 49.95 → 50; 999×15% = 149.85 → 150. Tax 283×10% = 28.3 → 28; 849×10% = 84.9 → 85.
			subtotal: 1332, discount: 200, tax: 113, total: 1132 + 113,
			lineDiscount: []int64{50, 150}, lineTax: []int64{28, 85}, reasons: []string{""},
		},
		{
			name: "EUR inclusive 20% VAT extracted, order 10% allocated by largest remainder",
			in: pricing.Input{Currency: "EUR", TaxesIncluded: true,
				Lines: []pricing.Line{{ProductID: p1, Unit: 1000, Quantity: 1}, {ProductID: p2, Unit: 1000, Quantity: 1}, {ProductID: p3, Unit: 1001, Quantity: 1}},
				// 3001 × 3.33% = 99.9333 → 100, split 33.32/33.32/33.35 → 33, 33, 34 (largest remainder to the 1001 line).
				Discounts: []pricing.Discount{{Code: "O", Kind: pricing.Percentage, Scope: pricing.ScopeOrder, Value: 333}},
				Taxes:     vat20},
			// Lines 967, 967, 967: VAT = 967/6 = 161.17 → 161 each.
			subtotal: 3001, discount: 100, tax: 483, total: 2901,
			lineDiscount: []int64{33, 33, 34}, lineTax: []int64{161, 161, 161}, reasons: []string{""},
		},
		{
			name: "KWD three decimals, fixed 1.250 off each unit of a collection, 5% exclusive",
			in: pricing.Input{Currency: "KWD",
				Lines:     []pricing.Line{{ProductID: p1, CollectionIDs: []uuid.UUID{coll}, Unit: 4_999, Quantity: 3}, {ProductID: p2, Unit: 2_001, Quantity: 1}},
				Discounts: []pricing.Discount{{Code: "C", Kind: pricing.FixedAmount, Scope: pricing.ScopeCollections, Value: 1_250, Currency: "KWD", CollectionIDs: []uuid.UUID{coll}}},
				Taxes:     []pricing.TaxRate{{Title: "VAT", Rate: 50_000}}},
			// Line 1: 14.997 − 3.750 = 11.247, tax 0.56235 → 0.562; line 2: 2.001, tax 0.10005 → 0.100.
			subtotal: 16_998, discount: 3_750, tax: 662, total: 13_248 + 662,
			lineDiscount: []int64{3_750, 0}, lineTax: []int64{562, 100}, reasons: []string{""},
		},
		{
			name: "USD free-shipping threshold crossed: 50.00 reached, shipping free",
			in: pricing.Input{Currency: "USD",
				Lines:    []pricing.Line{{ProductID: p1, Unit: 5000, Quantity: 1, WeightGrams: 500}},
				Rates:    []pricing.Rate{{Handle: "std", Title: "Standard", Amount: 599, FreeOver: ptr[int64](5000), Currency: "USD"}},
				Selected: "std"},
			subtotal: 5000, total: 5000, lineDiscount: []int64{0}, lineTax: []int64{0},
		},
		{
			name: "USD free-shipping threshold un-crossed by a 10% discount: shipping charged, taxed",
			in: pricing.Input{Currency: "USD",
				Lines:     []pricing.Line{{ProductID: p1, Unit: 5000, Quantity: 1, WeightGrams: 500}},
				Discounts: []pricing.Discount{{Code: "TEN", Kind: pricing.Percentage, Scope: pricing.ScopeOrder, Value: 1000}},
				Rates:     []pricing.Rate{{Handle: "std", Title: "Standard", Amount: 599, FreeOver: ptr[int64](5000), Currency: "USD"}},
				Selected:  "std",
				Taxes:     []pricing.TaxRate{{Title: "NY", Rate: 40_000, Shipping: true}, {Title: "NYC", Rate: 48_750, Shipping: true}}},
			// Merchandise 45.00 < 50.00 → 5.99 shipping. Tax 8.875%: 45.00 → 3.99375 → 3.99; 5.99 → 0.5316 → 0.53.
			subtotal: 5000, discount: 500, shipping: 599, tax: 399 + 53, total: 4500 + 599 + 452,
			lineDiscount: []int64{500}, lineTax: []int64{399}, reasons: []string{""},
		},
		{
			name: "weight bands pick the band; free-shipping code stacks with an order code",
			in: pricing.Input{Currency: "EUR", TaxesIncluded: true,
				Lines: []pricing.Line{{ProductID: p1, Unit: 2000, Quantity: 2, WeightGrams: 1200}},
				Discounts: []pricing.Discount{
					{Code: "SHIP", Kind: pricing.FreeShipping, Scope: pricing.ScopeOrder},
					{Code: "FIVE", Kind: pricing.FixedAmount, Scope: pricing.ScopeOrder, Value: 500, Currency: "EUR"},
				},
				Rates: []pricing.Rate{{Handle: "w", Title: "By weight", Currency: "EUR",
					Bands: []pricing.WeightBand{{MinGrams: 0, MaxGrams: 1999, Amount: 490}, {MinGrams: 2000, MaxGrams: 5000, Amount: 990}}}},
				Selected: "w", Taxes: vat20},
			// 2400 g → 9.90, free. 35.00 incl. VAT → 5.833 → 5.83.
			subtotal: 4000, discount: 500, tax: 583, total: 3500,
			lineDiscount: []int64{500}, lineTax: []int64{583}, reasons: []string{"", ""},
		},
		{
			name: "two order codes: the better one applies, the other is not honoured",
			in: pricing.Input{Currency: "USD",
				Lines: []pricing.Line{{ProductID: p1, Unit: 10000, Quantity: 1}},
				Discounts: []pricing.Discount{
					{Code: "A", Kind: pricing.Percentage, Scope: pricing.ScopeOrder, Value: 1000},
					{Code: "B", Kind: pricing.FixedAmount, Scope: pricing.ScopeOrder, Value: 1500, Currency: "USD"},
				}},
			subtotal: 10000, discount: 1500, total: 8500, lineDiscount: []int64{1500}, lineTax: []int64{0},
			reasons: []string{pricing.ReasonNotHonoured, ""},
		},
		{
			name: "minimums, scope, currency and store reasons",
			in: pricing.Input{Currency: "USD",
				Lines: []pricing.Line{{ProductID: p1, Unit: 1000, Quantity: 1}},
				Discounts: []pricing.Discount{
					{Code: "MIN", Kind: pricing.Percentage, Scope: pricing.ScopeOrder, Value: 1000, MinSubtotal: 1001, Currency: "USD"},
					{Code: "QTY", Kind: pricing.Percentage, Scope: pricing.ScopeOrder, Value: 1000, MinQuantity: 2},
					{Code: "P2", Kind: pricing.Percentage, Scope: pricing.ScopeProducts, Value: 1000, ProductIDs: []uuid.UUID{p2}},
					{Code: "EURO", Kind: pricing.FixedAmount, Scope: pricing.ScopeOrder, Value: 100, Currency: "EUR"},
					{Code: "OLD", Kind: pricing.Percentage, Scope: pricing.ScopeOrder, Value: 1000, Reason: pricing.ReasonInactive},
					{Code: "SHIP", Kind: pricing.FreeShipping, Scope: pricing.ScopeOrder},
				}},
			subtotal: 1000, total: 1000, lineDiscount: []int64{0}, lineTax: []int64{0},
			reasons: []string{pricing.ReasonNotInRange, pricing.ReasonQuantity, pricing.ReasonNoEntitledLines, pricing.ReasonWrongCurrency, pricing.ReasonInactive, ""},
		},
		{
			name: "100% off: total zero, no tax, fixed larger than the order is capped",
			in: pricing.Input{Currency: "USD",
				Lines:     []pricing.Line{{ProductID: p1, Unit: 999, Quantity: 1}},
				Discounts: []pricing.Discount{{Code: "ALL", Kind: pricing.FixedAmount, Scope: pricing.ScopeOrder, Value: 100000, Currency: "USD"}},
				Taxes:     []pricing.TaxRate{{Title: "T", Rate: 100_000}}},
			subtotal: 999, discount: 999, total: 0, lineDiscount: []int64{999}, lineTax: []int64{0}, reasons: []string{""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := pricing.Compute(tt.in)
			var ship int64
			if r.Shipping != nil {
				ship = r.Shipping.Total
			}
			if r.Subtotal != tt.subtotal || r.LineDiscounts+r.OrderDiscounts != tt.discount || ship != tt.shipping || r.TotalTax != tt.tax || r.Total != tt.total {
				t.Fatalf("subtotal %d discount %d shipping %d tax %d total %d; want %d %d %d %d %d",
					r.Subtotal, r.LineDiscounts+r.OrderDiscounts, ship, r.TotalTax, r.Total, tt.subtotal, tt.discount, tt.shipping, tt.tax, tt.total)
			}
			for i, l := range r.Lines {
				if l.Discount != tt.lineDiscount[i] || l.Tax != tt.lineTax[i] {
					t.Errorf("line %d discount %d tax %d; want %d %d", i, l.Discount, l.Tax, tt.lineDiscount[i], tt.lineTax[i])
				}
			}
			for i, d := range r.Discounts {
				if d.Reason != tt.reasons[i] || d.Applicable != (tt.reasons[i] == "") {
					t.Errorf("discount %d: applicable %v reason %q; want reason %q", i, d.Applicable, d.Reason, tt.reasons[i])
				}
			}
			checkInvariants(t, tt.in, r)
		})
	}
}

func TestDeliveryOptions(t *testing.T) {
	in := pricing.Input{Currency: "USD",
		Lines: []pricing.Line{{ProductID: p1, Unit: 1000, Quantity: 1, WeightGrams: 6000}},
		Rates: []pricing.Rate{
			{Handle: "exp", Title: "Express", Amount: 1999, Currency: "USD"},
			{Handle: "std", Title: "Standard", Amount: 499, Currency: "USD"},
			{Handle: "light", Title: "Light parcels", Currency: "USD", Bands: []pricing.WeightBand{{MaxGrams: 5000, Amount: 299}}},
			{Handle: "eur", Title: "Priced in EUR", Amount: 1, Currency: "EUR"},
		},
		Selected: "light"}
	r := pricing.Compute(in)
	if len(r.Options) != 2 || r.Options[0].Handle != "std" || r.Options[1].Handle != "exp" {
		t.Fatalf("options %+v; want std then exp (light is over its band, eur another currency)", r.Options)
	}
	if r.Shipping != nil || !r.SelectionInvalid {
		t.Fatalf("a selection not offered must be invalid: %+v", r.Shipping)
	}
	in.Lines[0].NoShipping = true
	if r := pricing.Compute(in); r.NeedsShipping || len(r.Options) != 0 || r.SelectionInvalid {
		t.Fatalf("digital-only cart offered shipping: %+v", r)
	}
}

func TestAllocate(t *testing.T) {
	got := pricing.Allocate(100, []int64{1, 1, 1})
	if got[0] != 34 || got[1] != 33 || got[2] != 33 {
		t.Fatalf("Allocate(100, 1:1:1) = %v; want ties to the earlier line", got)
	}
	if got := pricing.Allocate(5, []int64{0, 0}); got[0] != 5 {
		t.Fatalf("zero weights: %v", got)
	}
	// 128-bit intermediates: no overflow on huge amounts.
	big := int64(1) << 61
	if got := pricing.Allocate(big, []int64{big, big}); got[0]+got[1] != big {
		t.Fatalf("overflow: %v", got)
	}
}

// TestRandomCartsAddUp prices thousands of random carts in 0-, 2- and
// 3-decimal currencies and checks that every figure adds up exactly.
func TestRandomCartsAddUp(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 42))
	currencies := []money.Currency{"JPY", "USD", "EUR", "KWD", "BHD"}
	products := []uuid.UUID{p1, p2, p3}
	for n := 0; n < 5000; n++ {
		cur := currencies[rng.IntN(len(currencies))]
		in := pricing.Input{Currency: cur, TaxesIncluded: rng.IntN(2) == 0}
		for i := rng.IntN(8); i >= 0; i-- {
			in.Lines = append(in.Lines, pricing.Line{ProductID: products[rng.IntN(3)], Unit: rng.Int64N(1_000_000), Quantity: 1 + rng.IntN(20),
				WeightGrams: rng.Int64N(3000), CollectionIDs: []uuid.UUID{coll}[:rng.IntN(2)]})
		}
		kinds := []pricing.Kind{pricing.Percentage, pricing.FixedAmount, pricing.FreeShipping}
		scopes := []pricing.Scope{pricing.ScopeOrder, pricing.ScopeProducts, pricing.ScopeCollections}
		for i := rng.IntN(4); i > 0; i-- {
			d := pricing.Discount{Kind: kinds[rng.IntN(3)], Scope: scopes[rng.IntN(3)], Currency: cur,
				ProductIDs: products[:1+rng.IntN(3)], CollectionIDs: []uuid.UUID{coll}}
			if d.Kind == pricing.Percentage {
				d.Value = rng.Int64N(pricing.PercentScale + 1)
			} else {
				d.Value = rng.Int64N(500_000)
			}
			in.Discounts = append(in.Discounts, d)
		}
		in.Rates = []pricing.Rate{{Handle: "a", Amount: rng.Int64N(5000), FreeOver: ptr(rng.Int64N(3_000_000)), Currency: cur}}
		if rng.IntN(3) > 0 {
			in.Selected = "a"
		}
		for i := rng.IntN(3); i > 0; i-- {
			in.Taxes = append(in.Taxes, pricing.TaxRate{Title: string(rune('A' + i)), Rate: rng.Int64N(300_000), Shipping: rng.IntN(2) == 0})
		}
		checkInvariants(t, in, pricing.Compute(in))
		if t.Failed() {
			t.Fatalf("input %+v", in)
		}
	}
}

func checkInvariants(t *testing.T, in pricing.Input, r pricing.Result) {
	t.Helper()
	var sub, disc, merch, tax, taxLines int64
	perDiscount := make([]int64, len(in.Discounts))
	for i, l := range r.Lines {
		var alloc, lt int64
		for _, a := range l.Allocations {
			alloc += a.Amount
			perDiscount[a.Discount] += a.Amount
		}
		for _, x := range l.TaxLines {
			lt += x.Amount
		}
		if alloc != l.Discount || l.Total != l.Subtotal-l.Discount || l.Total < 0 || lt != l.Tax || l.Subtotal != in.Lines[i].Unit*int64(in.Lines[i].Quantity) {
			t.Errorf("line %d does not add up: %+v", i, l)
		}
		sub += l.Subtotal
		disc += l.Discount
		merch += l.Total
		tax += l.Tax
	}
	var ship int64
	if r.Shipping != nil {
		var sd, st int64
		for _, a := range r.Shipping.Allocations {
			sd += a.Amount
			perDiscount[a.Discount] += a.Amount
		}
		for _, x := range r.Shipping.TaxLines {
			st += x.Amount
		}
		if sd != r.Shipping.Discount || r.Shipping.Total != r.Shipping.Amount-sd || st != r.Shipping.Tax || r.Shipping.Total < 0 {
			t.Errorf("shipping does not add up: %+v", r.Shipping)
		}
		ship = r.Shipping.Total
		tax += r.Shipping.Tax
	}
	for _, x := range r.TaxLines {
		taxLines += x.Amount
	}
	for d, res := range r.Discounts {
		if res.Amount != perDiscount[d] || (!res.Applicable && res.Amount != 0) {
			t.Errorf("discount %d amount %d, allocated %d", d, res.Amount, perDiscount[d])
		}
	}
	want := merch + ship
	if !in.TaxesIncluded {
		want += tax
	}
	if sub != r.Subtotal || disc != r.LineDiscounts+r.OrderDiscounts || merch != r.Merchandise || tax != r.TotalTax || taxLines != tax || r.Total != want {
		t.Errorf("totals do not add up: sub %d/%d disc %d/%d merch %d/%d tax %d/%d/%d total %d/%d",
			sub, r.Subtotal, disc, r.LineDiscounts+r.OrderDiscounts, merch, r.Merchandise, tax, r.TotalTax, taxLines, r.Total, want)
	}
	if in.TaxesIncluded && r.TotalTax > r.Total {
		t.Errorf("included tax %d exceeds total %d", r.TotalTax, r.Total)
	}
}
