// Package checkout turns a cart into an order with reserved stock and a
// payment: validate, price on the server, then in ONE transaction reserve
// every line (internal/inventory, all-or-nothing) and create the order in
// PENDING_PAYMENT with a snapshot of what was bought; then create the
// payment. Retries with the same idempotency key never run twice.
// Errors: user errors (OUT_OF_STOCK, INVALID, EMPTY_CART, …), NOT_FOUND
// (cart), IDEMPOTENCY_KEY_REUSED, UNAUTHENTICATED/FORBIDDEN, INTERNAL.
package checkout

import (
	"context"
	"errors"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/cart"
	"cartograph/internal/discounts"
	"cartograph/internal/idempotency"
	"cartograph/internal/inventory"
	"cartograph/internal/markets"
	"cartograph/internal/metrics"
	"cartograph/internal/orders"
	"cartograph/internal/payments"
	"cartograph/internal/pg"
	"cartograph/internal/pricing"
	"cartograph/internal/relay"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Address is a mailing address (the orders package owns its shape).
type Address = orders.Address

// BeginInput is checkoutBegin's input.
type BeginInput struct {
	CartID         string
	Email          string
	Shipping       Address
	Billing        *Address
	IdempotencyKey string
	// DeliveryOptionHandle, when set, chooses the delivery option for the
	// shipping address; else the cart's selection must be for that address.
	DeliveryOptionHandle string
}

// BeginResult is what checkoutBegin returns, and what retries replay.
type BeginResult struct {
	OrderID      *uuid.UUID         `json:"orderId,omitempty"`
	Provider     string             `json:"provider,omitempty"`
	ClientSecret *string            `json:"clientSecret,omitempty"`
	UserErrors   []apperr.UserError `json:"userErrors,omitempty"`
}

// Service runs checkouts.
type Service struct {
	db       *pgxpool.Pool
	orders   *orders.Service
	carts    *cart.Service
	provider payments.Provider
	idem     *idempotency.Store
	log      *slog.Logger
	// ReservationTTL is how long reserved stock waits for payment.
	ReservationTTL time.Duration
	// OnStock observes committed stock movements (live inventory).
	OnStock inventory.Observer
	// afterPlace, when set (tests), runs between the order's commit and
	// its payment: the window a crash would hit.
	afterPlace func()
}

// SetAfterPlaceHook installs fn between the order's commit and its payment
// (fault tests simulate a crash there). Never set in production.
func (s *Service) SetAfterPlaceHook(fn func()) { s.afterPlace = fn }

// New returns a checkout service.
func New(db *pgxpool.Pool, ords *orders.Service, carts *cart.Service, provider payments.Provider, idem *idempotency.Store, log *slog.Logger, ttl time.Duration) *Service {
	return &Service{db: db, orders: ords, carts: carts, provider: provider, idem: idem, log: log, ReservationTTL: ttl}
}

func validate(in BeginInput) []apperr.UserError {
	var ues []apperr.UserError
	add := func(msg, code string, field ...string) {
		ues = append(ues, apperr.UserError{Field: append([]string{"input"}, field...), Message: msg, Code: code})
	}
	if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != strings.TrimSpace(in.Email) {
		add("email is invalid", "INVALID", "email")
	}
	check := func(a Address, name string) {
		if strings.TrimSpace(a.Address1) == "" {
			add(name+".address1 is required", "BLANK", name, "address1")
		}
		if strings.TrimSpace(a.City) == "" {
			add(name+".city is required", "BLANK", name, "city")
		}
		if !ValidCountry(a.Country) {
			add(name+".country must be an ISO 3166-1 alpha-2 code (e.g. US, DE)", "INVALID", name, "country")
		}
		for _, v := range []string{a.FirstName, a.LastName, a.Company, a.Address1, a.Address2, a.City, a.Province, a.Zip, a.Phone} {
			if len(v) > 255 {
				add(name+" has a field longer than 255 characters", "TOO_LONG", name)
				break
			}
		}
	}
	check(in.Shipping, "shippingAddress")
	if in.Billing != nil {
		check(*in.Billing, "billingAddress")
	}
	return ues
}

// Begin runs a checkout (checkout:write). See the package comment.
func (s *Service) Begin(ctx context.Context, in BeginInput) (BeginResult, error) {
	if err := auth.Require(ctx, auth.ScopeCheckoutWrite); err != nil {
		return BeginResult{}, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return BeginResult{}, err
	}
	cartToken, err := cart.ParseID("cartId", in.CartID)
	if err != nil {
		return BeginResult{}, err
	}
	if ues := validate(in); len(ues) > 0 {
		return BeginResult{UserErrors: ues}, nil
	}
	req := in
	req.IdempotencyKey = ""
	scope := idempotencyScope(ctx, cartToken)
	return idempotency.Do(ctx, s.idem, sh.ID, scope, in.IdempotencyKey, "checkoutBegin", req,
		func(ctx context.Context) (BeginResult, error) { return s.begin(ctx, sh, scope, in) })
}

// idempotencyScope namespaces checkout keys: per principal, and for public
// (pk_) keys — shared by every shopper of a storefront — per cart too, so
// two shoppers who both send "order-1" never collide.
func idempotencyScope(ctx context.Context, cartToken string) string {
	p := auth.FromContext(ctx)
	if p.Kind == auth.APIKey && p.KeyKind == "public" {
		return p.Ref() + ":cart:" + cartToken
	}
	return p.Ref()
}

// resume completes an order a previous attempt with the same key placed:
// after a crash between the order's commit and its payment, the payment is
// created now, with the provider idempotency key derived from the order, so
// the provider never holds two intents for it.
func (s *Service) resume(ctx context.Context, sh *shop.Shop, o *orders.Order) (BeginResult, error) {
	if o.Status == orders.PendingPayment && o.PaymentIntentID == nil {
		return s.pay(ctx, sh, o)
	}
	return BeginResult{OrderID: &o.ID, Provider: o.PaymentProvider, ClientSecret: o.PaymentClientSecret}, nil
}

// pay creates the order's payment and records it. A definite refusal by the
// provider abandons the order (stock released); anything else (a timeout,
// a crash) leaves it awaiting payment for a retry with the same key, or for
// the reservation sweeper.
func (s *Service) pay(ctx context.Context, sh *shop.Shop, o *orders.Order) (BeginResult, error) {
	ctx = context.WithoutCancel(ctx)
	if o.TotalAmount == 0 {
		// Nothing to collect: confirmed here, no intent (Stripe refuses
		// zero amounts). A crash before this leaves the order awaiting
		// payment without an intent, which a retry with the key resumes.
		if err := s.orders.PaidWithoutPayment(ctx, sh.ID, o.ID); err != nil {
			return BeginResult{}, err
		}
		return BeginResult{OrderID: &o.ID, Provider: o.PaymentProvider}, nil
	}
	intent, err := s.provider.CreateIntent(ctx, sh.ID, o.ID, o.TotalAmount, string(o.CurrencyCode))
	if err != nil {
		if payments.Definite(err) {
			s.orders.Abandon(ctx, sh.ID, o.ID, "payment could not be created")
		}
		return BeginResult{}, err
	}
	if err := s.orders.AttachPayment(ctx, sh.ID, o.ID, intent.ID, intent.ClientSecret); err != nil {
		return BeginResult{}, err
	}
	return BeginResult{OrderID: &o.ID, Provider: intent.Provider, ClientSecret: intent.ClientSecret}, nil
}

type outOfStock struct{ short []inventory.Shortage }

func (outOfStock) Error() string { return "out of stock" }

func (s *Service) begin(ctx context.Context, sh *shop.Shop, scope string, in BeginInput) (BeginResult, error) {
	if o, err := s.orders.ByCheckoutKey(ctx, sh.ID, scope, in.IdempotencyKey); err != nil || o != nil {
		if err != nil {
			return BeginResult{}, err
		}
		return s.resume(ctx, sh, o)
	}
	c, err := s.carts.Load(ctx, in.CartID)
	if err != nil {
		return BeginResult{}, err
	}
	if len(c.Lines) == 0 {
		return BeginResult{UserErrors: []apperr.UserError{{Field: []string{"input", "cartId"}, Message: "the cart is empty", Code: "EMPTY_CART"}}}, nil
	}
	customer := auth.OwnCustomer(ctx)
	email := strings.TrimSpace(in.Email)
	dest := cart.Destination{Country: in.Shipping.Country, Province: strings.ToUpper(strings.TrimSpace(in.Shipping.Province)), Zip: strings.TrimSpace(in.Shipping.Zip)}
	customerKey := discounts.CustomerKey(customer, email)
	pr, err := s.carts.PriceFor(ctx, c, cart.PriceOptions{Destination: &dest, Selected: in.DeliveryOptionHandle, CustomerKey: customerKey, Fresh: true})
	if err != nil {
		return BeginResult{}, err
	}
	if !pr.Sells {
		return BeginResult{UserErrors: []apperr.UserError{{Field: []string{"input", "shippingAddress", "country"},
			Message: "the shop does not sell to " + in.Shipping.Country, Code: "UNSUPPORTED_COUNTRY"}}}, nil
	}
	var ues []apperr.UserError
	for _, id := range pr.Unavailable {
		ues = append(ues, apperr.UserError{Field: []string{"input", "cartId"}, Message: "line " + relay.GlobalID("ProductVariant", id) + " is no longer for sale", Code: "INVALID_MERCHANDISE_LINE"})
	}
	if len(ues) > 0 {
		return BeginResult{UserErrors: ues}, nil
	}
	if pr.TooLarge {
		return BeginResult{UserErrors: []apperr.UserError{{Field: []string{"input", "cartId"}, Message: "order total too large", Code: "INVALID"}}}, nil
	}
	if ue := deliveryError(c, pr, in); ue != nil {
		return BeginResult{UserErrors: []apperr.UserError{*ue}}, nil
	}
	t := pr.Totals
	place := orders.PlaceInput{ShopID: sh.ID, Email: email, CustomerID: customer,
		Shipping: in.Shipping, Billing: in.Shipping, Currency: pr.Subtotal.Currency, Subtotal: t.Subtotal, Total: t.Total,
		Discount: t.LineDiscounts + t.OrderDiscounts + t.ShippingDiscount, Tax: t.TotalTax, TaxesIncluded: t.TaxesIncluded,
		Pricing: snapshot(pr),
		CartID:  &in.CartID, Provider: s.provider.Name(), Actor: auth.FromContext(ctx).Ref(), ExpiresAt: time.Now().Add(s.ReservationTTL),
		CheckoutScope: scope, CheckoutKey: in.IdempotencyKey}
	if t.Shipping != nil {
		place.ShippingTotal = t.Shipping.Total
	}
	if pr.Market != nil {
		place.MarketHandle = &pr.Market.Handle
	}
	if pr.Pricer != nil {
		place.Shop = shopAmounts(pr.Pricer, place, t.ShippingDiscount)
	}
	if in.Billing != nil {
		place.Billing = *in.Billing
	}
	var redeem []uuid.UUID
	for i, d := range t.Discounts {
		if d.Applicable && d.Amount > 0 && pr.Discounts[i].ID != uuid.Nil {
			redeem = append(redeem, pr.Discounts[i].ID)
		}
	}
	reserve := make([]inventory.Line, len(pr.Lines))
	for i, pl := range pr.Lines {
		v, title := pl.Variant, ""
		if pl.Product != nil {
			title = pl.Product.Title
		}
		place.Lines = append(place.Lines, orders.LineItem{VariantID: v.ID, ProductID: v.ProductID, ProductTitle: title,
			VariantTitle: v.Title, Sku: v.Sku, UnitAmount: v.PriceAmount, Quantity: int32(pl.Quantity),
			DiscountAmount: t.Lines[i].Discount, TaxAmount: t.Lines[i].Tax})
		reserve[i] = inventory.Line{VariantID: v.ID, Quantity: pl.Quantity}
	}
	if place.Number, err = s.orders.NextNumber(ctx, sh.ID); err != nil {
		return BeginResult{}, err
	}
	var order *orders.Order
	var levels []inventory.Level
	err = pg.WithTenantTx(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		if order, err = orders.Place(ctx, tx, place); err != nil {
			return err
		}
		if err := discounts.Redeem(ctx, tx, sh.ID, order.ID, customerKey, redeem); err != nil {
			return err
		}
		short, lv, err := inventory.Reserve(ctx, tx, sh.ID, order.ID, reserve)
		if err != nil {
			return err
		}
		if len(short) > 0 {
			return outOfStock{short}
		}
		levels = lv
		return nil
	})
	switch {
	case errors.Is(err, orders.ErrCheckoutKeyTaken):
		// A concurrent attempt with this key (one that took over a lapsed
		// lease) placed the order first: converge on it.
		o, err := s.orders.ByCheckoutKey(ctx, sh.ID, scope, in.IdempotencyKey)
		if err != nil || o == nil {
			return BeginResult{}, apperr.New(apperr.Conflict, "an identical checkout is in progress; retry")
		}
		return s.resume(ctx, sh, o)
	case errors.Is(err, orders.ErrCartHasLiveOrder):
		return BeginResult{UserErrors: []apperr.UserError{{Field: []string{"input", "cartId"},
			Message: "this cart already has an order awaiting payment; pay or cancel it first", Code: "CHECKOUT_IN_PROGRESS"}}}, nil
	}
	var spent *discounts.ErrNotRedeemable
	if errors.As(err, &spent) {
		// Another checkout took the last use meanwhile: nothing is placed;
		// the cart now reports the code not applicable, and the buyer
		// decides whether to pay without it.
		return BeginResult{UserErrors: []apperr.UserError{{Field: []string{"input", "cartId"}, Message: "a discount code can no longer be used; review the cart and try again", Code: spent.Reason}}}, nil
	}
	var oos outOfStock
	if errors.As(err, &oos) {
		metrics.ReservationOutOfStock()
		out := BeginResult{}
		for _, sh := range oos.short {
			out.UserErrors = append(out.UserErrors, apperr.UserError{Field: []string{"input", "cartId", relay.GlobalID("ProductVariant", sh.VariantID)},
				Message: "only " + strconv.Itoa(sh.Available) + " of " + strconv.Itoa(sh.Requested) + " available for " + relay.GlobalID("ProductVariant", sh.VariantID), Code: "OUT_OF_STOCK"})
		}
		return out, nil
	}
	if err != nil {
		return BeginResult{}, err
	}
	if s.OnStock != nil {
		s.OnStock(ctx, sh.ID, levels)
	}
	metrics.CheckoutBegun()
	if s.afterPlace != nil {
		s.afterPlace()
	}
	return s.pay(ctx, sh, order)
}

