package cart

import (
	"context"
	"math"
	"strings"

	"cartograph/internal/apperr"
	"cartograph/internal/catalog"
	"cartograph/internal/localization"
	"cartograph/internal/markets"
	"cartograph/internal/money"
	"cartograph/internal/pricing"
	"cartograph/internal/shop"

	"github.com/google/uuid"
)

// PricedLine is a cart line still for sale, priced from its variant's
// current price.
type PricedLine struct {
	Line
	Variant *catalog.Variant
	// Product is the variant's product (nil only if it vanished meanwhile).
	Product *catalog.Product
	Unit    money.Money
	Total   money.Money
}

// Priced is a cart priced on the server. The client never sends a price.
type Priced struct {
	// Lines are the lines still for sale, in cart order.
	Lines []PricedLine
	// Unavailable lists variants in the cart that are no longer for sale
	// (deleted, or their product is draft or archived), in cart order.
	Unavailable []uuid.UUID
	Subtotal    money.Money
	// TotalQuantity counts the units of Lines.
	TotalQuantity int
	// TooLarge is set when the subtotal would overflow int64 minor units.
	TooLarge bool
	// Totals are the engine's figures (internal/pricing) for Lines, in
	// order: discounts, delivery options, shipping, taxes and the total.
	Totals pricing.Result
	// Discounts are the engine's candidate discounts (Totals' allocations
	// index them): the entered codes first, in order, then automatic ones.
	Discounts []pricing.Discount
	// Codes says for each entered code whether it applies, and why not.
	Codes []CodeStatus
	// Destination is where the cart ships (zero when unknown);
	// DeliveryGroupID identifies the delivery group of that destination.
	Destination     Destination
	DeliveryGroupID string
	// ShippingConfigured is false for a shop without shipping zones: it
	// ships without delivery options or charge (checkout does not ask for
	// one).
	ShippingConfigured bool
	// Country is the country the cart is priced for (its delivery
	// country, else the request's), Market its market (nil: the shop has
	// no markets) and Pricer the market's price list (nil: base prices in
	// the shop's currency). Sells is false when no market of the shop
	// sells to Country (or its currency has no exchange rate).
	Country string
	Market  *markets.Market
	Pricer  *markets.Pricer
	Sells   bool
}

// Markets finds the shop's markets (a *markets.Service).
type Markets interface {
	For(ctx context.Context, sh *shop.Shop) (*markets.Snapshot, error)
	Fresh(ctx context.Context, sh *shop.Shop) (*markets.Snapshot, error)
}

// UseMarkets wires the markets source (nil: every cart is priced in the
// shop's currency at base prices). Called once at start-up.
func (s *Service) UseMarkets(m Markets) { s.markets = m }

// market decides the market a cart is priced in and returns ctx whose
// catalog reads are presented in it.
func (s *Service) market(ctx context.Context, sh *shop.Shop, c *Cart, opt PriceOptions, out *Priced) (context.Context, error) {
	out.Country = c.Meta.Destination.Country
	if opt.Destination != nil {
		out.Country = opt.Destination.Country
	}
	if out.Country == "" {
		out.Country = localization.FromContext(ctx).Country
	}
	out.Sells = true
	if s.markets == nil {
		return catalog.WithPresenter(ctx, nil), nil
	}
	get := s.markets.For
	if opt.Fresh {
		get = s.markets.Fresh
	}
	snap, err := get(ctx, sh)
	if err != nil {
		return nil, err
	}
	if !snap.Configured() {
		return catalog.WithPresenter(ctx, nil), nil
	}
	out.Market = snap.ForCountry(out.Country)
	out.Pricer = snap.PricerFor(out.Country)
	out.Sells = out.Market != nil && (out.Market.Primary || out.Pricer != nil)
	if out.Pricer == nil {
		return catalog.WithPresenter(ctx, nil), nil
	}
	return catalog.WithPresenter(ctx, out.Pricer), nil
}

