package graph

import (
	"context"

	"cartograph/graph/model"
	"cartograph/internal/apperr"
	"cartograph/internal/catalog"
	"cartograph/internal/loaders"
	"cartograph/internal/markets"
	"cartograph/internal/money"
	"cartograph/internal/relay"
	"cartograph/internal/shop"
)

// marketInput maps a MarketInput; a malformed percentage is a user error.
func marketInput(in model.MarketInput) (markets.Input, []apperr.UserError) {
	out := markets.Input{Handle: in.Handle, Name: in.Name, Currency: in.CurrencyCode, Rounding: markets.RoundNone,
		Enabled: deref(in.Enabled, true), Primary: deref(in.Primary, false)}
	if in.Rounding != nil {
		out.Rounding = markets.Rounding(*in.Rounding)
	}
	for _, c := range in.Countries {
		out.Countries = append(out.Countries, string(c))
	}
	if in.PriceAdjustmentPercentage != nil {
		v, err := money.ParseMinor(*in.PriceAdjustmentPercentage, 2)
		if err != nil {
			return out, []apperr.UserError{{Field: []string{"input", "priceAdjustmentPercentage"}, Code: "INVALID_ADJUSTMENT", Message: "a percentage with at most 2 decimals"}}
		}
		out.Adjustment = v
	}
	return out, nil
}

func marketModel(snap *markets.Snapshot, m *markets.Market) *model.Market {
	out := &model.Market{ID: relay.GlobalID("Market", m.ID), Handle: m.Handle, Name: m.Name, CurrencyCode: m.Currency,
		PriceAdjustmentPercentage: money.FormatDecimal(m.Adjustment, 2), Rounding: model.MarketPriceRounding(m.Rounding),
		Primary: m.Primary, Enabled: m.Enabled, Countries: make([]model.CountryCode, len(m.Countries))}
	for i, c := range m.Countries {
		out.Countries[i] = model.CountryCode(c)
	}
	if r := snap.RateOf(m); r != "" {
		out.ExchangeRate = &r
	}
	return out
}

func (r *Resolver) marketPayload(ctx context.Context, m *markets.Market, ues []apperr.UserError, err error) (*model.MarketPayload, error) {
	if err != nil {
		return nil, err
	}
	out := &model.MarketPayload{UserErrors: ptrs(ues)}
	if m != nil {
		sh, err := shop.FromContext(ctx)
		if err != nil {
			return nil, err
		}
		snap, err := r.Markets.For(ctx, sh)
		if err != nil {
			return nil, err
		}
		out.Market = marketModel(snap, m)
	}
	return out, nil
}

func exchangeRateModel(rt markets.Rate) *model.ExchangeRate {
	return &model.ExchangeRate{CurrencyCode: rt.Currency, Rate: rt.Decimal(), SetBy: rt.SetBy, SetAt: rt.SetAt}
}

// contextualPrice prices v in the market of country. v is at base prices
// unless the request runs in a market (@inContext); then the base variant
// comes from the base-price loader (one batch for all variants).
func (r *Resolver) contextualPrice(ctx context.Context, v *catalog.Variant, country string) (markets.ContextualPrice, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return markets.ContextualPrice{}, err
	}
	snap, err := r.Markets.For(ctx, sh)
	if err != nil {
		return markets.ContextualPrice{}, err
	}
	if catalog.PresenterFrom(ctx) != nil {
		base, err := loaders.For(ctx).BaseVariantByID().Load(ctx, v.ID)()
		if err != nil {
			return markets.ContextualPrice{}, err
		}
		if base == nil {
			return markets.ContextualPrice{}, apperr.New(apperr.NotFound, "variant not found")
		}
		v = base
	}
	return snap.VariantPrice(v, country), nil
}