// deliveryError checks the delivery of physical goods: the shop ships to
// the address, and a delivery option valid for that address is chosen —
// in the input, or on the cart for the same address.
func deliveryError(c *cart.Cart, pr *cart.Priced, in BeginInput) *apperr.UserError {
	t := pr.Totals
	if !t.NeedsShipping || !pr.ShippingConfigured {
		return nil
	}
	field := []string{"input", "shippingAddress", "country"}
	if len(t.Options) == 0 {
		return &apperr.UserError{Field: field, Message: "the shop does not ship to " + in.Shipping.Country, Code: "UNSUPPORTED_COUNTRY"}
	}
	field = []string{"input", "deliveryOptionHandle"}
	if in.DeliveryOptionHandle != "" {
		if t.Shipping == nil {
			return &apperr.UserError{Field: field, Message: "no such delivery option for this address", Code: "INVALID_DELIVERY_OPTION"}
		}
		return nil
	}
	group, handle := c.SelectedDelivery()
	switch {
	case handle == "":
		return &apperr.UserError{Field: field, Message: "choose a delivery option", Code: "DELIVERY_OPTION_REQUIRED"}
	case group != pr.DeliveryGroupID:
		return &apperr.UserError{Field: field, Message: "the delivery option was chosen for another address; choose one for this address", Code: "INVALID_DELIVERY_OPTION"}
	case t.Shipping == nil:
		return &apperr.UserError{Field: field, Message: "the chosen delivery option is no longer offered for this address", Code: "INVALID_DELIVERY_OPTION"}
	}
	return nil
}

