package cart

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"cartograph/internal/apperr"
	"cartograph/internal/discounts"
	"cartograph/internal/localization"
	"cartograph/internal/markets"
	"cartograph/internal/pricing"
	"cartograph/internal/shop"

	"github.com/google/uuid"
)

// Discounts finds a cart's candidate discounts (a *discounts.Service).
type Discounts interface {
	ForCart(ctx context.Context, shopID uuid.UUID, codes []string, customerKey string) ([]pricing.Discount, error)
}

// Shipping finds the shipping rates of a destination (a *shipping.Service).
type Shipping interface {
	ForDestination(ctx context.Context, shopID uuid.UUID, country, region string) (rates []pricing.Rate, configured bool, err error)
}

// Taxes finds the tax rates of a destination (a *taxes.Service).
type Taxes interface {
	ForDestination(ctx context.Context, shopID uuid.UUID, country, region string) ([]pricing.TaxRate, bool, error)
}

// UsePricing wires the discount, shipping and tax sources (any may be nil:
// no discounts, no delivery options, no tax). Called once at start-up.
func (s *Service) UsePricing(d Discounts, sh Shipping, t Taxes) {
	s.discounts, s.shipping, s.taxes = d, sh, t
}

// Destination is where a cart ships: an ISO 3166-1 alpha-2 country and,
// optionally, the region (ISO 3166-2 subdivision without the country, e.g.
// "CA" for California) and postal code.
type Destination struct {
	Country  string `json:"c"`
	Province string `json:"p,omitempty"`
	Zip      string `json:"z,omitempty"`
}

// selection is the delivery option chosen for a delivery group.
type selection struct {
	Group  string `json:"g"`
	Handle string `json:"h"`
}

const (
	fieldDest     = "m:dest"
	fieldDelivery = "m:delivery"
)

// DeliveryGroupID identifies the delivery group of a cart shipping to d:
// it changes with the address, so an option chosen for one address is not
// silently applied to another.
func DeliveryGroupID(token string, d Destination) string {
	h := sha256.Sum256([]byte(token + "|" + d.Country + "|" + strings.ToUpper(d.Province) + "|" + strings.ToUpper(d.Zip)))
	return "gid://cartograph/CartDeliveryGroup/" + hex.EncodeToString(h[:12])
}

// CustomerKey is the key the cart's buyer is counted under for
// per-customer discount limits ("" when the buyer is unknown).
func (c *Cart) CustomerKey() string {
	if c.CustomerID == nil && c.Email == "" {
		return ""
	}
	return discounts.CustomerKey(c.CustomerID, c.Email)
}

// total runs the pricing engine over out.Lines.
func (s *Service) total(ctx context.Context, sh *shop.Shop, c *Cart, opt PriceOptions, out *Priced) error {
	dest := c.Meta.Destination
	if opt.Destination != nil {
		dest = *opt.Destination
	}
	out.Destination = dest
	in := pricing.Input{Currency: out.Subtotal.Currency, Lines: make([]pricing.Line, len(out.Lines))}
	for i, pl := range out.Lines {
		in.Lines[i] = pricing.Line{Key: pl.Variant.ID, ProductID: pl.Variant.ProductID, Unit: pl.Variant.PriceAmount, Quantity: pl.Quantity,
			WeightGrams: int64(pl.Variant.WeightGrams)}
	}
	key := opt.CustomerKey
	if key == "" {
		key = c.CustomerKey()
	}
	codes := c.Meta.DiscountCodes
	if s.discounts != nil {
		cands, err := s.discounts.ForCart(ctx, sh.ID, codes, key)
		if err != nil {
			return err
		}
		in.Discounts = presentDiscounts(out.Pricer, cands)
	} else {
		for _, code := range codes {
			in.Discounts = append(in.Discounts, pricing.Discount{Code: code, Title: code, Reason: pricing.ReasonNotFound})
		}
	}
	// Collections are read only when a collection discount could apply.
	for _, d := range in.Discounts {
		if d.Scope == pricing.ScopeCollections && d.Reason == "" && len(out.Lines) > 0 {
			pids := make([]uuid.UUID, len(out.Lines))
			for i, pl := range out.Lines {
				pids[i] = pl.Variant.ProductID
			}
			cols, err := s.catalog.CollectionIDsByProductIDs(ctx, pids)
			if err != nil {
				return err
			}
			for i := range in.Lines {
				in.Lines[i].CollectionIDs = cols[i]
			}
			break
		}
	}
	if dest.Country != "" {
		out.DeliveryGroupID = DeliveryGroupID(c.Token, dest)
		if s.shipping != nil && len(out.Lines) > 0 {
			rates, configured, err := s.shipping.ForDestination(ctx, sh.ID, dest.Country, dest.Province)
			if err != nil {
				return err
			}
			in.Rates, out.ShippingConfigured = presentRates(out.Pricer, rates), configured
		}
		if s.taxes != nil {
			rates, included, err := s.taxes.ForDestination(ctx, sh.ID, dest.Country, dest.Province)
			if err != nil {
				return err
			}
			in.Taxes, in.TaxesIncluded = rates, included
		}
		in.Selected = opt.Selected
		if in.Selected == "" && c.Meta.delivery.Group == out.DeliveryGroupID {
			in.Selected = c.Meta.delivery.Handle
		}
	}
	out.Discounts = in.Discounts
	out.Totals = pricing.Compute(in)
	out.Codes = make([]CodeStatus, len(codes))
	for i, code := range codes {
		r := out.Totals.Discounts[i]
		out.Codes[i] = CodeStatus{Code: code, Applicable: r.Applicable, Reason: r.Reason}
	}
	return nil
}

