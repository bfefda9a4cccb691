package orders

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"cartograph/internal/dbq"
	"cartograph/internal/money"
	"cartograph/internal/pg"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PlaceInput is a new order as checkout priced it.
type PlaceInput struct {
	ShopID     uuid.UUID
	Number     int64 // from NextNumber, taken outside the transaction
	Email      string
	CustomerID *uuid.UUID
	Shipping   Address
	Billing    Address
	Currency   money.Currency
	Subtotal   int64
	Total      int64
	// Discount, Shipping and Tax are the order's totals as priced
	// (internal/pricing); Pricing is their detail.
	Discount, ShippingTotal, Tax int64
	TaxesIncluded                bool
	Pricing                      Pricing
	// MarketHandle and Shop: see Order (zero Shop: the shop's currency is
	// Currency, the figures as above at rate 1).
	MarketHandle *string
	Shop         ShopAmounts
	CartID       *string
	Provider     string
	Actor        string
	// ExpiresAt is when the unpaid order's reservation lapses.
	ExpiresAt time.Time
	// CheckoutScope and CheckoutKey are the idempotency scope and key of
	// the checkout that places the order: unique per shop, so a retry after
	// a crash finds this order (ByCheckoutKey) instead of placing another.
	CheckoutScope, CheckoutKey string
	Lines                      []LineItem
}

// NextNumber takes the shop's next order number. It runs in its own short
// statement, outside the checkout transaction, so checkouts of one shop do
// not queue on the counter row while they reserve stock (numbers taken by
// failed checkouts are skipped, never reused).
func (s *Service) NextNumber(ctx context.Context, shopID uuid.UUID) (int64, error) {
	n, err := s.q.OrderNextNumber(pg.WithShopID(ctx, shopID), shopID)
	return n, pg.MapError(err)
}

// Place writes a new order in PENDING_PAYMENT inside the caller's
// transaction: the order row, its line snapshot, the first timeline event
// and its entry in the expiry queue. The caller reserves the stock in the
// same transaction (internal/inventory), so either all of it commits or
// none.
func Place(ctx context.Context, tx pgx.Tx, in PlaceInput) (*Order, error) {
	q := dbq.New(tx)
	shipJSON, err := json.Marshal(in.Shipping)
	if err != nil {
		return nil, err
	}
	billJSON, err := json.Marshal(in.Billing)
	if err != nil {
		return nil, err
	}
	pricingJSON, err := json.Marshal(in.Pricing)
	if err != nil {
		return nil, err
	}
	expires := in.ExpiresAt
	if in.Shop.CurrencyCode == "" {
		in.Shop = ShopAmounts{CurrencyCode: in.Currency, RateE10: 10_000_000_000, Subtotal: in.Subtotal, Discount: in.Discount, Shipping: in.ShippingTotal, Tax: in.Tax, Total: in.Total}
	}
	row, err := q.OrderInsert(ctx, dbq.OrderInsertParams{ShopID: in.ShopID, Number: in.Number, Email: in.Email, CustomerID: in.CustomerID,
		CustomerFirstName: in.Shipping.FirstName, CustomerLastName: in.Shipping.LastName, ShippingAddress: shipJSON, BillingAddress: billJSON,
		CurrencyCode: in.Currency, SubtotalAmount: in.Subtotal, TotalAmount: in.Total, CartID: in.CartID,
		DiscountAmount: in.Discount, ShippingAmount: in.ShippingTotal, TaxAmount: in.Tax, TaxesIncluded: in.TaxesIncluded, Pricing: pricingJSON,
		PaymentProvider: in.Provider, ReservationExpiresAt: &expires, CheckoutScope: nonEmpty(in.CheckoutScope), CheckoutKey: nonEmpty(in.CheckoutKey),
		MarketHandle: in.MarketHandle, ShopCurrencyCode: string(in.Shop.CurrencyCode), ExchangeRateE10: in.Shop.RateE10, ShopSubtotalAmount: in.Shop.Subtotal,
		ShopDiscountAmount: in.Shop.Discount, ShopShippingAmount: in.Shop.Shipping, ShopTaxAmount: in.Shop.Tax, ShopTotalAmount: in.Shop.Total})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			switch pgErr.ConstraintName {
			case "orders_checkout_key_idx":
				return nil, ErrCheckoutKeyTaken
			case "orders_live_cart_idx":
				return nil, ErrCartHasLiveOrder
			}
		}
		return nil, pg.MapError(err)
	}
	lines := dbq.OrderLinesInsertParams{ShopID: in.ShopID, OrderID: row.ID}
	for i, l := range in.Lines {
		lines.Positions = append(lines.Positions, int32(i+1))
		lines.VariantIds = append(lines.VariantIds, l.VariantID)
		lines.ProductIds = append(lines.ProductIds, l.ProductID)
		lines.ProductTitles = append(lines.ProductTitles, l.ProductTitle)
		lines.VariantTitles = append(lines.VariantTitles, l.VariantTitle)
		lines.Skus = append(lines.Skus, l.Sku)
		lines.UnitAmounts = append(lines.UnitAmounts, l.UnitAmount)
		lines.Quantities = append(lines.Quantities, l.Quantity)
		lines.DiscountAmounts = append(lines.DiscountAmounts, l.DiscountAmount)
		lines.TaxAmounts = append(lines.TaxAmounts, l.TaxAmount)
	}
	if err := q.OrderLinesInsert(ctx, lines); err != nil {
		return nil, pg.MapError(err)
	}
	if err := q.OrderEventInsert(ctx, dbq.OrderEventInsertParams{ShopID: in.ShopID, OrderID: row.ID, ToStatus: dbq.OrderStatus(PendingPayment),
		Actor: in.Actor, Note: "checkout started"}); err != nil {
		return nil, pg.MapError(err)
	}
	if err := q.OrderExpiryInsert(ctx, dbq.OrderExpiryInsertParams{ExpiresAt: expires, ShopID: in.ShopID, OrderID: row.ID}); err != nil {
		return nil, pg.MapError(err)
	}
	return orderFromRow(&row), nil
}

