// Package taxes owns a shop's tax rates per country and region: whether
// prices there include tax (EU/UK) or have it added (US), and whether
// shipping is taxed. Cart pricing asks ForDestination; staff set rates with
// SetRate (settings:write). Errors: UNAUTHENTICATED/FORBIDDEN, user errors
// for bad input, INTERNAL.
package taxes

import (
	"context"
	"regexp"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"
	"cartograph/internal/pricing"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Service reads and manages tax rates.
type Service struct{ q *dbq.Queries }

// New returns a tax service.
func New(db *pgxpool.Pool) *Service { return &Service{q: dbq.New(pg.Tenant{Pool: db})} }

// ForDestination returns the rates of a country plus its region's own
// rates, and whether the country's prices include tax (set on any of its
// rates). No rates: no tax.
func (s *Service) ForDestination(ctx context.Context, shopID uuid.UUID, country, region string) ([]pricing.TaxRate, bool, error) {
	if country == "" {
		return nil, false, nil
	}
	rows, err := s.q.TaxRatesFor(pg.WithShopID(ctx, shopID), dbq.TaxRatesForParams{ShopID: shopID, Country: country, Region: region})
	if err != nil {
		return nil, false, pg.MapError(err)
	}
	out := make([]pricing.TaxRate, len(rows))
	included := false
	for i, r := range rows {
		out[i] = pricing.TaxRate{Title: r.Title, Rate: int64(r.Rate), Shipping: r.Shipping}
		included = included || r.Included
	}
	return out, included, nil
}

// Rate is a tax rate.
type Rate struct {
	ID                 uuid.UUID
	Country, Region    string
	Title              string
	Rate               int64
	Included, Shipping bool
}

var (
	countryRe = regexp.MustCompile(`^[A-Z]{2}$`)
	regionRe  = regexp.MustCompile(`^([A-Z0-9]{1,3})?$`)
)

// SetRate creates or replaces the rate titled in.Title for a country and
// region (settings:write). Rate is in millionths (200000 = 20 %).
func (s *Service) SetRate(ctx context.Context, in Rate) (*Rate, []apperr.UserError, error) {
	if err := auth.Require(ctx, auth.ScopeSettingsWrite); err != nil {
		return nil, nil, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	var ues []apperr.UserError
	add := func(field, code, msg string) {
		ues = append(ues, apperr.UserError{Field: []string{"input", field}, Code: code, Message: msg})
	}
	if !countryRe.MatchString(in.Country) {
		add("countryCode", "INVALID_COUNTRY", "use an ISO 3166-1 alpha-2 country code")
	}
	if !regionRe.MatchString(in.Region) {
		add("region", "INVALID", "use the region part of an ISO 3166-2 code (CA for US-CA)")
	}
	if in.Title == "" || len(in.Title) > 64 {
		add("title", "INVALID", "the title has 1 to 64 characters")
	}
	if in.Rate < 0 || in.Rate > pricing.RateScale {
		add("rate", "INVALID_RATE", "a rate is between 0 and 100 %")
	}
	if len(ues) > 0 {
		return nil, ues, nil
	}
	row, err := s.q.TaxRateUpsert(pg.WithShopID(ctx, sh.ID), dbq.TaxRateUpsertParams{ShopID: sh.ID, Country: in.Country, Region: in.Region,
		Title: in.Title, Rate: int32(in.Rate), Included: in.Included, Shipping: in.Shipping})
	if err != nil {
		return nil, nil, pg.MapError(err)
	}
	return rateFromRow(row), nil, nil
}

func rateFromRow(r dbq.TaxRate) *Rate {
	return &Rate{ID: r.ID, Country: r.Country, Region: r.Region, Title: r.Title, Rate: int64(r.Rate), Included: r.Included, Shipping: r.Shipping}
}

// List returns the shop's tax rates, of one country or all, oldest first
// (settings:write): first 1 to 250, after the last id of the previous page.
func (s *Service) List(ctx context.Context, country *string, first int, after *uuid.UUID) ([]*Rate, error) {
	sh, err := auth.RequireIn(ctx, auth.ScopeSettingsWrite)
	if err != nil {
		return nil, err
	}
	if first < 1 || first > 250 {
		return nil, apperr.BadInput("first", "first is 1 to 250")
	}
	rows, err := s.q.TaxRatesList(pg.WithShopID(ctx, sh.ID), dbq.TaxRatesListParams{ShopID: sh.ID, Country: country, After: after, Lim: int32(first)})
	if err != nil {
		return nil, pg.MapError(err)
	}
	out := make([]*Rate, len(rows))
	for i, r := range rows {
		out[i] = rateFromRow(r)
	}
	return out, nil
}
