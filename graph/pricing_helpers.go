package graph

import (
	"cartograph/internal/shop"
	"context"
	"strconv"

	"cartograph/graph/model"
	"cartograph/internal/apperr"
	"cartograph/internal/discounts"
	"cartograph/internal/money"
	"cartograph/internal/orders"
	"cartograph/internal/pricing"
	"cartograph/internal/relay"
	"cartograph/internal/shipping"
	"cartograph/internal/taxes"

	"github.com/google/uuid"
)

func orderShippingLine(o *orders.Order) *model.OrderShippingLine {
	s := o.Pricing.ShippingLine
	if s == nil {
		return nil
	}
	m := func(v int64) *money.Money { return &money.Money{Minor: v, Currency: o.CurrencyCode} }
	return &model.OrderShippingLine{Handle: s.Handle, Title: s.Title, OriginalPrice: m(s.Amount), DiscountedPrice: m(s.Amount - s.Discount), Tax: m(s.Tax)}
}

func orderTaxLines(o *orders.Order) []*model.OrderTaxLine {
	out := make([]*model.OrderTaxLine, len(o.Pricing.TaxLines))
	for i, t := range o.Pricing.TaxLines {
		out[i] = &model.OrderTaxLine{Title: t.Title, RatePercentage: ratePercent(t.Rate), Price: &money.Money{Minor: t.Amount, Currency: o.CurrencyCode}}
	}
	return out
}

func orderDiscountApplications(o *orders.Order) []*model.OrderDiscountApplication {
	out := make([]*model.OrderDiscountApplication, len(o.Pricing.DiscountApplications))
	for i, d := range o.Pricing.DiscountApplications {
		out[i] = &model.OrderDiscountApplication{Title: d.Title, Kind: model.DiscountKind(d.Kind), Amount: &money.Money{Minor: d.Amount, Currency: o.CurrencyCode}}
		if d.Code != "" {
			out[i].Code = &d.Code
		}
	}
	return out
}

// ratePercent formats a rate in millionths as a percent (200000 → "20",
// 88750 → "8.875").
func ratePercent(rate int64) string { return money.FormatDecimal(rate, 4) }

// percentOf parses a percent with up to places decimals into units of
// 10^-places percent; malformed → a user error on field.
func percentOf(field, s string, places int) (int64, *apperr.UserError) {
	v, err := money.ParseMinor(s, places)
	if err != nil || v < 0 {
		return 0, &apperr.UserError{Field: []string{"input", field}, Code: "INVALID_PERCENTAGE", Message: "the percentage is not a valid non-negative decimal (at most " + strconv.Itoa(places) + " decimals)"}
	}
	return v, nil
}

func amountOf(field, s string, cur money.Currency) (int64, *apperr.UserError) {
	v, err := money.ParseMinor(s, cur.Exponent())
	if err != nil {
		return 0, &apperr.UserError{Field: []string{"input", field}, Code: "INVALID_AMOUNT", Message: "the amount is not a valid decimal for the currency"}
	}
	if v < 0 {
		return 0, &apperr.UserError{Field: []string{"input", field}, Code: "INVALID_AMOUNT", Message: "the amount must not be negative"}
	}
	return v, nil
}

func idsOf(field, typ string, ids []string) ([]uuid.UUID, *apperr.UserError) {
	out := make([]uuid.UUID, 0, len(ids))
	for _, s := range ids {
		id, err := relay.ParseTypedID(field, typ, s)
		if err != nil {
			return nil, &apperr.UserError{Field: []string{"input", field}, Code: "INVALID", Message: "invalid " + typ + " id"}
		}
		out = append(out, id)
	}
	return out, nil
}

