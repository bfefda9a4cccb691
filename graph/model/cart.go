package model

import (
	"cartograph/internal/orders"
	"time"

	"cartograph/internal/cart"
	"cartograph/internal/money"
)

// Cart is a cart priced from current variant prices.
type Cart struct {
	Cart          *cart.Cart
	CheckoutURL   string
	TotalQuantity int
	BuyerIdentity *CartBuyerIdentity
	Cost          *CartCost
	Lines         []*CartLine
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Note          *string
	Attributes    []*Attribute
	DiscountCodes []*CartDiscountCode
	// AppliedGiftCards is always empty: gift cards are not a feature yet.
	AppliedGiftCards    []*AppliedGiftCard
	DiscountAllocations []CartDiscountAllocation
	// DeliveryGroup is the cart's one delivery group (nil until the
	// delivery country is known, or when nothing ships).
	DeliveryGroup *CartDeliveryGroup
}

// Attribute returns the cart attribute with key, or nil.
func (c *Cart) Attribute(key string) *Attribute { return findAttribute(c.Attributes, key) }

func findAttribute(as []*Attribute, key string) *Attribute {
	for _, a := range as {
		if a.Key == key {
			return a
		}
	}
	return nil
}

// IsNode marks Cart as a Node.
func (*Cart) IsNode() {}

// NodeID is the cart's global id.
func (c *Cart) NodeID() string { return c.Cart.ID() }

// CartLine is a priced cart line.
type CartLine struct {
	// LineID is the line's global id, unique per cart
	// (gid://cartograph/CartLine/<variant>?cart=<token>).
	LineID      string
	Quantity    int
	Cost        *CartLineCost
	Merchandise Merchandise
	Attributes  []*Attribute
	// ParentRelationship is always nil: no bundles yet.
	ParentRelationship  *CartLineParentRelationship
	DiscountAllocations []CartDiscountAllocation
}

// IsBaseCartLine marks CartLine as a BaseCartLine.
func (*CartLine) IsBaseCartLine() {}

// Attribute returns the line attribute with key, or nil.
func (l *CartLine) Attribute(key string) *Attribute { return findAttribute(l.Attributes, key) }

// IsNode marks CartLine as a Node.
func (*CartLine) IsNode() {}

// NodeID is the line's global id.
func (l *CartLine) NodeID() string { return l.LineID }

// CartCost is a cart's totals.
type CartCost struct {
	SubtotalAmount money.Money
	TotalAmount    money.Money
	TotalTaxAmount *money.Money
	// TotalDutyAmount is nil: duties are not computed yet.
	TotalDutyAmount          *money.Money
	CheckoutChargeAmount     money.Money
	SubtotalAmountEstimated  bool
	TotalAmountEstimated     bool
	TotalTaxAmountEstimated  bool
	TotalDutyAmountEstimated bool
}

// CartLineCost is a line's prices.
type CartLineCost struct {
	AmountPerQuantity money.Money
	// CompareAtAmountPerQuantity is the variant's compare-at price, if any.
	CompareAtAmountPerQuantity *money.Money
	SubtotalAmount             money.Money
	TotalAmount                money.Money
}

// CartDeliveryGroup is the cart's lines that ship to one address, with the
// delivery options offered for it.
type CartDeliveryGroup struct {
	ID                     string
	DeliveryAddress        *orders.Address
	DeliveryOptions        []*CartDeliveryOption
	SelectedDeliveryOption *CartDeliveryOption
	GroupType              CartDeliveryGroupType
	// Lines are the cart's lines in the group (all of them: one group).
	Lines []*CartLine
}
