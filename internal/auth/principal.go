// Package auth authenticates requests and authorizes what they may do:
// API keys (pk_ public storefront keys, sk_ secret backend keys), staff
// sessions and customer sessions (JWT, golang-jwt v5), the one Principal in
// the context, scopes checked by the @hasPermission directive, and the
// services behind login, registration and key management.
// Errors: UNAUTHENTICATED (bad or missing credentials), FORBIDDEN (missing
// scope), THROTTLED (rate limits), BAD_USER_INPUT, NOT_FOUND.
package auth

import (
	"context"
	"slices"
	"strings"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/ratelimit"
	"cartograph/internal/shop"

	"github.com/google/uuid"
)

// Kind is who is calling.
type Kind string

// Principal kinds.
const (
	Anonymous Kind = "anonymous"
	APIKey    Kind = "api_key"
	Staff     Kind = "staff"
	Customer  Kind = "customer"
)

// The scopes Cartograph knows.
const (
	ScopeCatalogRead    = "catalog:read"
	ScopeCatalogWrite   = "catalog:write"
	ScopeInventoryRead  = "inventory:read"
	ScopeInventoryWrite = "inventory:write"
	ScopeOrdersRead     = "orders:read"
	ScopeOrdersWrite    = "orders:write"
	ScopeCustomersRead  = "customers:read"
	ScopeCustomersWrite = "customers:write"
	ScopeCheckoutWrite  = "checkout:write"
	ScopeAPIKeysManage  = "apikeys:manage"
	// ScopeDiscountsWrite manages discounts and codes.
	ScopeDiscountsWrite = "discounts:write"
	// ScopeSettingsWrite manages shipping zones, rates and tax rates.
	ScopeSettingsWrite = "settings:write"
	// ScopeContentWrite manages online-store content: menus, pages,
	// blogs, articles, policies and the brand.
	ScopeContentWrite = "content:write"
)

// AllScopes lists every scope (a shop owner has all of them).
var AllScopes = []string{ScopeCatalogRead, ScopeCatalogWrite, ScopeInventoryRead, ScopeInventoryWrite,
	ScopeOrdersRead, ScopeOrdersWrite, ScopeCustomersRead, ScopeCustomersWrite, ScopeCheckoutWrite, ScopeAPIKeysManage,
	ScopeDiscountsWrite, ScopeSettingsWrite, ScopeContentWrite}

// PublicKeyScopes are the only scopes a pk_ key may hold: what browser code
// of a storefront needs, nothing that reads other people's data.
var PublicKeyScopes = []string{ScopeCatalogRead, ScopeCheckoutWrite}

// CustomerScopes are granted to a logged-in customer; services further
// restrict them to the customer's own records.
var CustomerScopes = []string{ScopeCatalogRead, ScopeCheckoutWrite, ScopeCustomersRead, ScopeCustomersWrite, ScopeOrdersRead}

// Principal is the authenticated caller of one request.
type Principal struct {
	Kind   Kind
	ShopID uuid.UUID
	Scopes []string
	// Exactly one of these is set, according to Kind.
	StaffID, CustomerID, KeyID uuid.UUID
	// KeyKind is "public" or "secret" for API keys.
	KeyKind string
	// Role is "owner" or "staff" for staff.
	Role string
	// TokenID is the JWT id of a session (for logout).
	TokenID string
	// RateLimit is requests per minute for this principal (0: default).
	RateLimit int
	// CostLimit is an API key's own query-cost bucket in points (0: the
	// configured default).
	CostLimit int
	// ExpiresAt is when the credential stops being valid: a session
	// token's expiry or an API key's (zero: no expiry). Long-lived
	// connections close then.
	ExpiresAt time.Time

	// rateCheck is the principal's rate-limit check when authentication
	// deferred it (Credentials.DeferRateLimit).
	rateCheck *ratelimit.Pending
}

// PendingRateLimit is the principal's rate-limit check when authentication
// was asked to defer it (Credentials.DeferRateLimit), nil otherwise. The
// caller must make it (Check, or Queue in the same round trip as another
// Redis call) before the request does work worth limiting, and at the
// latest when it ends, so every request is counted.
func (p *Principal) PendingRateLimit() *ratelimit.Pending { return p.rateCheck }

