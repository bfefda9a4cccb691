package graph

import (
	"context"
	"strconv"
	"strings"

	"cartograph/graph/model"
	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/cart"
	"cartograph/internal/loaders"
	"cartograph/internal/localization"
	"cartograph/internal/money"
	"cartograph/internal/orders"
	"cartograph/internal/pricing"
	"cartograph/internal/relay"
	"cartograph/internal/shop"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
)

func cartLines(in []*model.CartLineInput) []cart.LineInput {
	out := make([]cart.LineInput, len(in))
	for i, l := range in {
		out[i] = cart.LineInput{MerchandiseID: l.MerchandiseID, Quantity: deref(l.Quantity, 1)}
	}
	return out
}

func address(a *model.MailingAddressInput) orders.Address {
	return orders.Address{FirstName: deref(a.FirstName, ""), LastName: deref(a.LastName, ""), Company: deref(a.Company, ""),
		Address1: deref(a.Address1, ""), Address2: deref(a.Address2, ""), City: deref(a.City, ""), Province: deref(a.Province, ""),
		Zip: deref(a.Zip, ""), Country: strings.ToUpper(strings.TrimSpace(deref(a.Country, ""))), Phone: deref(a.Phone, "")}
}

// cartModel maps a cart priced by the cart service and primes the variant
// and product loaders, so the merchandise fields resolve without waiting.
func (r *Resolver) cartModel(ctx context.Context, c *cart.Cart, err error) (*model.Cart, error) {
	if err != nil || c == nil {
		return nil, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	pr, err := r.CartService.Price(ctx, c)
	if err != nil {
		return nil, err
	}
	l := loaders.For(ctx)
	for _, id := range pr.Unavailable {
		l.VariantByID.Prime(ctx, id, nil)
	}
	t := &pr.Totals
	cur := pr.Subtotal.Currency
	mon := func(minor int64) money.Money { return money.Money{Minor: minor, Currency: cur} }
	// Shopify's subtotalAmount: merchandise after line-level discounts,
	// before order-level discounts, shipping and tax.
	cost := &model.CartCost{SubtotalAmount: mon(t.Subtotal - t.LineDiscounts), TotalAmount: mon(t.Total), CheckoutChargeAmount: mon(t.Total),
		TotalTaxAmountEstimated: pr.Destination.Country == ""}
	if pr.Destination.Country != "" {
		tax := mon(t.TotalTax)
		cost.TotalTaxAmount = &tax
	}
	m := &model.Cart{Cart: c, BuyerIdentity: &model.CartBuyerIdentity{}, TotalQuantity: pr.TotalQuantity, Cost: cost,
		CheckoutURL: r.CartService.CheckoutURL(sh, c), CreatedAt: c.Meta.CreatedAt, UpdatedAt: c.Meta.UpdatedAt, Note: c.Meta.Note,
		Attributes: make([]*model.Attribute, len(c.Meta.Attributes)), DiscountCodes: make([]*model.CartDiscountCode, len(pr.Codes)),
		AppliedGiftCards: []*model.AppliedGiftCard{}, DiscountAllocations: []model.CartDiscountAllocation{}}
	for i, a := range c.Meta.Attributes {
		m.Attributes[i] = &model.Attribute{Key: a.Key, Value: &a.Value}
	}
	for i, cs := range pr.Codes {
		m.DiscountCodes[i] = &model.CartDiscountCode{Code: cs.Code, Applicable: cs.Applicable}
		if !cs.Applicable {
			m.DiscountCodes[i].Reason = &cs.Reason
		}
	}
	orderLevel := map[int]int64{}
	for i, pl := range pr.Lines {
		l.VariantByID.Prime(ctx, pl.Variant.ID, pl.Variant)
		l.ProductByID.Prime(ctx, pl.Variant.ProductID, pl.Product)
		lt := t.Lines[i]
		lc := &model.CartLineCost{AmountPerQuantity: pl.Unit, SubtotalAmount: pl.Total, TotalAmount: mon(lt.Total)}
		if pl.Variant.CompareAtAmount != nil {
			lc.CompareAtAmountPerQuantity = &money.Money{Minor: *pl.Variant.CompareAtAmount, Currency: pl.Unit.Currency}
		}
		line := &model.CartLine{LineID: cart.LineID(c.Token, pl.Variant.ID), Quantity: pl.Quantity, Merchandise: pl.Variant,
			Cost: lc, Attributes: []*model.Attribute{}, DiscountAllocations: []model.CartDiscountAllocation{}}
		for _, a := range lt.Allocations {
			line.DiscountAllocations = append(line.DiscountAllocations, allocation(pr.Discounts[a.Discount], mon(a.Amount), model.DiscountApplicationTargetTypeLineItem))
			if pr.Discounts[a.Discount].Scope == pricing.ScopeOrder {
				orderLevel[a.Discount] += a.Amount
			}
		}
		m.Lines = append(m.Lines, line)
	}
	for d := range pr.Discounts {
		if amt := orderLevel[d]; amt > 0 {
			m.DiscountAllocations = append(m.DiscountAllocations, allocation(pr.Discounts[d], mon(amt), model.DiscountApplicationTargetTypeLineItem))
		}
	}
	if s := t.Shipping; s != nil {
		for _, a := range s.Allocations {
			m.DiscountAllocations = append(m.DiscountAllocations, allocation(pr.Discounts[a.Discount], mon(a.Amount), model.DiscountApplicationTargetTypeShippingLine))
		}
	}
	if pr.DeliveryGroupID != "" && t.NeedsShipping && pr.ShippingConfigured {
		g := &model.CartDeliveryGroup{ID: pr.DeliveryGroupID, GroupType: model.CartDeliveryGroupTypeOneTimePurchase,
			DeliveryAddress: &orders.Address{Country: pr.Destination.Country, Province: pr.Destination.Province, Zip: pr.Destination.Zip},
			DeliveryOptions: make([]*model.CartDeliveryOption, len(t.Options))}
		for i, o := range t.Options {
			g.DeliveryOptions[i] = deliveryOption(o, mon(o.Amount))
			if t.Shipping != nil && t.Shipping.Handle == o.Handle {
				g.SelectedDeliveryOption = g.DeliveryOptions[i]
			}
		}
		g.Lines = m.Lines
		m.DeliveryGroup = g
	}
	// Holding a cart id is not a licence to read who the buyer is.
	personal := auth.SeesPersonalData(ctx, c.CustomerID)
	if c.Email != "" && personal {
		m.BuyerIdentity.Email = &c.Email
	}
	// The buyer's delivery country, else the operation's @inContext
	// country (or the shop's default).
	cc := model.CountryCode(localization.FromContext(ctx).Country)
	if pr.Destination.Country != "" {
		cc = model.CountryCode(pr.Destination.Country)
	}
	m.BuyerIdentity.CountryCode = &cc
	if c.CustomerID != nil && personal {
		if cu, err := l.CustomerByID.Load(ctx, *c.CustomerID)(); err == nil && cu != nil {
			m.BuyerIdentity.Customer = cu
		}
	}
	return m, nil
}

func cartLinePage(c *model.Cart, p relay.Page) (*model.BaseCartLineConnection, error) {
	cur := func(i int) string { return relay.EncodeCursor("CL", c.Lines[i].LineID) }
	lo, hi, info, err := relay.SliceWindow(p, len(c.Lines), cur, func(s string) (int, bool) {
		parts, err := relay.DecodeCursor("after", s, "CL", 1)
		if err != nil {
			return 0, false
		}
		for i := range c.Lines {
			if c.Lines[i].LineID == parts[0] {
				return i, true
			}
		}
		return 0, false
	})
	if err != nil {
		return nil, err
	}
	conn := &model.BaseCartLineConnection{PageInfo: &info, Edges: []*model.BaseCartLineEdge{}, Nodes: []model.BaseCartLine{}}
	for i := lo; i < hi; i++ {
		conn.Edges = append(conn.Edges, &model.BaseCartLineEdge{Cursor: cur(i), Node: c.Lines[i]})
		conn.Nodes = append(conn.Nodes, c.Lines[i])
	}
	return conn, nil
}

func orderConnection(c relay.Conn[*orders.Order], err error) (*model.OrderConnection, error) {
	return connection(c, err, func(cur string, n *orders.Order) *model.OrderEdge { return &model.OrderEdge{Cursor: cur, Node: n} },
		func(e []*model.OrderEdge, n []*orders.Order, info *relay.PageInfo) *model.OrderConnection {
			return &model.OrderConnection{Edges: e, Nodes: n, PageInfo: info}
		})
}

func (r *Resolver) orderPayload(ctx context.Context) func(orders.Result, error) (*model.OrderMutationPayload, error) {
	return func(res orders.Result, err error) (*model.OrderMutationPayload, error) {
		if err != nil {
			return nil, err
		}
		out := &model.OrderMutationPayload{UserErrors: ptrs(res.UserErrors)}
		if res.OrderID != uuid.Nil {
			if out.Order, err = r.OrderService.ByIDInternal(ctx, res.OrderID); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
}

// refundAmount parses a refund amount in the order's currency (what was
// charged; it can be a market's, not the shop's). An order that cannot be
// read here parses in the shop's currency and the refund itself answers.
func (r *Resolver) refundAmount(ctx context.Context, orderID uuid.UUID, amount *string) (*int64, error) {
	if amount == nil {
		return nil, nil
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	cur := sh.CurrencyCode
	if o, err := r.OrderService.ByIDInternal(ctx, orderID); err == nil && o != nil {
		cur = o.CurrencyCode
	}
	n, err := money.ParseMinor(*amount, cur.Exponent())
	if err != nil {
		return nil, apperr.BadInput("amount", "%v", err)
	}
	return &n, nil
}

// orderOf finds the currency of the order whose field is being resolved
// (line items and events carry no currency of their own).
func orderOf(ctx context.Context) money.Currency {
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if o, ok := fc.Result.(*orders.Order); ok {
			return o.CurrencyCode
		}
	}
	if sh, err := shop.FromContext(ctx); err == nil {
		return sh.CurrencyCode
	}
	return "USD"
}

// noWarnings is the warnings list of a cart payload: nothing to warn about
// yet (quantities over stock are refused, not adjusted).
func noWarnings() []*model.CartWarning { return []*model.CartWarning{} }

// cartAttributes maps attribute inputs.
func cartAttributes(in []*model.AttributeInput) []cart.Attribute {
	out := make([]cart.Attribute, len(in))
	for i, a := range in {
		out[i] = cart.Attribute{Key: a.Key, Value: a.Value}
	}
	return out
}

// giftCardErrors answers gift-card codes: gift cards are not a feature yet,
// so every code is unknown (Shopify's user error for an unknown code).
func giftCardErrors(field string, codes []string) []*apperr.UserError {
	out := []*apperr.UserError{}
	for i := range codes {
		out = append(out, &apperr.UserError{Field: []string{field, strconv.Itoa(i)}, Message: "Gift card code is invalid", Code: "INVALID"})
	}
	return out
}

// cartExtras applies cartCreate's note, attributes and discount codes to
// the new cart (gift card codes are answered as unknown by the caller).
func (r *Resolver) cartExtras(ctx context.Context, c *cart.Cart, in *model.CartInput) (*cart.Cart, []apperr.UserError, error) {
	var ues []apperr.UserError
	var err error
	if in.Note != nil {
		if c, ues, err = r.CartService.SetNote(ctx, c.ID(), *in.Note); err != nil || len(ues) > 0 {
			return c, ues, err
		}
	}
	if in.Attributes != nil {
		if c, ues, err = r.CartService.SetAttributes(ctx, c.ID(), cartAttributes(in.Attributes)); err != nil || len(ues) > 0 {
			return c, ues, err
		}
	}
	if in.BuyerIdentity != nil {
		if c, ues, err = r.cartDestination(ctx, c, in.BuyerIdentity); err != nil || len(ues) > 0 {
			return c, ues, err
		}
	}
	if in.DiscountCodes != nil {
		if c, ues, err = r.CartService.SetDiscountCodes(ctx, c.ID(), in.DiscountCodes); err != nil || len(ues) > 0 {
			return c, ues, err
		}
	}
	return c, nil, nil
}

func allocation(d pricing.Discount, amt money.Money, target model.DiscountApplicationTargetType) model.CartDiscountAllocation {
	if d.Code != "" {
		return &model.CartCodeDiscountAllocation{Code: d.Code, DiscountedAmount: &amt, TargetType: target}
	}
	return &model.CartAutomaticDiscountAllocation{Title: d.Title, DiscountedAmount: &amt, TargetType: target}
}

func deliveryOption(o pricing.Option, cost money.Money) *model.CartDeliveryOption {
	title := o.Title
	return &model.CartDeliveryOption{Handle: o.Handle, Code: &o.Handle, Title: &title, DeliveryMethodType: model.DeliveryMethodTypeShipping, EstimatedCost: &cost}
}

// cartDestination records the delivery country (and region and zip) a
// buyer identity carries: the first delivery address preference, else
// countryCode. Nothing given: the cart is unchanged.
func (r *Resolver) cartDestination(ctx context.Context, c *cart.Cart, bi *model.CartBuyerIdentityInput) (*cart.Cart, []apperr.UserError, error) {
	var d cart.Destination
	if len(bi.DeliveryAddressPreferences) > 0 && bi.DeliveryAddressPreferences[0].DeliveryAddress != nil {
		a := address(bi.DeliveryAddressPreferences[0].DeliveryAddress)
		d = cart.Destination{Country: a.Country, Province: a.Province, Zip: a.Zip}
	}
	if d.Country == "" && bi.CountryCode != nil {
		d.Country = *bi.CountryCode
	}
	if d.Country == "" {
		return c, nil, nil
	}
	return r.CartService.SetDestination(ctx, c.ID(), d)
}
