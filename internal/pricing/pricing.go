// Package pricing is Cartograph's totals engine: a pure function (no I/O,
// no clock, no database) from priced lines, candidate discounts, the
// destination's shipping rates and tax rates to every amount of a cart or
// an order — per-line discount allocations, shipping, per-line and
// shipping tax, subtotal, total tax and total. Cart reads, checkout and the
// order snapshot all call Compute, so they can never disagree.
//
// Every amount is an int64 in minor units of Input.Currency (JPY 0, USD 2,
// KWD 3 fraction digits, from internal/money); a discount or rate priced in
// another currency never mixes in (it is skipped or not applicable), so a
// presentment currency other than the shop's can be added by handing the
// engine converted inputs.
//
// # Rounding rule (per line, half up, largest remainder)
//
//   - A percentage discount on a line (product/collection scope) is
//     round-half-up(line amount × percent) on that line.
//   - An order-level discount is computed once on its base (the eligible
//     lines' amount after line discounts): round-half-up(base × percent),
//     or min(fixed, base); it is then allocated to the eligible lines in
//     proportion to their amounts by the largest-remainder method (ties to
//     the earlier line), so the allocations sum exactly to the discount.
//   - Tax is computed PER LINE (and on shipping) on the discounted amount:
//     exclusive round-half-up(net × r); inclusive (price includes tax)
//     round-half-up(gross × r / (1 + r)). Several rates on one line (a
//     country rate plus a region rate) are computed as one combined rate,
//     then split among the rates by largest remainder. Totals are sums of
//     the rounded line figures, so lines always add up to the totals.
//
// # Stacking rule
//
// One order-level discount (the one worth most to the buyer, code or
// automatic) + on each line the best product/collection discount (one per
// line) + one free-shipping discount. A code that loses to a better one
// is reported not applicable (DISCOUNT_NOT_HONOURED).
package pricing

import (
	"math/bits"
	"slices"

	"cartograph/internal/money"

	"github.com/google/uuid"
)

// PercentScale is the denominator of a percentage: 10000 = 100 %, so a
// percentage has two decimal places (12.5 % = 1250).
const PercentScale = 10000

// RateScale is the denominator of a tax rate: 1,000,000 = 100 %, so rates
// such as 8.875 % (88750) are exact.
const RateScale = 1_000_000

// Line is a priced line.
type Line struct {
	// Key identifies the line to the caller (e.g. the variant id).
	Key           uuid.UUID
	ProductID     uuid.UUID
	CollectionIDs []uuid.UUID
	// Unit is the unit price in minor units; Quantity > 0.
	Unit     int64
	Quantity int
	// WeightGrams is the weight of ONE unit.
	WeightGrams int64
	// NoShipping marks a line that needs no delivery (digital goods).
	NoShipping bool
}

// Kind is what a discount takes off.
type Kind string

// Discount kinds.
const (
	Percentage   Kind = "PERCENTAGE"
	FixedAmount  Kind = "FIXED_AMOUNT"
	FreeShipping Kind = "FREE_SHIPPING"
)

// Scope is what a discount applies to.
type Scope string

// Discount scopes. A fixed amount with product or collection scope is
// taken off EACH eligible unit (capped at the unit price); with order scope
// it is taken once off the order.
const (
	ScopeOrder       Scope = "ORDER"
	ScopeProducts    Scope = "PRODUCTS"
	ScopeCollections Scope = "COLLECTIONS"
)

// Discount is a candidate discount, already found valid in time and usage
// by its store. The engine decides whether the cart qualifies.
type Discount struct {
	ID uuid.UUID
	// Code is empty for an automatic discount.
	Code  string
	Title string
	Kind  Kind
	Scope Scope
	// Value: for Percentage, hundredths of a percent (0..PercentScale);
	// for FixedAmount, minor units of Currency.
	Value    int64
	Currency money.Currency
	// ProductIDs / CollectionIDs the discount is limited to (by Scope).
	ProductIDs    []uuid.UUID
	CollectionIDs []uuid.UUID
	// MinSubtotal (minor units of Currency, of the eligible lines before
	// any discount) and MinQuantity (eligible units) qualify the cart.
	MinSubtotal int64
	MinQuantity int
	// Reason, when set by the store (DISCOUNT_NOT_FOUND, …), makes the
	// discount not applicable without further evaluation.
	Reason string
}

