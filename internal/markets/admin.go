package markets

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/dbq"
	"cartograph/internal/localization"
	"cartograph/internal/money"
	"cartograph/internal/pg"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Input is a market as staff create or update it. Handle and Primary are
// fixed once created (an update ignores them).
type Input struct {
	Handle, Name string
	Currency     money.Currency
	// Adjustment is in hundredths of a percent (−9000 … 100000).
	Adjustment int64
	Rounding   Rounding
	Countries  []string
	Enabled    bool
	Primary    bool
}

// Limits of a shop's markets.
const (
	MaxMarkets          = 50
	MaxCountries        = 250
	MaxFixedPerCall     = 250
	MaxFixedPerMarket   = 10_000
	MaxRateHistoryLimit = 250
)

var handleRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

func ue(field, code, msg string) apperr.UserError {
	return apperr.UserError{Field: []string{"input", field}, Code: code, Message: msg}
}

// validate checks in against the shop and its current snapshot; self is
// the market being updated (nil on create).
func validate(sh *shop.Shop, snap *Snapshot, in Input, self *Market) []apperr.UserError {
	var ues []apperr.UserError
	primary := in.Primary
	if self != nil {
		primary = self.Primary
	}
	if self == nil && !handleRe.MatchString(in.Handle) {
		ues = append(ues, ue("handle", "INVALID", "a handle is 1 to 64 lower-case letters, digits and dashes"))
	}
	if in.Name == "" || len(in.Name) > 255 {
		ues = append(ues, ue("name", "INVALID", "the name has 1 to 255 characters"))
	}
	if !in.Currency.Valid() {
		ues = append(ues, ue("currencyCode", "INVALID_CURRENCY", "not a supported currency"))
	}
	if in.Adjustment < -9000 || in.Adjustment > 100000 {
		ues = append(ues, ue("priceAdjustmentPercentage", "INVALID_ADJUSTMENT", "an adjustment is between -90 % and +1000 %"))
	}
	if !in.Rounding.Valid() {
		ues = append(ues, ue("rounding", "INVALID", "unknown rounding rule"))
	}
	if primary && (in.Currency != sh.CurrencyCode || in.Adjustment != 0 || in.Rounding != RoundNone || !in.Enabled) {
		ues = append(ues, ue("primary", "PRIMARY_MARKET_BASE_PRICES",
			"the primary market sells at base prices: the shop's currency ("+string(sh.CurrencyCode)+"), no adjustment, rounding NONE, enabled"))
	}
	switch {
	case self == nil && in.Primary && snap.Primary() != nil:
		ues = append(ues, ue("primary", "PRIMARY_MARKET_EXISTS", "the shop already has a primary market"))
	case self == nil && !in.Primary && snap.Primary() == nil:
		ues = append(ues, ue("primary", "PRIMARY_MARKET_REQUIRED", "create the primary market (the shop's currency, base prices) first"))
	}
	if in.Currency.Valid() && in.Currency != sh.CurrencyCode {
		if _, ok := snap.Rates[in.Currency]; !ok {
			ues = append(ues, ue("currencyCode", "EXCHANGE_RATE_MISSING", "set an exchange rate for "+string(in.Currency)+" first (exchangeRateSet)"))
		}
	}
	if len(in.Countries) == 0 || len(in.Countries) > MaxCountries {
		ues = append(ues, ue("countries", "INVALID", "a market has 1 to "+strconv.Itoa(MaxCountries)+" countries"))
	}
	seen := map[string]bool{}
	for i, c := range in.Countries {
		f := apperr.UserError{Field: []string{"input", "countries", strconv.Itoa(i)}}
		switch {
		case localization.CountryName(c) == "":
			f.Code, f.Message = "INVALID_COUNTRY", c+" is not an ISO 3166-1 alpha-2 country code"
		case seen[c]:
			f.Code, f.Message = "DUPLICATE_COUNTRY", c+" is listed twice"
		default:
			if m := snap.owner(c); m != nil && (self == nil || m.ID != self.ID) {
				f.Code, f.Message = "COUNTRY_IN_OTHER_MARKET", c+" already belongs to the market "+m.Handle
			}
		}
		seen[c] = true
		if f.Code != "" {
			ues = append(ues, f)
		}
	}
	return ues
}

