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
)

// AllScopes lists every scope (a shop owner has all of them).
var AllScopes = []string{ScopeCatalogRead, ScopeCatalogWrite, ScopeInventoryRead, ScopeInventoryWrite,
	ScopeOrdersRead, ScopeOrdersWrite, ScopeCustomersRead, ScopeCustomersWrite, ScopeCheckoutWrite, ScopeAPIKeysManage}

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
}

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
