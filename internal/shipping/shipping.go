// Package shipping owns a shop's shipping zones (sets of countries and
// regions) and their rates: flat, by weight band, free over a threshold.
// Cart pricing asks ForDestination for the rates of an address; staff
// manage zones and rates with CreateZone/CreateRate/DeactivateRate
// (settings:write). Errors: UNAUTHENTICATED/FORBIDDEN, NOT_FOUND, user
// errors for bad input (INVALID_AMOUNT, UNKNOWN_CURRENCY, OVERLAPPING_BANDS,
// …), INTERNAL.
package shipping

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/dbq"
	"cartograph/internal/money"
	"cartograph/internal/pg"
	"cartograph/internal/pricing"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Service reads and manages shipping zones and rates.
type Service struct {
	q *dbq.Queries
}

// New returns a shipping service.
func New(db *pgxpool.Pool) *Service { return &Service{q: dbq.New(pg.Tenant{Pool: db})} }

type band struct {
	Min    int64 `json:"min"`
	Max    int64 `json:"max"`
	Amount int64 `json:"amount"`
}

// ForDestination returns the active rates of the zones holding country
// (ISO alpha-2) or its region (country + "-" + region, e.g. US-CA), and
// whether the shop has configured shipping at all. No rates for a
// configured shop: it does not ship there. A shop without any zone ships
// everywhere without a delivery charge (as before shipping existed).
func (s *Service) ForDestination(ctx context.Context, shopID uuid.UUID, country, region string) ([]pricing.Rate, bool, error) {
	if country == "" {
		return nil, true, nil
	}
	rates, err := s.forDestination(ctx, shopID, country, region)
	if err != nil || len(rates) > 0 {
		return rates, true, err
	}
	configured, err := s.q.ShippingConfigured(pg.WithShopID(ctx, shopID), shopID)
	return nil, configured, pg.MapError(err)
}

func (s *Service) forDestination(ctx context.Context, shopID uuid.UUID, country, region string) ([]pricing.Rate, error) {
	areas := []string{country}
	if region != "" {
		areas = append(areas, country+"-"+region)
	}
	rows, err := s.q.ShippingRatesForArea(pg.WithShopID(ctx, shopID), dbq.ShippingRatesForAreaParams{ShopID: shopID, Areas: areas})
	if err != nil {
		return nil, pg.MapError(err)
	}
	out := make([]pricing.Rate, 0, len(rows))
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.Handle] { // two zones hold the address: the cheaper rate of a handle wins
			continue
		}
		seen[r.Handle] = true
		out = append(out, pricingRate(r))
	}
	return out, nil
}

// pricingRate maps a stored rate (its bands as JSON) to the engine's.
func pricingRate(r dbq.ShippingRate) pricing.Rate {
	rate := pricing.Rate{Handle: r.Handle, Title: r.Title, Amount: r.Amount, FreeOver: r.FreeOver, Currency: r.CurrencyCode}
	var bands []band
	_ = json.Unmarshal(r.Bands, &bands)
	for _, b := range bands {
		rate.Bands = append(rate.Bands, pricing.WeightBand{MinGrams: b.Min, MaxGrams: b.Max, Amount: b.Amount})
	}
	return rate
}

var (
	areaRe   = regexp.MustCompile(`^[A-Z]{2}(-[A-Z0-9]{1,3})?$`)
	handleRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
)

// Zone is a shipping zone.
type Zone struct {
	ID    uuid.UUID
	Name  string
	Areas []string
}

