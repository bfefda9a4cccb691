// Package markets owns a shop's markets: the countries it sells to,
// grouped into markets, each with a presentment currency and a price list
// — a percentage adjustment of the base price with a rounding rule
// (convert.go), and fixed prices per variant — and the staff-managed
// exchange rates, every change kept with its time and author.
//
// A request runs in a market: the one of its @inContext country, or for a
// cart the one of its buyer's country. A Pricer prices the catalog's base
// prices (shop currency) in that market; catalog reads apply it as they
// load (catalog.WithPresenter), cart pricing and checkout price lines,
// discounts and shipping with it, so every MoneyV2 of the request is in
// the market's currency. The primary market sells at base prices in the
// shop's currency; a shop without markets behaves as one primary market
// of the countries its currency implies (internal/localization).
//
// Reads are served from a per-instance snapshot of the shop's markets
// (one statement, kept snapshotTTL and dropped on this instance's own
// writes); checkout prices from a fresh one. Writes need settings:write.
// Errors: UNAUTHENTICATED/FORBIDDEN, NOT_FOUND, user errors (coded) for
// bad input, INTERNAL.
package markets

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"time"

	"cartograph/internal/catalog"
	"cartograph/internal/dbq"
	"cartograph/internal/localization"
	"cartograph/internal/money"
	"cartograph/internal/pg"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Market is a group of countries sold to in one currency at one price list.
type Market struct {
	ID       uuid.UUID
	Handle   string
	Name     string
	Currency money.Currency
	// Adjustment of the converted base price, hundredths of a percent.
	Adjustment int64
	Rounding   Rounding
	Primary    bool
	Enabled    bool
	// Countries are ISO 3166-1 alpha-2 codes, the market's default first.
	Countries []string
}

type fixedPrice struct {
	amount    int64
	compareAt *int64
}

type baseVariant struct {
	id, product uuid.UUID
	price       int64
	compareAt   *int64
}

// Snapshot is a shop's markets as one consistent read.
type Snapshot struct {
	Base    money.Currency
	Markets []*Market
	// Rates are the exchange rates in force, by currency.
	Rates     map[money.Currency]int64
	byCountry map[string]*Market
	fixed     map[uuid.UUID]map[uuid.UUID]fixedPrice
	variants  []baseVariant
	pricers   sync.Map // market id → *Pricer
}

// Configured reports whether the shop has set up markets.
func (s *Snapshot) Configured() bool { return s != nil && len(s.Markets) > 0 }

// Primary is the primary market (nil when none is configured).
func (s *Snapshot) Primary() *Market {
	if !s.Configured() {
		return nil
	}
	for _, m := range s.Markets {
		if m.Primary {
			return m
		}
	}
	return nil
}

// ForCountry is the enabled market selling to country (nil: none).
func (s *Snapshot) ForCountry(country string) *Market {
	if s == nil {
		return nil
	}
	return s.byCountry[country]
}

// Settings are the countries (enabled markets, primary first) and the
// languages of the shop for localization; without markets, the defaults
// its currency implies.
func (s *Snapshot) Settings(sh *shop.Shop) localization.Settings {
	def := localization.For(sh)
	if !s.Configured() {
		return def
	}
	var cs []string
	for _, m := range s.Markets {
		if m.Enabled {
			cs = append(cs, m.Countries...)
		}
	}
	if len(cs) == 0 {
		return def
	}
	return localization.Settings{Countries: cs, Languages: def.Languages}
}

// Currency is the currency a country pays in: its market's, else the
// shop's.
func (s *Snapshot) Currency(country string) money.Currency {
	if m := s.ForCountry(country); m != nil {
		return m.Currency
	}
	return s.Base
}

// PricerFor prices in the market selling to country; nil when that is the
// primary market or no market (base prices apply), or when the market's
// currency has no exchange rate (it cannot be priced: base prices apply,
// and checkout refuses the country).
func (s *Snapshot) PricerFor(country string) *Pricer {
	m := s.ForCountry(country)
	if m == nil || m.Primary {
		return nil
	}
	if p, ok := s.pricers.Load(m.ID); ok {
		return p.(*Pricer)
	}
	p := s.newPricer(m)
	if p == nil {
		return nil
	}
	actual, _ := s.pricers.LoadOrStore(m.ID, p)
	return actual.(*Pricer)
}

