package orders

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"cartograph/internal/dbq"
	"cartograph/internal/money"
	"cartograph/internal/relay"

	"github.com/google/uuid"
)

// Status is an order status (the GraphQL enum OrderStatus).
type Status string

// The statuses.
const (
	PendingPayment    Status = "PENDING_PAYMENT"
	Paid              Status = "PAID"
	Fulfilled         Status = "FULFILLED"
	Cancelled         Status = "CANCELLED"
	Expired           Status = "EXPIRED"
	Refunded          Status = "REFUNDED"
	PartiallyRefunded Status = "PARTIALLY_REFUNDED"
)

// Address is a mailing address (Shopify's MailingAddress fields), stored
// with the order as a snapshot.
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

// Order is an order with its line snapshot and timeline.
type Order struct {
	ID                uuid.UUID
	ShopID            uuid.UUID
	Number            int64
	Status            Status
	Email             string
	CustomerID        *uuid.UUID
	CustomerFirstName string
	CustomerLastName  string
	ShippingAddress   Address
	BillingAddress    Address
	CurrencyCode      money.Currency
	SubtotalAmount    int64
	TaxAmount         int64
	TotalAmount       int64
	RefundedAmount    int64
	CartID            *string
	PaymentProvider   string
	PaymentIntentID   *string
	// PaymentClientSecret is what the buyer's browser confirms the payment
	// with; it is returned to checkoutBegin (and its retries) only.
	PaymentClientSecret  *string
	ReservationExpiresAt *time.Time
	CancelReason         *string
	CreatedAt            time.Time
	UpdatedAt            time.Time
	// DiscountAmount (merchandise and shipping discounts), ShippingAmount
	// (after shipping discounts) and TaxesIncluded, with the Pricing
	// snapshot, are what checkout priced (internal/pricing).
	DiscountAmount int64
	ShippingAmount int64
	TaxesIncluded  bool
	Pricing        Pricing
	// Every amount above is in CurrencyCode, the presentment currency the
	// buyer was charged in. MarketHandle is the market it was sold in
	// (nil: the shop had no markets); ShopAmounts holds the same figures
	// in the shop's currency, so reports add up in one currency.
	MarketHandle *string
	ShopAmounts  ShopAmounts

	Lines   []LineItem
	Events  []Event
	Refunds []Refund
}

// RefundState is where a refund stands (the GraphQL enum RefundState).
type RefundState string

// A refund's state in the API is its stored state (refunds.go's
// RefundPending…) in upper case: PENDING, SUCCEEDED, FAILED.