// CodeStatus is an entered discount code and whether it applies; Reason
// is a Shopify CartWarningCode (DISCOUNT_NOT_FOUND, …) when it does not.
type CodeStatus struct {
	Code       string
	Applicable bool
	Reason     string
}

// Price prices c from current variant prices, with two batched statements
// (variants, then their products). Used by cart reads and by checkout, so
// both always agree. A variant priced in another currency than the shop's
// is INTERNAL (the catalog is inconsistent).
func (s *Service) Price(ctx context.Context, c *Cart) (*Priced, error) {
	return s.PriceFor(ctx, c, PriceOptions{})
}

// PriceOptions override what a cart stores, for checkout: the address the
// order ships to, the delivery option chosen, and the buyer.
type PriceOptions struct {
	Destination *Destination
	// Selected, when set, is the delivery option handle (else the cart's
	// selection for the destination's group).
	Selected string
	// CustomerKey counts per-customer discount limits (discounts.CustomerKey).
	CustomerKey string
	// Fresh prices from the shop's markets as they are now, not from this
	// instance's snapshot (checkout).
	Fresh bool
}

// PriceFor prices c like Price, with opt overriding the cart's stored
// destination, delivery selection and buyer.
func (s *Service) PriceFor(ctx context.Context, c *Cart, opt PriceOptions) (*Priced, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	out := &Priced{}
	if ctx, err = s.market(ctx, sh, c, opt, out); err != nil {
		return nil, err
	}
	cur := sh.CurrencyCode
	if out.Pricer != nil {
		cur = out.Pricer.Currency()
	}
	out.Subtotal = money.Money{Currency: cur}
	if len(c.Lines) == 0 {
		return out, s.total(ctx, sh, c, opt, out)
	}
	ids := make([]uuid.UUID, len(c.Lines))
	for i, l := range c.Lines {
		ids[i] = l.VariantID
	}
	vs, err := s.catalog.VariantsByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	var pids []uuid.UUID
	for _, v := range vs {
		if v != nil {
			pids = append(pids, v.ProductID)
		}
	}
	products := map[uuid.UUID]*catalog.Product{}
	if len(pids) > 0 {
		ps, err := s.catalog.ProductsByIDs(ctx, pids)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if p != nil {
				products[p.ID] = p
			}
		}
	}
	for i, line := range c.Lines {
		v := vs[i]
		if v == nil {
			out.Unavailable = append(out.Unavailable, line.VariantID)
			continue
		}
		if v.CurrencyCode != cur {
			return nil, apperr.New(apperr.Internal, "variant priced in %s, cart priced in %s", v.CurrencyCode, cur)
		}
		if v.PriceAmount > 0 && int64(line.Quantity) > (math.MaxInt64-out.Subtotal.Minor)/v.PriceAmount {
			out.TooLarge = true
			continue
		}
		total := v.PriceAmount * int64(line.Quantity)
		out.Subtotal.Minor += total
		out.TotalQuantity += line.Quantity
		out.Lines = append(out.Lines, PricedLine{Line: line, Variant: v, Product: products[v.ProductID],
			Unit: money.Money{Minor: v.PriceAmount, Currency: v.CurrencyCode}, Total: money.Money{Minor: total, Currency: v.CurrencyCode}})
	}
	return out, s.total(ctx, sh, c, opt, out)
}

// CheckoutURL fills the shop's checkout URL template (or the default) with
// {host}, {cartId} and {token}.
func (s *Service) CheckoutURL(sh *shop.Shop, c *Cart) string {
	tpl := s.checkoutTemplate
	if sh.CheckoutUrlTemplate != nil && *sh.CheckoutUrlTemplate != "" {
		tpl = *sh.CheckoutUrlTemplate
	}
	return strings.NewReplacer("{host}", sh.Host(s.baseDomain), "{token}", c.Token, "{cartId}", c.ID()).Replace(tpl)
}