// WeightBand prices shipments whose weight w satisfies Min ≤ w ≤ Max.
type WeightBand struct {
	MinGrams, MaxGrams int64
	Amount             int64
}

// Rate is a shipping rate offered for the destination.
type Rate struct {
	Handle string
	Title  string
	// Amount is the flat price; when Bands is non-empty the band that holds
	// the shipment's weight prices it instead (no band: not offered).
	Amount int64
	Bands  []WeightBand
	// FreeOver, when set, makes the rate free once the merchandise total
	// after discounts reaches it.
	FreeOver *int64
	Currency money.Currency
}

// TaxRate is a tax rate of the destination.
type TaxRate struct {
	Title string
	// Rate in millionths (RateScale = 100 %).
	Rate int64
	// Shipping: the rate also applies to shipping.
	Shipping bool
}

// Input is everything Compute needs.
type Input struct {
	Currency  money.Currency
	Lines     []Line
	Discounts []Discount
	// Rates are the destination's shipping rates (nil: destination unknown
	// or not shipped to); Selected is the chosen rate's handle.
	Rates    []Rate
	Selected string
	// Taxes apply to the destination; TaxesIncluded means prices include
	// them (EU/UK) rather than being added (US).
	Taxes         []TaxRate
	TaxesIncluded bool
}

// Allocation is the part of one discount taken off one line or shipping.
type Allocation struct {
	// Discount indexes Input.Discounts.
	Discount int
	Amount   int64
}

// TaxLine is the tax of one rate on one line, on shipping or in total.
type TaxLine struct {
	Title  string
	Rate   int64
	Amount int64
}

// LineResult is one line's figures.
type LineResult struct {
	// Subtotal = Unit × Quantity.
	Subtotal int64
	// Allocations by discount (line-level first, then order-level).
	Allocations []Allocation
	// Discount is the sum of Allocations; Total = Subtotal − Discount.
	Discount int64
	Total    int64
	Tax      int64
	TaxLines []TaxLine
}

// Option is a delivery option offered for the cart.
type Option struct {
	Handle, Title string
	// Amount is the price (after FreeOver), before shipping discounts.
	Amount int64
}

// Shipping is the selected delivery option's figures.
type Shipping struct {
	Option
	Allocations []Allocation
	Discount    int64
	// Total = Amount − Discount.
	Total    int64
	Tax      int64
	TaxLines []TaxLine
}

// DiscountResult says whether one input discount applied, and how much.
type DiscountResult struct {
	Applicable bool
	// Reason is a Shopify CartWarningCode when not applicable.
	Reason string
	Amount int64
}

// Result is a priced cart.
type Result struct {
	Currency  money.Currency
	Lines     []LineResult
	Discounts []DiscountResult
	// NeedsShipping is set when a line needs delivery.
	NeedsShipping bool
	// Options are the offered delivery options (cheapest first); Shipping
	// is the selected one (nil when none is selected or the selection is
	// not offered: then SelectionInvalid is set if something was selected).
	Options          []Option
	Shipping         *Shipping
	SelectionInvalid bool
	// Subtotal is Σ line Subtotal (before discounts).
	Subtotal int64
	// LineDiscounts is Σ line-level allocations, OrderDiscounts Σ
	// order-level ones, ShippingDiscount the shipping discount.
	LineDiscounts, OrderDiscounts, ShippingDiscount int64
	// Merchandise is Σ line Total (after all merchandise discounts).
	Merchandise int64
	TaxLines    []TaxLine
	TotalTax    int64
	// TaxesIncluded echoes Input.TaxesIncluded.
	TaxesIncluded bool
	// Total is what the buyer pays: Merchandise + shipping total, plus
	// TotalTax when taxes are not included in prices.
	Total int64
	// WeightGrams is the shipment's weight.
	WeightGrams int64
}