// shopAmounts converts the order's figures into the shop's currency at
// the market's rate, each half up, with the total made of its parts so
// they add up (orders.ShopAmounts).
func shopAmounts(p *markets.Pricer, in orders.PlaceInput, shippingDiscount int64) orders.ShopAmounts {
	conv := func(v int64) int64 { return markets.ToShop(v, p.Currency(), p.Base, p.Rate) }
	merchDiscount := conv(in.Discount - shippingDiscount)
	out := orders.ShopAmounts{CurrencyCode: p.Base, RateE10: p.Rate, Subtotal: conv(in.Subtotal), Discount: merchDiscount + conv(shippingDiscount),
		Shipping: conv(in.ShippingTotal), Tax: conv(in.Tax)}
	// Shipping is after its discount, so only the merchandise discount
	// comes off here (as in the presentment total).
	out.Total = out.Subtotal - merchDiscount + out.Shipping
	if !in.TaxesIncluded {
		out.Total += out.Tax
	}
	if out.Total < 0 {
		out.Total = 0
	}
	return out
}

// snapshot is the order's pricing detail.
func snapshot(pr *cart.Priced) orders.Pricing {
	t := pr.Totals
	var p orders.Pricing
	for i, d := range t.Discounts {
		if !d.Applicable || d.Amount == 0 {
			continue
		}
		in := pr.Discounts[i]
		p.DiscountApplications = append(p.DiscountApplications, orders.DiscountApplication{DiscountID: in.ID, Code: in.Code, Title: in.Title,
			Kind: string(in.Kind), Value: in.Value, Amount: d.Amount})
	}
	if s := t.Shipping; s != nil {
		p.ShippingLine = &orders.ShippingLine{Handle: s.Handle, Title: s.Title, Amount: s.Amount, Discount: s.Discount, Tax: s.Tax, TaxLines: taxLines(s.TaxLines)}
	}
	p.TaxLines = taxLines(t.TaxLines)
	return p
}

func taxLines(in []pricing.TaxLine) []orders.TaxLine {
	var out []orders.TaxLine
	for _, l := range in {
		out = append(out, orders.TaxLine{Title: l.Title, Rate: l.Rate, Amount: l.Amount})
	}
	return out
}