func (s *Snapshot) newPricer(m *Market) *Pricer {
	rate := int64(RateScale)
	if m.Currency != s.Base {
		r, ok := s.Rates[m.Currency]
		if !ok {
			return nil
		}
		rate = r
	}
	p := &Pricer{Market: m, Base: s.Base, Rate: rate, fixed: s.fixed[m.ID]}
	if len(p.fixed) > 0 {
		p.ranges = map[uuid.UUID]*[4]int64{}
		for _, v := range s.variants {
			price, cmp := p.variantPrice(v.id, v.price, v.compareAt)
			c := price
			if cmp != nil {
				c = *cmp
			}
			r, ok := p.ranges[v.product]
			if !ok {
				p.ranges[v.product] = &[4]int64{price, price, c, c}
				continue
			}
			r[0], r[1], r[2], r[3] = min(r[0], price), max(r[1], price), min(r[2], c), max(r[3], c)
		}
	}
	return p
}

// Pricer prices base prices in one market. Safe for concurrent use.
type Pricer struct {
	Market *Market
	// Base is the shop's currency; Rate converts it to the market's
	// (RateScale when they are the same).
	Base money.Currency
	Rate int64
	// fixed prices by variant; ranges are [min, max, compare-at min,
	// compare-at max] of the products that have fixed prices.
	fixed  map[uuid.UUID]fixedPrice
	ranges map[uuid.UUID]*[4]int64
}

// Currency is the market's currency.
func (p *Pricer) Currency() money.Currency { return p.Market.Currency }

// Amount converts a base amount by the price list's rule (adjustment and
// rounding).
func (p *Pricer) Amount(minor int64) int64 {
	return Convert(minor, p.Base, p.Market.Currency, p.Rate, p.Market.Adjustment, p.Market.Rounding)
}

// Money converts a base amount at the exchange rate only (no adjustment,
// half up): for shipping rates, fixed-amount discounts and minimums
// priced in the shop's currency.
func (p *Pricer) Money(minor int64) int64 {
	return Convert(minor, p.Base, p.Market.Currency, p.Rate, 0, RoundNone)
}

func (p *Pricer) variantPrice(id uuid.UUID, price int64, compareAt *int64) (int64, *int64) {
	if f, ok := p.fixed[id]; ok {
		return f.amount, f.compareAt
	}
	if compareAt != nil {
		c := p.Amount(*compareAt)
		compareAt = &c
	}
	return p.Amount(price), compareAt
}

// PresentVariant rewrites a variant loaded at base prices into the
// market's prices (catalog.Presenter).
func (p *Pricer) PresentVariant(v *catalog.Variant) {
	if v.CurrencyCode != p.Base {
		return // already presented
	}
	v.PriceAmount, v.CompareAtAmount = p.variantPrice(v.ID, v.PriceAmount, v.CompareAtAmount)
	v.CurrencyCode = p.Market.Currency
}

// PresentProduct rewrites a product's price range (catalog.Presenter).
// Conversion is monotonic, so the range of converted prices is the
// converted range, except for products with fixed prices, whose ranges
// the snapshot computed.
func (p *Pricer) PresentProduct(pr *catalog.Product) {
	if pr.CurrencyCode != p.Base {
		return
	}
	if r, ok := p.ranges[pr.ID]; ok {
		pr.PriceMin, pr.PriceMax = r[0], r[1]
	} else {
		pr.PriceMin, pr.PriceMax = p.Amount(pr.PriceMin), p.Amount(pr.PriceMax)
	}
	pr.CurrencyCode = p.Market.Currency
}

// Service reads and manages markets, price lists and exchange rates.
type Service struct {
	db *pgxpool.Pool
	q  *dbq.Queries
	mu sync.Mutex
	// cache is bounded by the number of shops (one snapshot each).
	cache map[uuid.UUID]cached
	// TTL is how long an instance serves a snapshot before reading again.
	TTL time.Duration
	// OnChange runs after a committed write (the public response cache).
	OnChange func(ctx context.Context, shopID uuid.UUID)
}

type cached struct {
	s       *Snapshot
	expires time.Time
}

// New returns a markets service.
func New(db *pgxpool.Pool) *Service {
	return &Service{db: db, q: dbq.New(pg.Tenant{Pool: db}), cache: map[uuid.UUID]cached{}, TTL: 5 * time.Second}
}

// For returns the shop's snapshot, from this instance's cache when fresh.
func (s *Service) For(ctx context.Context, sh *shop.Shop) (*Snapshot, error) {
	now := time.Now()
	s.mu.Lock()
	c, ok := s.cache[sh.ID]
	s.mu.Unlock()
	if ok && now.Before(c.expires) && c.s.Base == sh.CurrencyCode {
		return c.s, nil
	}
	snap, err := s.Fresh(ctx, sh)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cache[sh.ID] = cached{s: snap, expires: now.Add(s.TTL)}
	s.mu.Unlock()
	return snap, nil
}

// Fresh reads the shop's snapshot now (checkout prices from it).
func (s *Service) Fresh(ctx context.Context, sh *shop.Shop) (*Snapshot, error) {
	row, err := s.q.MarketsSnapshot(pg.WithShopID(ctx, sh.ID), sh.ID)
	if err != nil {
		return nil, pg.MapError(err)
	}
	return decode(sh, row)
}