// Reasons a discount does not apply (Shopify's CartWarningCode names).
const (
	ReasonNotFound           = "DISCOUNT_NOT_FOUND"
	ReasonInactive           = "DISCOUNT_CURRENTLY_INACTIVE"
	ReasonUsageLimit         = "DISCOUNT_USAGE_LIMIT_REACHED"
	ReasonCustomerLimit      = "DISCOUNT_CUSTOMER_USAGE_LIMIT_REACHED"
	ReasonNotInRange         = "DISCOUNT_PURCHASE_NOT_IN_RANGE"
	ReasonQuantity           = "DISCOUNT_QUANTITY_NOT_IN_RANGE"
	ReasonNoEntitledLines    = "DISCOUNT_NO_ENTITLED_LINE_ITEMS"
	ReasonNoShipping         = "DISCOUNT_NO_ENTITLED_SHIPPING_LINES"
	ReasonNotHonoured        = "DISCOUNT_NOT_HONOURED"
	ReasonWrongCurrency      = "DISCOUNT_INCOMPATIBLE_PURCHASE_TYPE"
	ReasonCustomerMissing    = "DISCOUNT_ELIGIBLE_CUSTOMER_MISSING"
	ReasonCustomerIneligible = "DISCOUNT_CUSTOMER_NOT_ELIGIBLE"
)