// Place's refusals, decided by unique indexes so they hold across
// instances and crashes.
var (
	// ErrCheckoutKeyTaken: another attempt with the same idempotency key
	// placed the order first (find it with ByCheckoutKey).
	ErrCheckoutKeyTaken = errors.New("an order was already placed with this idempotency key")
	// ErrCartHasLiveOrder: the cart already has an unpaid order holding
	// its stock.
	ErrCartHasLiveOrder = errors.New("the cart already has an order awaiting payment")
)

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ByCheckoutKey returns the order a checkout with this idempotency scope
// and key placed, or nil. No principal check: the caller authorized the
// checkout, and the scope names the principal.
func (s *Service) ByCheckoutKey(ctx context.Context, shopID uuid.UUID, scope, key string) (*Order, error) {
	rows, err := s.q.OrderByCheckoutKey(pg.WithShopID(ctx, shopID), dbq.OrderByCheckoutKeyParams{ShopID: shopID, CheckoutScope: &scope, CheckoutKey: &key})
	if err != nil || len(rows) == 0 {
		return nil, pg.MapError(err)
	}
	return orderFromRow(&rows[0]), nil
}

// AttachPayment records the provider's payment intent on a placed order.
func (s *Service) AttachPayment(ctx context.Context, shopID, orderID uuid.UUID, intentID string, clientSecret *string) error {
	return pg.MapError(s.q.OrderSetPayment(pg.WithShopID(ctx, shopID), dbq.OrderSetPaymentParams{PaymentIntentID: &intentID, PaymentClientSecret: clientSecret, ShopID: shopID, ID: orderID}))
}

// Abandon cancels an unpaid order whose payment could not be created and
// releases its stock (the one release path, shared with staff cancels and
// payment failures), so the retry that follows starts clean. It runs even
// when the caller's context is cancelled; failures are logged.
func (s *Service) Abandon(ctx context.Context, shopID, orderID uuid.UUID, reason string) {
	if _, err := s.release(context.WithoutCancel(ctx), shopID, orderID, Cancelled, "system", reason, &reason, nil); err != nil {
		s.log.Error("abandoning order after payment failure", "order", orderID, "err", err)
	}
}
