package model

import (
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
}

// IsNode marks Cart as a Node.
func (*Cart) IsNode() {}

// NodeID is the cart's global id.
func (c *Cart) NodeID() string { return c.Cart.ID() }

// CartLine is a priced cart line.
type CartLine struct {
	// LineID is the line's global id (gid://cartograph/CartLine/<variant>).
	LineID      string
	Quantity    int
	Cost        *CartLineCost
	Merchandise Merchandise
}

// IsNode marks CartLine as a Node.
func (*CartLine) IsNode() {}

// NodeID is the line's global id.
func (l *CartLine) NodeID() string { return l.LineID }

// CartCost is a cart's totals.
type CartCost struct {
	SubtotalAmount money.Money
	TotalAmount    money.Money
	TotalTaxAmount *money.Money
}

// CartLineCost is a line's prices.
type CartLineCost struct {
	AmountPerQuantity money.Money
	SubtotalAmount    money.Money
	TotalAmount       money.Money
}