// Compute prices in. It never fails: amounts are assumed to fit int64
// (the cart refuses line totals that would overflow before calling it);
// intermediate products use 128-bit arithmetic.
func Compute(in Input) Result {
	r := Result{Currency: in.Currency, TaxesIncluded: in.TaxesIncluded,
		Lines: make([]LineResult, len(in.Lines)), Discounts: make([]DiscountResult, len(in.Discounts))}
	for i, l := range in.Lines {
		r.Lines[i].Subtotal = l.Unit * int64(l.Quantity)
		r.Subtotal += r.Lines[i].Subtotal
		if !l.NoShipping {
			r.NeedsShipping = true
			r.WeightGrams += l.WeightGrams * int64(l.Quantity)
		}
	}
	eligible := make([][]bool, len(in.Discounts))
	for d, disc := range in.Discounts {
		eligible[d] = qualify(in, disc, &r.Discounts[d])
	}

	// Line-level discounts: on each line, the best one.
	lineAmt := make([][]int64, len(in.Discounts))
	for d, disc := range in.Discounts {
		if eligible[d] == nil || disc.Kind == FreeShipping || disc.Scope == ScopeOrder {
			continue
		}
		lineAmt[d] = make([]int64, len(in.Lines))
		for i, l := range in.Lines {
			if !eligible[d][i] {
				continue
			}
			sub := r.Lines[i].Subtotal
			if disc.Kind == Percentage {
				lineAmt[d][i] = mulDivHalfUp(sub, disc.Value, PercentScale)
			} else {
				lineAmt[d][i] = min(disc.Value, l.Unit) * int64(l.Quantity)
			}
		}
	}
	for i := range in.Lines {
		best, bestAmt := -1, int64(0)
		for d := range in.Discounts {
			if lineAmt[d] != nil && lineAmt[d][i] > bestAmt {
				best, bestAmt = d, lineAmt[d][i]
			}
		}
		if best >= 0 {
			r.Lines[i].Allocations = append(r.Lines[i].Allocations, Allocation{Discount: best, Amount: bestAmt})
			r.Lines[i].Discount += bestAmt
			r.Discounts[best].Amount += bestAmt
			r.LineDiscounts += bestAmt
		}
	}
	for d := range in.Discounts {
		if lineAmt[d] != nil && r.Discounts[d].Amount == 0 {
			notApplicable(&r.Discounts[d], ReasonNotHonoured)
		}
	}

	// Order-level discount: the one worth most.
	best, bestAmt := -1, int64(0)
	orderAmt := make([]int64, len(in.Discounts))
	for d, disc := range in.Discounts {
		if eligible[d] == nil || disc.Kind == FreeShipping || disc.Scope != ScopeOrder {
			continue
		}
		var base int64
		for i := range in.Lines {
			base += r.Lines[i].Subtotal - r.Lines[i].Discount
		}
		if disc.Kind == Percentage {
			orderAmt[d] = mulDivHalfUp(base, disc.Value, PercentScale)
		} else {
			orderAmt[d] = min(disc.Value, base)
		}
		if orderAmt[d] > bestAmt || best < 0 {
			best, bestAmt = d, orderAmt[d]
		}
	}
	for d, disc := range in.Discounts {
		if eligible[d] != nil && disc.Kind != FreeShipping && disc.Scope == ScopeOrder && d != best {
			notApplicable(&r.Discounts[d], ReasonNotHonoured)
		}
	}
	if best >= 0 && bestAmt > 0 {
		weights := make([]int64, len(in.Lines))
		for i := range in.Lines {
			weights[i] = r.Lines[i].Subtotal - r.Lines[i].Discount
		}
		for i, a := range Allocate(bestAmt, weights) {
			if a > 0 {
				r.Lines[i].Allocations = append(r.Lines[i].Allocations, Allocation{Discount: best, Amount: a})
				r.Lines[i].Discount += a
			}
		}
		r.Discounts[best].Amount = bestAmt
		r.OrderDiscounts = bestAmt
	}
	for i := range r.Lines {
		r.Lines[i].Total = r.Lines[i].Subtotal - r.Lines[i].Discount
		r.Merchandise += r.Lines[i].Total
	}

	// Shipping: options for the destination, priced after discounts.
	if r.NeedsShipping {
		for _, rate := range in.Rates {
			if rate.Currency != in.Currency {
				continue
			}
			amt, ok := rate.Amount, true
			if len(rate.Bands) > 0 {
				ok = false
				for _, b := range rate.Bands {
					if r.WeightGrams >= b.MinGrams && r.WeightGrams <= b.MaxGrams {
						amt, ok = b.Amount, true
						break
					}
				}
			}
			if !ok {
				continue
			}
			if rate.FreeOver != nil && r.Merchandise >= *rate.FreeOver {
				amt = 0
			}
			r.Options = append(r.Options, Option{Handle: rate.Handle, Title: rate.Title, Amount: amt})
		}
		slices.SortStableFunc(r.Options, func(a, b Option) int {
			switch {
			case a.Amount < b.Amount:
				return -1
			case a.Amount > b.Amount:
				return 1
			}
			return 0
		})
		for _, o := range r.Options {
			if o.Handle == in.Selected {
				r.Shipping = &Shipping{Option: o, Total: o.Amount}
			}
		}
		r.SelectionInvalid = in.Selected != "" && r.Shipping == nil
	}
	freeShip := -1
	for d, disc := range in.Discounts {
		if eligible[d] == nil || disc.Kind != FreeShipping {
			continue
		}
		if !r.NeedsShipping {
			notApplicable(&r.Discounts[d], ReasonNoShipping)
			continue
		}
		if freeShip >= 0 {
			notApplicable(&r.Discounts[d], ReasonNotHonoured)
			continue
		}
		freeShip = d
	}
	if freeShip >= 0 && r.Shipping != nil && r.Shipping.Amount > 0 {
		a := r.Shipping.Amount
		r.Shipping.Allocations = []Allocation{{Discount: freeShip, Amount: a}}
		r.Shipping.Discount, r.Shipping.Total = a, 0
		r.Discounts[freeShip].Amount = a
		r.ShippingDiscount = a
	}

	// Taxes, per line then shipping.
	for i := range r.Lines {
		r.Lines[i].Tax, r.Lines[i].TaxLines = tax(r.Lines[i].Total, in.Taxes, in.TaxesIncluded, false)
		r.addTax(r.Lines[i].TaxLines)
	}
	if r.Shipping != nil {
		r.Shipping.Tax, r.Shipping.TaxLines = tax(r.Shipping.Total, in.Taxes, in.TaxesIncluded, true)
		r.addTax(r.Shipping.TaxLines)
	}
	r.Total = r.Merchandise
	if r.Shipping != nil {
		r.Total += r.Shipping.Total
	}
	if !in.TaxesIncluded {
		r.Total += r.TotalTax
	}
	return r
}

func notApplicable(d *DiscountResult, reason string) {
	d.Applicable, d.Reason, d.Amount = false, reason, 0
}

