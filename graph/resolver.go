// Package graph holds the GraphQL resolvers: thin functions that map
// arguments, call one service method and return. No SQL, Redis or Stripe
// here. gqlgen generates the executable schema into graph/generated.
package graph

import (
	"cartograph/internal/auth"
	"cartograph/internal/cart"
	"cartograph/internal/catalog"
	"cartograph/internal/checkout"
	"cartograph/internal/content"
	"cartograph/internal/customers"
	"cartograph/internal/discounts"
	"cartograph/internal/documents"
	"cartograph/internal/events"
	"cartograph/internal/inventory"
	"cartograph/internal/markets"
	"cartograph/internal/orders"
	"cartograph/internal/shipping"
	"cartograph/internal/taxes"
)

// Resolver is the root resolver; it holds the services resolvers call.
type Resolver struct {
	Catalog *catalog.Service
	// Auth serves sessions and API keys.
	Auth *auth.Service
	// Customers serves customer registration and reads.
	CustomerService *customers.Service
	// BaseDomain is the domain shops get a subdomain of (Shop.primaryDomain).
	BaseDomain string
	// Carts, Checkout and Orders run the write path.
	CartService     *cart.Service
	Discounts       *discounts.Service
	Shipping        *shipping.Service
	Taxes           *taxes.Service
	Markets         *markets.Service
	CheckoutService *checkout.Service
	OrderService    *orders.Service
	// Inventory runs staff stock movements and ledger reads; Events
	// serves inventory subscriptions.
	Inventory *inventory.Service
	Events    *events.Hub
	// Documents manages the shop's API policy and trusted documents.
	Documents *documents.Service
	// Content stores and serves menus, pages, blogs, policies and brand.
	Content *content.Service
}
