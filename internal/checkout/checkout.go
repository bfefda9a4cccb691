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
	"encoding/json"
	"errors"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"cartograph/internal/auth"
	"cartograph/internal/cart"
	"cartograph/internal/dbq"
	"cartograph/internal/idempotency"
	"cartograph/internal/inventory"
	"cartograph/internal/orders"
	"cartograph/internal/payments"
	"cartograph/internal/pg"
	"cartograph/internal/relay"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Address is a mailing address (Shopify's MailingAddressInput fields).
type Address struct {
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
	Company   string `json:"company,omitempty"`
	Address1  string `json:"address1"`
	Address2  string `json:"address2,omitempty"`
	City      string `json:"city"`
	Province  string `json:"province,omitempty"`
	Zip       string `json:"zip,omitempty"`
	Country   string `json:"country"`
	Phone     string `json:"phone,omitempty"`
}

// BeginInput is checkoutBegin's input.
type BeginInput struct {
	CartID         string
	Email          string
	Shipping       Address
	Billing        *Address
	IdempotencyKey string
}

// BeginResult is what checkoutBegin returns, and what retries replay.
type BeginResult struct {
	OrderID      *uuid.UUID       `json:"orderId,omitempty"`
	Provider     string           `json:"provider,omitempty"`
	ClientSecret *string          `json:"clientSecret,omitempty"`
	UserErrors   []auth.UserError `json:"userErrors,omitempty"`
}

// Service runs checkouts.
type Service struct {
	db       *pgxpool.Pool
	q        *dbq.Queries
	carts    *cart.Service
	provider payments.Provider
	idem     *idempotency.Store
	log      *slog.Logger
	// ReservationTTL is how long reserved stock waits for payment.
	ReservationTTL time.Duration
	// OnStock observes committed stock movements (live inventory).
	OnStock inventory.Observer
}

// New returns a checkout service.
func New(db *pgxpool.Pool, carts *cart.Service, provider payments.Provider, idem *idempotency.Store, log *slog.Logger, ttl time.Duration) *Service {
	return &Service{db: db, q: dbq.New(pg.Tenant{Pool: db}), carts: carts, provider: provider, idem: idem, log: log, ReservationTTL: ttl}
}

func validate(in BeginInput) []auth.UserError {
	var ues []auth.UserError
	add := func(msg, code string, field ...string) {
		ues = append(ues, auth.UserError{Field: append([]string{"input"}, field...), Message: msg, Code: code})
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
	if _, err := cart.ParseID("cartId", in.CartID); err != nil {
		return BeginResult{}, err
	}
	if ues := validate(in); len(ues) > 0 {
		return BeginResult{UserErrors: ues}, nil
	}
	req := in
	req.IdempotencyKey = ""
	return idempotency.Do(ctx, s.idem, sh.ID, auth.FromContext(ctx).Ref(), in.IdempotencyKey, "checkoutBegin", req,
		func(ctx context.Context) (BeginResult, error) { return s.begin(ctx, sh, in) })
}

type outOfStock struct{ short []inventory.Shortage }

func (outOfStock) Error() string { return "out of stock" }

func (s *Service) begin(ctx context.Context, sh *shop.Shop, in BeginInput) (BeginResult, error) {
	c, err := s.carts.Load(ctx, in.CartID)
	if err != nil {
		return BeginResult{}, err
	}
	if len(c.Lines) == 0 {
		return BeginResult{UserErrors: []auth.UserError{{Field: []string{"input", "cartId"}, Message: "the cart is empty", Code: "EMPTY_CART"}}}, nil
	}
	pr, err := s.carts.Price(ctx, c)
	if err != nil {
		return BeginResult{}, err
	}
	var ues []auth.UserError
	for _, id := range pr.Unavailable {
		ues = append(ues, auth.UserError{Field: []string{"input", "cartId"}, Message: "line " + relay.GlobalID("ProductVariant", id) + " is no longer for sale", Code: "INVALID_MERCHANDISE_LINE"})
	}
	if len(ues) > 0 {
		return BeginResult{UserErrors: ues}, nil
	}
	if pr.TooLarge {
		return BeginResult{UserErrors: []auth.UserError{{Field: []string{"input", "cartId"}, Message: "order total too large", Code: "INVALID"}}}, nil
	}
	subtotal := pr.Subtotal.Minor
	lines := dbq.OrderLinesInsertParams{ShopID: sh.ID}
	reserve := make([]inventory.Line, len(pr.Lines))
	for i, pl := range pr.Lines {
		v, title := pl.Variant, ""
		if pl.Product != nil {
			title = pl.Product.Title
		}
		lines.Positions = append(lines.Positions, int32(i+1))
		lines.VariantIds = append(lines.VariantIds, v.ID)
		lines.ProductIds = append(lines.ProductIds, v.ProductID)
		lines.ProductTitles = append(lines.ProductTitles, title)
		lines.VariantTitles = append(lines.VariantTitles, v.Title)
		lines.Skus = append(lines.Skus, v.Sku)
		lines.UnitAmounts = append(lines.UnitAmounts, v.PriceAmount)
		lines.Quantities = append(lines.Quantities, int32(pl.Quantity))
		reserve[i] = inventory.Line{VariantID: v.ID, Quantity: pl.Quantity}
	}
	number, err := s.q.OrderNextNumber(ctx, sh.ID)
	if err != nil {
		return BeginResult{}, pg.MapError(err)
	}
	billing := in.Shipping
	if in.Billing != nil {
		billing = *in.Billing
	}
	shipJSON, _ := json.Marshal(in.Shipping)
	billJSON, _ := json.Marshal(billing)
	var customerID *uuid.UUID
	if p := auth.FromContext(ctx); p.Kind == auth.Customer {
		customerID = &p.CustomerID
	}
	expires := time.Now().Add(s.ReservationTTL)
	var order dbq.Order
	var levels []inventory.Level
	cartID := in.CartID
	err = pg.WithTenantTx(ctx, s.db, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		var err error
		order, err = q.OrderInsert(ctx, dbq.OrderInsertParams{ShopID: sh.ID, Number: number, Email: strings.TrimSpace(in.Email), CustomerID: customerID,
			CustomerFirstName: in.Shipping.FirstName, CustomerLastName: in.Shipping.LastName, ShippingAddress: shipJSON, BillingAddress: billJSON,
			CurrencyCode: sh.CurrencyCode, SubtotalAmount: subtotal, TotalAmount: subtotal, CartID: &cartID,
			PaymentProvider: s.provider.Name(), ReservationExpiresAt: &expires})
		if err != nil {
			return pg.MapError(err)
		}
		lines.OrderID = order.ID
		if err := q.OrderLinesInsert(ctx, lines); err != nil {
			return pg.MapError(err)
		}
		short, lv, err := inventory.Reserve(ctx, tx, sh.ID, order.ID, reserve)
		if err != nil {
			return err
		}
		if len(short) > 0 {
			return outOfStock{short}
		}
		levels = lv
		if err := q.OrderEventInsert(ctx, dbq.OrderEventInsertParams{ShopID: sh.ID, OrderID: order.ID, ToStatus: orders.PendingPayment,
			Actor: auth.FromContext(ctx).Ref(), Note: "checkout started"}); err != nil {
			return pg.MapError(err)
		}
		return pg.MapError(q.OrderExpiryInsert(ctx, dbq.OrderExpiryInsertParams{ExpiresAt: expires, ShopID: sh.ID, OrderID: order.ID}))
	})
	var oos outOfStock
	if errors.As(err, &oos) {
		out := BeginResult{}
		for _, sh := range oos.short {
			out.UserErrors = append(out.UserErrors, auth.UserError{Field: []string{"input", "cartId", relay.GlobalID("ProductVariant", sh.VariantID)},
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
	intent, err := s.provider.CreateIntent(ctx, sh.ID, order.ID, order.TotalAmount, string(order.CurrencyCode))
	if err != nil {
		s.abandon(ctx, sh.ID, order.ID)
		return BeginResult{}, err
	}
	if err := s.q.OrderSetPayment(ctx, dbq.OrderSetPaymentParams{PaymentIntentID: &intent.ID, PaymentClientSecret: intent.ClientSecret, ShopID: sh.ID, ID: order.ID}); err != nil {
		s.abandon(ctx, sh.ID, order.ID)
		return BeginResult{}, pg.MapError(err)
	}
	return BeginResult{OrderID: &order.ID, Provider: intent.Provider, ClientSecret: intent.ClientSecret}, nil
}

// abandon cancels an order whose payment could not be created, releasing
// its stock, so the retry that follows starts clean.
func (s *Service) abandon(ctx context.Context, shopID, orderID uuid.UUID) {
	ctx = context.WithoutCancel(ctx)
	reason := "payment could not be created"
	var levels []inventory.Level
	err := pg.WithTenantTx(pg.WithShopID(ctx, shopID), s.db, func(tx pgx.Tx) error {
		if err := pg.MapError(dbq.New(tx).OrderExpiryDelete(ctx, dbq.OrderExpiryDeleteParams{ShopID: shopID, OrderID: orderID})); err != nil {
			return err
		}
		if _, err := orders.Transition(ctx, tx, shopID, orderID, orders.Change{To: orders.Cancelled, Actor: "system", Note: reason, Reason: &reason}); err != nil {
			return err
		}
		var err error
		levels, err = inventory.Release(ctx, tx, shopID, orderID)
		return err
	})
	if err != nil {
		s.log.Error("abandoning order after payment failure", "order", orderID, "err", err)
		return
	}
	if s.OnStock != nil {
		s.OnStock(ctx, shopID, levels)
	}
}