// qualify decides whether disc applies to the cart at all and returns which
// lines it is entitled to (nil: not applicable, with the reason set).
func qualify(in Input, disc Discount, out *DiscountResult) []bool {
	if disc.Reason != "" {
		notApplicable(out, disc.Reason)
		return nil
	}
	if disc.Kind == FixedAmount && disc.Currency != in.Currency || disc.Kind == Percentage && (disc.Value < 0 || disc.Value > PercentScale) {
		notApplicable(out, ReasonWrongCurrency)
		return nil
	}
	el := make([]bool, len(in.Lines))
	var sub int64
	qty, found := 0, false
	for i, l := range in.Lines {
		ok := true
		switch disc.Scope {
		case ScopeProducts:
			ok = slices.Contains(disc.ProductIDs, l.ProductID)
		case ScopeCollections:
			ok = slices.ContainsFunc(l.CollectionIDs, func(c uuid.UUID) bool { return slices.Contains(disc.CollectionIDs, c) })
		}
		if ok {
			el[i], found = true, true
			sub += l.Unit * int64(l.Quantity)
			qty += l.Quantity
		}
	}
	switch {
	case !found:
		notApplicable(out, ReasonNoEntitledLines)
		return nil
	case disc.MinSubtotal > 0 && (disc.Currency != in.Currency || sub < disc.MinSubtotal):
		notApplicable(out, ReasonNotInRange)
		return nil
	case qty < disc.MinQuantity:
		notApplicable(out, ReasonQuantity)
		return nil
	}
	out.Applicable = true
	return el
}

// tax computes the tax of amount under rates (only shipping-taxing rates
// when shipping): one combined rate rounded half up, split among the rates
// by largest remainder.
func tax(amount int64, rates []TaxRate, included, shipping bool) (int64, []TaxLine) {
	var lines []TaxLine
	var combined int64
	for _, t := range rates {
		if t.Rate > 0 && (!shipping || t.Shipping) {
			lines = append(lines, TaxLine{Title: t.Title, Rate: t.Rate})
			combined += t.Rate
		}
	}
	if combined == 0 || amount <= 0 {
		if len(lines) == 0 {
			return 0, nil
		}
		return 0, lines
	}
	var total int64
	if included {
		total = mulDivHalfUp(amount, combined, RateScale+combined)
	} else {
		total = mulDivHalfUp(amount, combined, RateScale)
	}
	weights := make([]int64, len(lines))
	for i, l := range lines {
		weights[i] = l.Rate
	}
	for i, a := range Allocate(total, weights) {
		lines[i].Amount = a
	}
	return total, lines
}

func (r *Result) addTax(lines []TaxLine) {
	for _, l := range lines {
		r.TotalTax += l.Amount
		found := false
		for i := range r.TaxLines {
			if r.TaxLines[i].Title == l.Title && r.TaxLines[i].Rate == l.Rate {
				r.TaxLines[i].Amount += l.Amount
				found = true
			}
		}
		if !found {
			r.TaxLines = append(r.TaxLines, l)
		}
	}
}

// Allocate splits total (≥ 0) in proportion to weights (≥ 0) by the
// largest-remainder method: each share is floor(total × w / Σw), and the
// units left over go to the largest remainders (ties to the earlier
// index). The shares always sum to total; with Σw = 0 everything goes to
// the first index.
func Allocate(total int64, weights []int64) []int64 {
	out := make([]int64, len(weights))
	if len(weights) == 0 || total == 0 {
		return out
	}
	var sum int64
	for _, w := range weights {
		sum += w
	}
	if sum <= 0 {
		out[0] = total
		return out
	}
	rems := make([]int64, len(weights))
	left := total
	for i, w := range weights {
		out[i], rems[i] = mulDivRem(total, w, sum)
		left -= out[i]
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rems[a] > rems[b]:
			return -1
		case rems[a] < rems[b]:
			return 1
		}
		return 0
	})
	for k := 0; left > 0; k = (k + 1) % len(order) {
		out[order[k]]++
		left--
	}
	return out
}

// mulDivRem returns floor(a×b/c) and the remainder, for a, b ≥ 0, c > 0,
// in 128-bit arithmetic (the quotient must fit int64, which holds whenever
// b ≤ c).
func mulDivRem(a, b, c int64) (int64, int64) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, r := bits.Div64(hi, lo, uint64(c))
	return int64(q), int64(r)
}

// mulDivHalfUp returns a×b/c rounded half up, for a, b ≥ 0, c > 0 and
// b ≤ c.
func mulDivHalfUp(a, b, c int64) int64 {
	q, r := mulDivRem(a, b, c)
	if 2*uint64(r) >= uint64(c) {
		q++
	}
	return q
}