// presentDiscounts converts the amounts of discounts priced in the shop's
// currency (fixed amounts, minimum subtotals) into the market's at the
// exchange rate; discounts priced in the market's own currency apply as
// they are, others not at all (the engine reports the wrong currency).
func presentDiscounts(p *markets.Pricer, ds []pricing.Discount) []pricing.Discount {
	if p == nil {
		return ds
	}
	out := make([]pricing.Discount, len(ds))
	for i, d := range ds {
		if d.Currency == p.Base {
			if d.Kind == pricing.FixedAmount {
				d.Value = p.Money(d.Value)
			}
			d.MinSubtotal = p.Money(d.MinSubtotal)
			d.Currency = p.Currency()
		}
		out[i] = d
	}
	return out
}

// presentRates converts shipping rates priced in the shop's currency into
// the market's at the exchange rate (no price-list adjustment or rounding
// rule: those are for merchandise).
func presentRates(p *markets.Pricer, rs []pricing.Rate) []pricing.Rate {
	if p == nil {
		return rs
	}
	out := make([]pricing.Rate, len(rs))
	for i, r := range rs {
		if r.Currency == p.Base {
			r.Amount = p.Money(r.Amount)
			bands := make([]pricing.WeightBand, len(r.Bands))
			for j, b := range r.Bands {
				b.Amount = p.Money(b.Amount)
				bands[j] = b
			}
			r.Bands = bands
			if r.FreeOver != nil {
				f := p.Money(*r.FreeOver)
				r.FreeOver = &f
			}
			r.Currency = p.Currency()
		}
		out[i] = r
	}
	return out
}

// SetDestination records where the cart ships (from
// buyerIdentity.countryCode or a delivery address). A country that is not
// ISO 3166-1 alpha-2 is an INVALID user error and changes nothing.
func (s *Service) SetDestination(ctx context.Context, cartID string, d Destination) (*Cart, []apperr.UserError, error) {
	d.Country = strings.ToUpper(strings.TrimSpace(d.Country))
	d.Province = strings.ToUpper(strings.TrimSpace(d.Province))
	d.Zip = strings.TrimSpace(d.Zip)
	if localization.CountryName(d.Country) == "" {
		return nil, []apperr.UserError{{Field: []string{"buyerIdentity", "countryCode"}, Message: "the country must be an ISO 3166-1 alpha-2 code", Code: "INVALID"}}, nil
	}
	if len(d.Province) > 8 || len(d.Zip) > 32 || strings.ContainsFunc(d.Province+d.Zip, func(r rune) bool { return r < ' ' }) {
		return nil, []apperr.UserError{{Field: []string{"buyerIdentity", "deliveryAddressPreferences"}, Message: "the province or zip is invalid", Code: "INVALID"}}, nil
	}
	b, _ := json.Marshal(d)
	return s.setMeta(ctx, cartID, fieldDest, string(b))
}

// SelectDeliveryOption chooses the delivery option handle of the cart's
// delivery group groupID (cartSelectedDeliveryOptionsUpdate). A group that
// is not the cart's current one (the address changed, or no address yet)
// is INVALID_DELIVERY_GROUP; a handle not offered for it is
// INVALID_DELIVERY_OPTION; either changes nothing.
func (s *Service) SelectDeliveryOption(ctx context.Context, cartID, groupID, handle string) (*Cart, []apperr.UserError, error) {
	c, err := s.Load(ctx, cartID)
	if err != nil {
		return nil, nil, err
	}
	pr, err := s.PriceFor(ctx, c, PriceOptions{Selected: handle})
	if err != nil {
		return nil, nil, err
	}
	if pr.DeliveryGroupID == "" || groupID != pr.DeliveryGroupID {
		return nil, []apperr.UserError{{Field: []string{"selectedDeliveryOptions", "0", "deliveryGroupId"}, Message: "no such delivery group on this cart", Code: "INVALID_DELIVERY_GROUP"}}, nil
	}
	if pr.Totals.Shipping == nil {
		return nil, []apperr.UserError{{Field: []string{"selectedDeliveryOptions", "0", "deliveryOptionHandle"}, Message: "no such delivery option for this address", Code: "INVALID_DELIVERY_OPTION"}}, nil
	}
	b, _ := json.Marshal(selection{Group: groupID, Handle: handle})
	return s.setMeta(ctx, cartID, fieldDelivery, string(b))
}

// Totals prices the cart cartID (the checkout page's one call for its
// summary): lines with their discount allocations, delivery options and
// the selected one, tax lines, totals and each code's applicability.
func (s *Service) Totals(ctx context.Context, cartID string) (*Cart, *Priced, error) {
	c, err := s.Load(ctx, cartID)
	if err != nil {
		return nil, nil, err
	}
	pr, err := s.Price(ctx, c)
	return c, pr, err
}

// SelectedDelivery returns the delivery group and option handle the buyer
// selected ("" when none).
func (c *Cart) SelectedDelivery() (group, handle string) {
	return c.Meta.delivery.Group, c.Meta.delivery.Handle
}