// owner is the market (enabled or not) a country belongs to.
func (s *Snapshot) owner(country string) *Market {
	for _, m := range s.Markets {
		for _, c := range m.Countries {
			if c == country {
				return m
			}
		}
	}
	return nil
}

func (s *Service) admin(ctx context.Context) (*shop.Shop, *Snapshot, error) {
	sh, err := auth.RequireIn(ctx, auth.ScopeSettingsWrite)
	if err != nil {
		return nil, nil, err
	}
	snap, err := s.Fresh(ctx, sh)
	return sh, snap, err
}

// List returns the shop's markets, primary first (settings:write).
func (s *Service) List(ctx context.Context) ([]*Market, *Snapshot, error) {
	_, snap, err := s.admin(ctx)
	if err != nil {
		return nil, nil, err
	}
	return snap.Markets, snap, nil
}

// Create adds a market (settings:write).
func (s *Service) Create(ctx context.Context, in Input) (*Market, []apperr.UserError, error) {
	sh, snap, err := s.admin(ctx)
	if err != nil {
		return nil, nil, err
	}
	if ues := validate(sh, snap, in, nil); len(ues) > 0 {
		return nil, ues, nil
	}
	if len(snap.Markets) >= MaxMarkets {
		return nil, []apperr.UserError{ue("handle", "LIMIT_REACHED", "a shop has at most "+strconv.Itoa(MaxMarkets)+" markets")}, nil
	}
	var id uuid.UUID
	err = pg.WithTenantTx(pg.WithShopID(ctx, sh.ID), s.db, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		var err error
		id, err = q.MarketInsert(ctx, dbq.MarketInsertParams{ShopID: sh.ID, Handle: in.Handle, Name: in.Name, CurrencyCode: in.Currency,
			PriceAdjustment: int32(in.Adjustment), Rounding: string(in.Rounding), IsPrimary: in.Primary, Enabled: in.Enabled})
		if err != nil {
			return err
		}
		return q.MarketCountriesInsert(ctx, countriesParams(sh.ID, id, in.Countries))
	})
	if ues := uniqueErrors(err); ues != nil {
		return nil, ues, nil
	}
	if err != nil {
		return nil, nil, pg.MapError(err)
	}
	return s.changed(ctx, sh, id)
}

// Update changes a market's name, currency, price list rule, countries and
// enabled flag (settings:write). NOT_FOUND for another shop's market.
func (s *Service) Update(ctx context.Context, id uuid.UUID, in Input) (*Market, []apperr.UserError, error) {
	sh, snap, err := s.admin(ctx)
	if err != nil {
		return nil, nil, err
	}
	self := snap.byID(id)
	if self == nil {
		return nil, nil, apperr.New(apperr.NotFound, "no such market")
	}
	if ues := validate(sh, snap, in, self); len(ues) > 0 {
		return nil, ues, nil
	}
	err = pg.WithTenantTx(pg.WithShopID(ctx, sh.ID), s.db, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		if _, err := q.MarketUpdate(ctx, dbq.MarketUpdateParams{ShopID: sh.ID, ID: id, Name: in.Name, CurrencyCode: in.Currency,
			PriceAdjustment: int32(in.Adjustment), Rounding: string(in.Rounding), Enabled: in.Enabled}); err != nil {
			return err
		}
		if err := q.MarketCountriesReplace(ctx, dbq.MarketCountriesReplaceParams{ShopID: sh.ID, MarketID: id}); err != nil {
			return err
		}
		if err := q.MarketCountriesInsert(ctx, countriesParams(sh.ID, id, in.Countries)); err != nil {
			return err
		}
		if in.Currency != self.Currency {
			// Fixed prices were in the old currency: they no longer apply.
			return q.MarketPricesClear(ctx, dbq.MarketPricesClearParams{ShopID: sh.ID, MarketID: id})
		}
		return nil
	})
	if ues := uniqueErrors(err); ues != nil {
		return nil, ues, nil
	}
	if err != nil {
		return nil, nil, pg.MapError(err)
	}
	return s.changed(ctx, sh, id)
}