// Ref names the principal for timelines and idempotency records:
// "staff:<id>", "key:<id>", "customer:<id>" or "anonymous".
func (p *Principal) Ref() string {
	switch p.Kind {
	case Staff:
		return "staff:" + p.StaffID.String()
	case APIKey:
		return "key:" + p.KeyID.String()
	case Customer:
		return "customer:" + p.CustomerID.String()
	}
	return "anonymous"
}

// Has reports whether p holds every scope in want.
func (p *Principal) Has(want ...string) bool {
	for _, s := range want {
		if !slices.Contains(p.Scopes, s) {
			return false
		}
	}
	return true
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the request's principal; anonymous when none was set.
func FromContext(ctx context.Context) *Principal {
	if p, ok := ctx.Value(ctxKey{}).(*Principal); ok && p != nil {
		return p
	}
	return &Principal{Kind: Anonymous}
}

// ValidScope reports whether s is a known scope.
func ValidScope(s string) bool { return slices.Contains(AllScopes, s) }

// Authorization helpers. Service methods authorize first with these, and
// they compose: Require for scopes, StaffOrKey to keep customers out of
// shop-wide operations, OwnerOrStaff for a customer's own records, OwnCustomer
// to narrow a listing to the calling customer. No service branches on
// Principal.Kind itself.

// Require checks the context's principal holds scopes: UNAUTHENTICATED for
// anonymous callers, FORBIDDEN otherwise. It is what @hasPermission runs.
func Require(ctx context.Context, scopes ...string) error {
	p := FromContext(ctx)
	if p.Kind == Anonymous {
		return apperr.New(apperr.Unauthenticated, "authentication required")
	}
	if !p.Has(scopes...) {
		return apperr.New(apperr.Forbidden, "missing permission: %s", strings.Join(scopes, ", "))
	}
	return nil
}

// RequireIn is Require, then the request's shop (SHOP_NOT_FOUND without
// one): the start of every shop-administration read and write.
func RequireIn(ctx context.Context, scopes ...string) (*shop.Shop, error) {
	if err := Require(ctx, scopes...); err != nil {
		return nil, err
	}
	return shop.FromContext(ctx)
}

// StaffOrKey is Require plus: the caller acts for the shop (staff or an API
// key), not as one customer. FORBIDDEN for customers, with what they may do
// instead.
func StaffOrKey(ctx context.Context, customerMsg string, scopes ...string) error {
	if err := Require(ctx, scopes...); err != nil {
		return err
	}
	if FromContext(ctx).Kind == Customer {
		return apperr.New(apperr.Forbidden, "%s", customerMsg)
	}
	return nil
}

// OwnCustomer returns the calling customer's id, or nil for any other
// principal: listings and reads narrow to it so a customer only ever sees
// their own records.
func OwnCustomer(ctx context.Context) *uuid.UUID {
	if p := FromContext(ctx); p.Kind == Customer {
		id := p.CustomerID
		return &id
	}
	return nil
}

// Owns reports whether the caller may see a record belonging to
// customerID (nil: a guest record): shop-side principals see every record,
// a customer only their own.
func Owns(ctx context.Context, customerID *uuid.UUID) bool {
	own := OwnCustomer(ctx)
	return own == nil || (customerID != nil && *customerID == *own)
}

// OwnerOrStaff is Require plus Owns: FORBIDDEN when a customer asks for
// another customer's records.
func OwnerOrStaff(ctx context.Context, customerID uuid.UUID, scopes ...string) error {
	if err := Require(ctx, scopes...); err != nil {
		return err
	}
	if !Owns(ctx, &customerID) {
		return apperr.New(apperr.Forbidden, "customers can only read their own records")
	}
	return nil
}

// SeesPersonalData reports whether the caller may read the buyer's personal
// data (email, name) on a record of customerID (nil: a guest's): staff and
// secret keys act for the shop, and a customer sees their own. A public key
// or an anonymous caller — anyone who holds a cart id — does not.
func SeesPersonalData(ctx context.Context, customerID *uuid.UUID) bool {
	p := FromContext(ctx)
	switch {
	case p.Kind == Staff, p.Kind == APIKey && p.KeyKind == "secret":
		return true
	case p.Kind == Customer:
		return customerID != nil && *customerID == p.CustomerID
	}
	return false
}