// Refund is one refund of an order, recorded before the provider was
// called (see refunds.go).
type Refund struct {
	ID          uuid.UUID
	OrderID     uuid.UUID
	Amount      int64
	State       RefundState
	ProviderRef *string
	Reason      string
	Actor       string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// NodeID is the refund's global ID.
func (r *Refund) NodeID() string { return relay.GlobalID("OrderRefund", r.ID) }

func refundFromRow(r dbq.Refund) Refund {
	return Refund{ID: r.ID, OrderID: r.OrderID, Amount: r.Amount, State: RefundState(strings.ToUpper(r.State)), ProviderRef: r.ProviderRef,
		Reason: r.Reason, Actor: r.Actor, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// NodeID is the order's global ID.
func (o *Order) NodeID() string { return relay.GlobalID("Order", o.ID) }

// IsNode marks Order as a Node.
func (*Order) IsNode() {}

// Name is the human order number, "#1001".
func (o *Order) Name() string { return "#" + strconv.FormatInt(o.Number, 10) }

// LineItem is one line of an order: what was bought, at what unit price.
type LineItem struct {
	OrderID      uuid.UUID
	Position     int32
	VariantID    uuid.UUID
	ProductID    uuid.UUID
	ProductTitle string
	VariantTitle string
	Sku          string
	UnitAmount   int64
	Quantity     int32
	// DiscountAmount is what discounts took off the line; TaxAmount its tax.
	DiscountAmount int64
	TaxAmount      int64
}

// Event is one entry of an order's timeline: a status change, who made it
// and why, with the payment reference and amount when money moved.
type Event struct {
	ID         uuid.UUID
	OrderID    uuid.UUID
	FromStatus *Status
	ToStatus   Status
	Actor      string
	Note       string
	PaymentRef *string
	Amount     *int64
	CreatedAt  time.Time
}

// orderFromRow maps a stored order (addresses decoded; a malformed stored
// address becomes an empty one rather than failing the read).
// ShopAmounts are an order's figures in the shop's currency. Each is
// converted from the presentment figure half up; Total is Subtotal −
// Discount + Shipping (+ Tax when taxes are not included), so the figures
// always add up (it can differ from the converted total by the rounding
// of its parts, at most a few minor units).
type ShopAmounts struct {
	CurrencyCode money.Currency
	// RateE10 is the rate used: units of the order's currency per unit of
	// the shop's, × 10^10 (internal/markets.RateScale).
	RateE10                                  int64
	Subtotal, Discount, Shipping, Tax, Total int64
}

// ExchangeRate formats the rate as a decimal ("0.92").
func (a ShopAmounts) ExchangeRate() string { return money.FormatDecimal(a.RateE10, 10) }

func (a ShopAmounts) m(v int64) money.Money { return money.Money{Minor: v, Currency: a.CurrencyCode} }

// SubtotalPrice is the merchandise before discounts.
func (a ShopAmounts) SubtotalPrice() money.Money { return a.m(a.Subtotal) }

// TotalDiscounts is everything discounts took off.
func (a ShopAmounts) TotalDiscounts() money.Money { return a.m(a.Discount) }

// TotalShippingPrice is shipping after its discounts.
func (a ShopAmounts) TotalShippingPrice() money.Money { return a.m(a.Shipping) }

// TotalTax is the tax.
func (a ShopAmounts) TotalTax() money.Money { return a.m(a.Tax) }

// TotalPrice is the total, made of the figures above.
func (a ShopAmounts) TotalPrice() money.Money { return a.m(a.Total) }

func orderFromRow(r *dbq.Order) *Order {
	o := &Order{ID: r.ID, ShopID: r.ShopID, Number: r.Number, Status: Status(r.Status), Email: r.Email, CustomerID: r.CustomerID,
		CustomerFirstName: r.CustomerFirstName, CustomerLastName: r.CustomerLastName, CurrencyCode: r.CurrencyCode,
		SubtotalAmount: r.SubtotalAmount, TaxAmount: r.TaxAmount, TotalAmount: r.TotalAmount, RefundedAmount: r.RefundedAmount,
		CartID: r.CartID, PaymentProvider: r.PaymentProvider, PaymentIntentID: r.PaymentIntentID, PaymentClientSecret: r.PaymentClientSecret,
		ReservationExpiresAt: r.ReservationExpiresAt, CancelReason: r.CancelReason, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		DiscountAmount: r.DiscountAmount, ShippingAmount: r.ShippingAmount, TaxesIncluded: r.TaxesIncluded,
		MarketHandle: r.MarketHandle, ShopAmounts: ShopAmounts{CurrencyCode: money.Currency(r.ShopCurrencyCode), RateE10: r.ExchangeRateE10,
			Subtotal: r.ShopSubtotalAmount, Discount: r.ShopDiscountAmount, Shipping: r.ShopShippingAmount, Tax: r.ShopTaxAmount, Total: r.ShopTotalAmount}}
	_ = json.Unmarshal(r.Pricing, &o.Pricing)
	_ = json.Unmarshal(r.ShippingAddress, &o.ShippingAddress)
	_ = json.Unmarshal(r.BillingAddress, &o.BillingAddress)
	return o
}

func lineFromRow(r dbq.OrderLine) LineItem {
	return LineItem{OrderID: r.OrderID, Position: r.Position, VariantID: r.VariantID, ProductID: r.ProductID,
		ProductTitle: r.ProductTitle, VariantTitle: r.VariantTitle, Sku: r.Sku, UnitAmount: r.UnitAmount, Quantity: r.Quantity,
		DiscountAmount: r.DiscountAmount, TaxAmount: r.TaxAmount}
}

func eventFromRow(r dbq.OrderEvent) Event {
	e := Event{ID: r.ID, OrderID: r.OrderID, ToStatus: Status(r.ToStatus), Actor: r.Actor, Note: r.Note,
		PaymentRef: r.PaymentRef, Amount: r.Amount, CreatedAt: r.CreatedAt}
	if r.FromStatus.Valid {
		from := Status(r.FromStatus.OrderStatus)
		e.FromStatus = &from
	}
	return e
}

// Pricing is the order's pricing snapshot (stored as JSON on the order).
type Pricing struct {
	DiscountApplications []DiscountApplication `json:"discountApplications,omitempty"`
	ShippingLine         *ShippingLine         `json:"shippingLine,omitempty"`
	TaxLines             []TaxLine             `json:"taxLines,omitempty"`
}

// DiscountApplication is a discount the order used and what it took off.
type DiscountApplication struct {
	DiscountID uuid.UUID `json:"discountId"`
	// Code is empty for an automatic discount.
	Code   string `json:"code,omitempty"`
	Title  string `json:"title"`
	Kind   string `json:"kind"`
	Value  int64  `json:"value"`
	Amount int64  `json:"amount"`
}

// ShippingLine is the delivery option the order ships with.
type ShippingLine struct {
	Handle string `json:"handle"`
	Title  string `json:"title"`
	// Amount is the price before discounts; Discount what discounts took off.
	Amount   int64     `json:"amount"`
	Discount int64     `json:"discount"`
	Tax      int64     `json:"tax"`
	TaxLines []TaxLine `json:"taxLines,omitempty"`
}

// TaxLine is the tax of one rate.
type TaxLine struct {
	Title string `json:"title"`
	// Rate in millionths (200000 = 20 %).
	Rate   int64 `json:"rate"`
	Amount int64 `json:"amount"`
}