// Delete removes a market with its countries and fixed prices
// (settings:write); the primary market cannot be deleted.
func (s *Service) Delete(ctx context.Context, id uuid.UUID) ([]apperr.UserError, error) {
	sh, snap, err := s.admin(ctx)
	if err != nil {
		return nil, err
	}
	m := snap.byID(id)
	if m == nil {
		return nil, apperr.New(apperr.NotFound, "no such market")
	}
	if m.Primary {
		return []apperr.UserError{{Field: []string{"id"}, Code: "PRIMARY_MARKET", Message: "the primary market cannot be deleted"}}, nil
	}
	if _, err := s.q.MarketDelete(pg.WithShopID(ctx, sh.ID), dbq.MarketDeleteParams{ShopID: sh.ID, ID: id}); err != nil {
		return nil, pg.MapError(err)
	}
	_, _, err = s.changed(ctx, sh, uuid.Nil)
	return nil, err
}

// FixedPrice sets (Amount non-nil) or removes (nil) a variant's fixed
// price in a market, as decimals in the market's currency.
type FixedPrice struct {
	VariantID uuid.UUID
	Amount    *string
	CompareAt *string
}

// SetFixedPrices sets or removes fixed prices of a market's price list
// (settings:write): all or nothing, up to MaxFixedPerCall per call and
// MaxFixedPerMarket per market. The primary market has none (it sells at
// base prices).
func (s *Service) SetFixedPrices(ctx context.Context, marketID uuid.UUID, ps []FixedPrice) (*Market, []apperr.UserError, error) {
	sh, snap, err := s.admin(ctx)
	if err != nil {
		return nil, nil, err
	}
	m := snap.byID(marketID)
	if m == nil {
		return nil, nil, apperr.New(apperr.NotFound, "no such market")
	}
	if m.Primary {
		return nil, []apperr.UserError{{Field: []string{"marketId"}, Code: "PRIMARY_MARKET", Message: "the primary market sells at base prices; change the variant's price instead"}}, nil
	}
	if len(ps) == 0 || len(ps) > MaxFixedPerCall {
		return nil, []apperr.UserError{{Field: []string{"prices"}, Code: "INVALID", Message: "give 1 to " + strconv.Itoa(MaxFixedPerCall) + " prices"}}, nil
	}
	var ues []apperr.UserError
	up := dbq.MarketPricesUpsertParams{ShopID: sh.ID, MarketID: marketID}
	var del []uuid.UUID
	ids := make([]uuid.UUID, 0, len(ps))
	seen := map[uuid.UUID]bool{}
	for i, p := range ps {
		field := func(f string) []string { return []string{"prices", strconv.Itoa(i), f} }
		if seen[p.VariantID] {
			ues = append(ues, apperr.UserError{Field: field("variantId"), Code: "DUPLICATE", Message: "the variant is listed twice"})
			continue
		}
		seen[p.VariantID] = true
		ids = append(ids, p.VariantID)
		if p.Amount == nil {
			if p.CompareAt != nil {
				ues = append(ues, apperr.UserError{Field: field("compareAtPrice"), Code: "INVALID", Message: "a compare-at price needs a price"})
			}
			del = append(del, p.VariantID)
			continue
		}
		a, err := money.ParseMinor(*p.Amount, m.Currency.Exponent())
		if err != nil || a < 0 {
			ues = append(ues, apperr.UserError{Field: field("price"), Code: "INVALID_AMOUNT", Message: "not a non-negative decimal in " + string(m.Currency)})
			continue
		}
		c := int64(-1)
		if p.CompareAt != nil {
			if c, err = money.ParseMinor(*p.CompareAt, m.Currency.Exponent()); err != nil || c < 0 {
				ues = append(ues, apperr.UserError{Field: field("compareAtPrice"), Code: "INVALID_AMOUNT", Message: "not a non-negative decimal in " + string(m.Currency)})
				continue
			}
		}
		up.VariantIds, up.Amounts, up.CompareAts = append(up.VariantIds, p.VariantID), append(up.Amounts, a), append(up.CompareAts, c)
	}
	if len(ues) > 0 {
		return nil, ues, nil
	}
	tctx := pg.WithShopID(ctx, sh.ID)
	found, err := s.q.MarketVariantsExisting(tctx, dbq.MarketVariantsExistingParams{ShopID: sh.ID, Ids: ids})
	if err != nil {
		return nil, nil, pg.MapError(err)
	}
	have := map[uuid.UUID]bool{}
	for _, id := range found {
		have[id] = true
	}
	for i, p := range ps {
		if !have[p.VariantID] {
			ues = append(ues, apperr.UserError{Field: []string{"prices", strconv.Itoa(i), "variantId"}, Code: "NOT_FOUND", Message: "no such variant"})
		}
	}
	if len(ues) > 0 {
		return nil, ues, nil
	}
	err = pg.WithTenantTx(tctx, s.db, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		if len(del) > 0 {
			if err := q.MarketPricesDelete(ctx, dbq.MarketPricesDeleteParams{ShopID: sh.ID, MarketID: marketID, VariantIds: del}); err != nil {
				return err
			}
		}
		if len(up.VariantIds) > 0 {
			if err := q.MarketPricesUpsert(ctx, up); err != nil {
				return err
			}
		}
		n, err := q.MarketPricesCount(ctx, dbq.MarketPricesCountParams{ShopID: sh.ID, MarketID: marketID})
		if err != nil {
			return err
		}
		if n > MaxFixedPerMarket {
			return errTooManyFixed
		}
		return nil
	})
	if errors.Is(err, errTooManyFixed) {
		return nil, []apperr.UserError{{Field: []string{"prices"}, Code: "LIMIT_REACHED", Message: "a market has at most " + strconv.Itoa(MaxFixedPerMarket) + " fixed prices"}}, nil
	}
	if err != nil {
		return nil, nil, pg.MapError(err)
	}
	return s.changed(ctx, sh, marketID)
}