// discountInput maps the GraphQL input; cur is the currency amounts are in.
func discountInput(in model.DiscountInput, cur money.Currency) (discounts.Input, []apperr.UserError) {
	out := discounts.Input{Code: in.Code, Title: in.Title, Kind: pricing.Kind(in.Kind), Scope: pricing.ScopeOrder, StartsAt: in.StartsAt, EndsAt: in.EndsAt,
		UsageLimit: in.UsageLimit, PerCustomerLimit: in.PerCustomerLimit, Active: deref(in.Active, true), MinQuantity: deref(in.MinimumQuantity, 0)}
	if in.Scope != nil {
		out.Scope = pricing.Scope(*in.Scope)
	}
	if in.CurrencyCode != nil {
		out.Currency = *in.CurrencyCode
	} else {
		out.Currency = cur
	}
	var ues []apperr.UserError
	add := func(ue *apperr.UserError) {
		if ue != nil {
			ues = append(ues, *ue)
		}
	}
	if !out.Currency.Valid() {
		return out, []apperr.UserError{{Field: []string{"input", "currencyCode"}, Code: "UNKNOWN_CURRENCY", Message: "unknown currency"}}
	}
	var ue *apperr.UserError
	switch out.Kind {
	case pricing.Percentage:
		if in.Percentage == nil {
			add(&apperr.UserError{Field: []string{"input", "percentage"}, Code: "INVALID_PERCENTAGE", Message: "a percentage discount needs percentage"})
		} else {
			out.Value, ue = percentOf("percentage", *in.Percentage, 2)
			add(ue)
		}
	case pricing.FixedAmount:
		if in.Amount == nil {
			add(&apperr.UserError{Field: []string{"input", "amount"}, Code: "INVALID_AMOUNT", Message: "a fixed-amount discount needs amount"})
		} else {
			out.Value, ue = amountOf("amount", *in.Amount, out.Currency)
			add(ue)
		}
	}
	if in.MinimumSubtotal != nil {
		out.MinSubtotal, ue = amountOf("minimumSubtotal", *in.MinimumSubtotal, out.Currency)
		add(ue)
	}
	out.ProductIDs, ue = idsOf("productIds", "Product", in.ProductIds)
	add(ue)
	out.CollectionIDs, ue = idsOf("collectionIds", "Collection", in.CollectionIds)
	add(ue)
	return out, ues
}

func discountModel(d *discounts.Discount) *model.Discount {
	if d == nil {
		return nil
	}
	m := &model.Discount{ID: relay.GlobalID("Discount", d.ID), Code: d.Code, Title: d.Title, Kind: model.DiscountKind(d.Kind), Scope: model.DiscountScope(d.Scope),
		StartsAt: d.StartsAt, EndsAt: d.EndsAt, UsageLimit: d.UsageLimit, PerCustomerLimit: d.PerCustomerLimit, UsedCount: d.UsedCount, Active: d.Active,
		ProductIds: make([]string, len(d.ProductIDs)), CollectionIds: make([]string, len(d.CollectionIDs))}
	switch d.Kind {
	case pricing.Percentage:
		p := money.FormatMinor(d.Value, 2)
		m.Percentage = &p
	case pricing.FixedAmount:
		m.Amount = &money.Money{Minor: d.Value, Currency: d.Currency}
	}
	if d.MinSubtotal > 0 {
		m.MinimumSubtotal = &money.Money{Minor: d.MinSubtotal, Currency: d.Currency}
	}
	if d.MinQuantity > 0 {
		m.MinimumQuantity = &d.MinQuantity
	}
	for i, id := range d.ProductIDs {
		m.ProductIds[i] = relay.GlobalID("Product", id)
	}
	for i, id := range d.CollectionIDs {
		m.CollectionIds[i] = relay.GlobalID("Collection", id)
	}
	return m
}

func shippingRateModel(r *shipping.Rate) *model.ShippingRate {
	if r == nil {
		return nil
	}
	m := func(v int64) *money.Money { return &money.Money{Minor: v, Currency: r.Currency} }
	out := &model.ShippingRate{ID: relay.GlobalID("ShippingRate", r.ID), ZoneID: relay.GlobalID("ShippingZone", r.ZoneID), Handle: r.Handle, Title: r.Title,
		Price: m(r.Amount), WeightBands: make([]*model.ShippingWeightBand, len(r.Bands)), Active: r.Active}
	for i, b := range r.Bands {
		out.WeightBands[i] = &model.ShippingWeightBand{MinGrams: int(b.MinGrams), MaxGrams: int(b.MaxGrams), Price: m(b.Amount)}
	}
	if r.FreeOver != nil {
		out.FreeOver = m(*r.FreeOver)
	}
	return out
}

func taxRateModel(t *taxes.Rate) *model.TaxRate {
	if t == nil {
		return nil
	}
	return &model.TaxRate{ID: relay.GlobalID("TaxRate", t.ID), CountryCode: t.Country, Region: t.Region, Title: t.Title, RatePercentage: ratePercent(t.Rate),
		Included: t.Included, Shipping: t.Shipping}
}

// shopCurrency is the request's shop currency (amounts in admin input are
// parsed with its exponent unless the input names another currency).
func shopCurrency(ctx context.Context) (money.Currency, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return "", err
	}
	return sh.CurrencyCode, nil
}

// optionalID parses an optional global ID of type typ (nil stays nil).
func optionalID(field, typ string, id *string) (*uuid.UUID, error) {
	if id == nil {
		return nil, nil
	}
	v, err := relay.ParseTypedID(field, typ, *id)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// mapAll maps a list of domain values to their GraphQL models.
func mapAll[T, M any](in []T, f func(T) M) []M {
	out := make([]M, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
