package cart

import (
	"context"
	"math"
	"strings"

	"cartograph/internal/apperr"
	"cartograph/internal/catalog"
	"cartograph/internal/money"
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
}

// Price prices c from current variant prices, with two batched statements
// (variants, then their products). Used by cart reads and by checkout, so
// both always agree. A variant priced in another currency than the shop's
// is INTERNAL (the catalog is inconsistent).
func (s *Service) Price(ctx context.Context, c *Cart) (*Priced, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	out := &Priced{Subtotal: money.Money{Currency: sh.CurrencyCode}}
	if len(c.Lines) == 0 {
		return out, nil
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
		if v.CurrencyCode != sh.CurrencyCode {
			return nil, apperr.New(apperr.Internal, "variant priced in %s, shop sells in %s", v.CurrencyCode, sh.CurrencyCode)
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
	return out, nil
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