var errTooManyFixed = errors.New("too many fixed prices")

// Rate is an exchange rate as set: units of Currency per unit of the
// shop's currency, × RateScale.
type Rate struct {
	Currency money.Currency
	RateE10  int64
	SetBy    string
	SetAt    time.Time
}

// Decimal formats the rate ("0.92").
func (r Rate) Decimal() string { return money.FormatDecimal(r.RateE10, 10) }

// SetRate records a new exchange rate for currency (settings:write): it
// applies from now on, to catalog reads within the snapshot TTL and to
// every later checkout; the previous rates stay in the history. rate is a
// positive decimal with at most 10 decimals.
func (s *Service) SetRate(ctx context.Context, currency money.Currency, rate string) (*Rate, []apperr.UserError, error) {
	sh, err := auth.RequireIn(ctx, auth.ScopeSettingsWrite)
	if err != nil {
		return nil, nil, err
	}
	if !currency.Valid() || currency == sh.CurrencyCode {
		return nil, []apperr.UserError{{Field: []string{"currencyCode"}, Code: "INVALID_CURRENCY", Message: "a supported currency other than the shop's (" + string(sh.CurrencyCode) + ")"}}, nil
	}
	r, err := money.ParseMinor(rate, 10)
	if err != nil || r <= 0 {
		return nil, []apperr.UserError{{Field: []string{"rate"}, Code: "INVALID_RATE", Message: "a rate is a positive decimal with at most 10 decimals"}}, nil
	}
	row, err := s.q.ExchangeRateInsert(pg.WithShopID(ctx, sh.ID), dbq.ExchangeRateInsertParams{ShopID: sh.ID, CurrencyCode: currency, RateE10: r,
		SetBy: auth.FromContext(ctx).Ref()})
	if err != nil {
		return nil, nil, pg.MapError(err)
	}
	if _, _, err := s.changed(ctx, sh, uuid.Nil); err != nil {
		return nil, nil, err
	}
	return &Rate{Currency: row.CurrencyCode, RateE10: row.RateE10, SetBy: row.SetBy, SetAt: row.SetAt}, nil, nil
}