func (s *Service) forget(shopID uuid.UUID) {
	s.mu.Lock()
	delete(s.cache, shopID)
	s.mu.Unlock()
}

func decode(sh *shop.Shop, row dbq.MarketsSnapshotRow) (*Snapshot, error) {
	snap := &Snapshot{Base: sh.CurrencyCode, Rates: map[money.Currency]int64{}, byCountry: map[string]*Market{},
		fixed: map[uuid.UUID]map[uuid.UUID]fixedPrice{}}
	var ms []struct {
		ID                     uuid.UUID
		Handle, Name, Currency string
		Adjustment             int64
		Rounding               string
		Primary, Enabled       bool
	}
	if err := unpack(row.Markets, &ms); err != nil {
		return nil, err
	}
	byID := map[uuid.UUID]*Market{}
	for _, m := range ms {
		mk := &Market{ID: m.ID, Handle: m.Handle, Name: m.Name, Currency: money.Currency(m.Currency), Adjustment: m.Adjustment,
			Rounding: Rounding(m.Rounding), Primary: m.Primary, Enabled: m.Enabled}
		snap.Markets = append(snap.Markets, mk)
		byID[m.ID] = mk
	}
	var cs []struct {
		Market  uuid.UUID
		Country string
	}
	if err := unpack(row.Countries, &cs); err != nil {
		return nil, err
	}
	for _, c := range cs {
		if m := byID[c.Market]; m != nil {
			m.Countries = append(m.Countries, c.Country)
			if m.Enabled {
				snap.byCountry[c.Country] = m
			}
		}
	}
	var rs []struct {
		Currency string
		Rate     int64
	}
	if err := unpack(row.Rates, &rs); err != nil {
		return nil, err
	}
	for _, r := range rs {
		snap.Rates[money.Currency(r.Currency)] = r.Rate
	}
	var ps []struct {
		Market, Variant uuid.UUID
		Amount          int64
		CompareAt       *int64
	}
	if err := unpack(row.Prices, &ps); err != nil {
		return nil, err
	}
	for _, p := range ps {
		if snap.fixed[p.Market] == nil {
			snap.fixed[p.Market] = map[uuid.UUID]fixedPrice{}
		}
		snap.fixed[p.Market][p.Variant] = fixedPrice{amount: p.Amount, compareAt: p.CompareAt}
	}
	var vs []struct {
		ID, Product uuid.UUID
		Price       int64
		CompareAt   *int64
	}
	if err := unpack(row.Variants, &vs); err != nil {
		return nil, err
	}
	for _, v := range vs {
		snap.variants = append(snap.variants, baseVariant{id: v.ID, product: v.Product, price: v.Price, compareAt: v.CompareAt})
	}
	return snap, nil
}

// unpack decodes a JSON array of arrays into structs field by field (the
// snapshot statement builds rows with json_build_array, which is compact).
func unpack[T any](s string, out *[]T) error {
	var rows [][]json.RawMessage
	if err := json.Unmarshal([]byte(s), &rows); err != nil {
		return fmt.Errorf("markets snapshot: %w", err)
	}
	*out = make([]T, len(rows))
	for i, r := range rows {
		if err := unpackRow(r, &(*out)[i]); err != nil {
			return fmt.Errorf("markets snapshot: %w", err)
		}
	}
	return nil
}

// ContextualPrice is a variant's price in a market (Admin's
// contextualPricing).
type ContextualPrice struct {
	Country   string
	Market    *Market
	Price     money.Money
	CompareAt *money.Money
}

// VariantPrice prices v (loaded at base prices) for country.
func (s *Snapshot) VariantPrice(v *catalog.Variant, country string) ContextualPrice {
	out := ContextualPrice{Country: country, Market: s.ForCountry(country), Price: v.Price(), CompareAt: v.CompareAtPrice()}
	if out.Market == nil {
		out.Market = s.Primary()
	}
	if p := s.PricerFor(country); p != nil && v.CurrencyCode == p.Base {
		c := *v
		p.PresentVariant(&c)
		out.Price, out.CompareAt = c.Price(), c.CompareAtPrice()
	}
	return out
}

// unpackRow decodes the elements of r into the fields of *dst, in order.
func unpackRow[T any](r []json.RawMessage, dst *T) error {
	v := reflect.ValueOf(dst).Elem()
	if len(r) != v.NumField() {
		return fmt.Errorf("row of %d values for %d fields", len(r), v.NumField())
	}
	for i := range r {
		if err := json.Unmarshal(r[i], v.Field(i).Addr().Interface()); err != nil {
			return err
		}
	}
	return nil
}