// CreateZone creates a zone of countries ("DE") and regions ("US-CA")
// (settings:write).
func (s *Service) CreateZone(ctx context.Context, name string, areas []string) (*Zone, []apperr.UserError, error) {
	if err := auth.Require(ctx, auth.ScopeSettingsWrite); err != nil {
		return nil, nil, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	var ues []apperr.UserError
	if name == "" || len(name) > 255 {
		ues = append(ues, apperr.UserError{Field: []string{"input", "name"}, Code: "INVALID", Message: "the name has 1 to 255 characters"})
	}
	if len(areas) == 0 || len(areas) > 300 {
		ues = append(ues, apperr.UserError{Field: []string{"input", "areas"}, Code: "INVALID", Message: "a zone holds 1 to 300 countries or regions"})
	}
	for i, a := range areas {
		if !areaRe.MatchString(a) {
			ues = append(ues, apperr.UserError{Field: []string{"input", "areas", strconv.Itoa(i)}, Code: "INVALID_COUNTRY", Message: "use an ISO country code (DE) or region code (US-CA)"})
		}
	}
	if len(ues) > 0 {
		return nil, ues, nil
	}
	row, err := s.q.ShippingZoneInsert(pg.WithShopID(ctx, sh.ID), dbq.ShippingZoneInsertParams{ShopID: sh.ID, Name: name, Areas: areas})
	if err != nil {
		return nil, nil, pg.MapError(err)
	}
	return &Zone{ID: row.ID, Name: row.Name, Areas: row.Areas}, nil, nil
}

// RateInput is a new rate. Bands, when given, price by the shipment's
// weight in grams (inclusive bounds, non-overlapping).
type RateInput struct {
	ZoneID   uuid.UUID
	Handle   string
	Title    string
	Amount   int64
	Currency money.Currency
	Bands    []pricing.WeightBand
	FreeOver *int64
}

// Rate is a shipping rate as staff see it.
type Rate struct {
	ID     uuid.UUID
	ZoneID uuid.UUID
	// Active is false once deactivated (no longer offered).
	Active bool
	pricing.Rate
}

// ValidateRate returns the coded user errors of in.
func ValidateRate(in RateInput) []apperr.UserError {
	var ues []apperr.UserError
	add := func(field, code, msg string) {
		ues = append(ues, apperr.UserError{Field: []string{"input", field}, Code: code, Message: msg})
	}
	if !handleRe.MatchString(in.Handle) {
		add("handle", "INVALID", "a handle has 1 to 64 lower-case letters, digits and dashes")
	}
	if in.Title == "" || len(in.Title) > 255 {
		add("title", "INVALID", "the title has 1 to 255 characters")
	}
	if in.Amount < 0 {
		add("amount", "INVALID_AMOUNT", "the amount must not be negative")
	}
	if !in.Currency.Valid() {
		add("currencyCode", "UNKNOWN_CURRENCY", "unknown currency")
	}
	if in.FreeOver != nil && *in.FreeOver < 0 {
		add("freeOver", "INVALID_AMOUNT", "the threshold must not be negative")
	}
	if len(in.Bands) > 50 {
		add("weightBands", "TOO_MANY", "at most 50 weight bands")
	}
	bands := slices.Clone(in.Bands)
	slices.SortFunc(bands, func(a, b pricing.WeightBand) int { return int(a.MinGrams - b.MinGrams) })
	for i, b := range bands {
		if b.MinGrams < 0 || b.MaxGrams < b.MinGrams || b.Amount < 0 {
			add("weightBands", "INVALID_BAND", "a band has 0 ≤ min ≤ max grams and a non-negative amount")
			break
		}
		if i > 0 && b.MinGrams <= bands[i-1].MaxGrams {
			add("weightBands", "OVERLAPPING_BANDS", "weight bands must not overlap")
			break
		}
	}
	return ues
}

// CreateRate adds a rate to a zone (settings:write). NOT_FOUND for an
// unknown zone; TAKEN when the zone already has the handle.
func (s *Service) CreateRate(ctx context.Context, in RateInput) (*Rate, []apperr.UserError, error) {
	if err := auth.Require(ctx, auth.ScopeSettingsWrite); err != nil {
		return nil, nil, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	if in.Currency == "" {
		in.Currency = sh.CurrencyCode
	}
	if ues := ValidateRate(in); len(ues) > 0 {
		return nil, ues, nil
	}
	bands := make([]band, len(in.Bands))
	for i, b := range in.Bands {
		bands[i] = band{Min: b.MinGrams, Max: b.MaxGrams, Amount: b.Amount}
	}
	bj, _ := json.Marshal(bands)
	row, err := s.q.ShippingRateInsert(pg.WithShopID(ctx, sh.ID), dbq.ShippingRateInsertParams{ShopID: sh.ID, ZoneID: in.ZoneID, Handle: in.Handle,
		Title: in.Title, Amount: in.Amount, CurrencyCode: in.Currency, Bands: bj, FreeOver: in.FreeOver})
	if err != nil {
		switch e := pg.MapError(err); apperr.CodeOf(e) {
		case apperr.Conflict:
			return nil, []apperr.UserError{{Field: []string{"input", "handle"}, Code: "TAKEN", Message: "the zone already has a rate with this handle"}}, nil
		case apperr.NotFound, apperr.BadUserInput:
			return nil, []apperr.UserError{{Field: []string{"input", "zoneId"}, Code: "NOT_FOUND", Message: "no such shipping zone"}}, nil
		default:
			return nil, nil, e
		}
	}
	return &Rate{ID: row.ID, ZoneID: row.ZoneID, Active: row.Active, Rate: pricing.Rate{Handle: row.Handle, Title: row.Title, Amount: row.Amount, Bands: in.Bands,
		FreeOver: row.FreeOver, Currency: row.CurrencyCode}}, nil, nil
}

// DeactivateRate stops offering a rate (settings:write). NOT_FOUND for an
// unknown rate.
func (s *Service) DeactivateRate(ctx context.Context, id uuid.UUID) error {
	if err := auth.Require(ctx, auth.ScopeSettingsWrite); err != nil {
		return err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return err
	}
	n, err := s.q.ShippingRateDeactivate(pg.WithShopID(ctx, sh.ID), dbq.ShippingRateDeactivateParams{ShopID: sh.ID, ID: id})
	if err != nil {
		return pg.MapError(err)
	}
	if n == 0 {
		return apperr.New(apperr.NotFound, "no such shipping rate")
	}
	return nil
}

// Zones returns the shop's shipping zones, oldest first (settings:write):
// first 1 to 250, after the last id of the previous page.
func (s *Service) Zones(ctx context.Context, first int, after *uuid.UUID) ([]*Zone, error) {
	sh, err := adminShop(ctx, first)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.ShippingZonesList(pg.WithShopID(ctx, sh.ID), dbq.ShippingZonesListParams{ShopID: sh.ID, After: after, Lim: int32(first)})
	if err != nil {
		return nil, pg.MapError(err)
	}
	out := make([]*Zone, len(rows))
	for i, r := range rows {
		out[i] = &Zone{ID: r.ID, Name: r.Name, Areas: r.Areas}
	}
	return out, nil
}

// Rates returns the shop's shipping rates (active or not), of one zone or
// all, oldest first (settings:write): first 1 to 250.
func (s *Service) Rates(ctx context.Context, zone *uuid.UUID, first int, after *uuid.UUID) ([]*Rate, error) {
	sh, err := adminShop(ctx, first)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.ShippingRatesList(pg.WithShopID(ctx, sh.ID), dbq.ShippingRatesListParams{ShopID: sh.ID, ZoneID: zone, After: after, Lim: int32(first)})
	if err != nil {
		return nil, pg.MapError(err)
	}
	out := make([]*Rate, len(rows))
	for i, r := range rows {
		out[i] = &Rate{ID: r.ID, ZoneID: r.ZoneID, Active: r.Active, Rate: pricingRate(r)}
	}
	return out, nil
}

// adminShop authorizes a settings read, then checks first (1 to 250).
func adminShop(ctx context.Context, first int) (*shop.Shop, error) {
	sh, err := auth.RequireIn(ctx, auth.ScopeSettingsWrite)
	if err == nil && (first < 1 || first > 250) {
		err = apperr.BadInput("first", "first is 1 to 250")
	}
	return sh, err
}