// Rates returns the history of exchange rates, newest first, of one
// currency or all (settings:write); first is 1 to MaxRateHistoryLimit.
func (s *Service) Rates(ctx context.Context, currency *money.Currency, first int) ([]Rate, error) {
	sh, err := auth.RequireIn(ctx, auth.ScopeSettingsWrite)
	if err != nil {
		return nil, err
	}
	if first < 1 || first > MaxRateHistoryLimit {
		return nil, apperr.BadInput("first", "first is 1 to %d", MaxRateHistoryLimit)
	}
	var cur *string
	if currency != nil {
		c := string(*currency)
		cur = &c
	}
	rows, err := s.q.ExchangeRatesHistory(pg.WithShopID(ctx, sh.ID), dbq.ExchangeRatesHistoryParams{ShopID: sh.ID, CurrencyCode: cur, Lim: int32(first)})
	if err != nil {
		return nil, pg.MapError(err)
	}
	out := make([]Rate, len(rows))
	for i, r := range rows {
		out[i] = Rate{Currency: r.CurrencyCode, RateE10: r.RateE10, SetBy: r.SetBy, SetAt: r.SetAt}
	}
	return out, nil
}

// changed drops this instance's snapshot and the shop's cached public
// responses after a write, and returns market id as it now is.
func (s *Service) changed(ctx context.Context, sh *shop.Shop, id uuid.UUID) (*Market, []apperr.UserError, error) {
	s.forget(sh.ID)
	if s.OnChange != nil {
		s.OnChange(ctx, sh.ID)
	}
	if id == uuid.Nil {
		return nil, nil, nil
	}
	snap, err := s.For(ctx, sh)
	if err != nil {
		return nil, nil, err
	}
	return snap.byID(id), nil, nil
}

func (s *Snapshot) byID(id uuid.UUID) *Market {
	for _, m := range s.Markets {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// RateOf is the exchange rate in force for a market ("" for the shop's
// currency or none).
func (s *Snapshot) RateOf(m *Market) string {
	r, ok := s.Rates[m.Currency]
	if m.Currency == s.Base || !ok {
		return ""
	}
	return money.FormatDecimal(r, 10)
}

func countriesParams(shopID, marketID uuid.UUID, cs []string) dbq.MarketCountriesInsertParams {
	p := dbq.MarketCountriesInsertParams{ShopID: shopID, MarketID: marketID, Countries: cs, Positions: make([]int32, len(cs))}
	for i := range cs {
		p.Positions[i] = int32(i + 1)
	}
	return p
}

// uniqueErrors maps the races validation cannot see (two staff creating
// the same handle or claiming the same country at once) to user errors.
func uniqueErrors(err error) []apperr.UserError {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return nil
	}
	switch pgErr.ConstraintName {
	case "markets_shop_id_handle_key":
		return []apperr.UserError{ue("handle", "TAKEN", "a market already has this handle")}
	case "markets_primary_idx":
		return []apperr.UserError{ue("primary", "PRIMARY_MARKET_EXISTS", "the shop already has a primary market")}
	default:
		return []apperr.UserError{ue("countries", "COUNTRY_IN_OTHER_MARKET", "a country already belongs to another market")}
	}
}
