package auth

import (
	"context"
	"net"
	"net/http"
	"strings"

	"cartograph/internal/apperr"
	"cartograph/internal/ratelimit"
	"cartograph/internal/shop"

	"github.com/google/uuid"
)

// Limits are requests per minute by principal kind (API keys carry their own).
type Limits struct {
	Anonymous, Customer, Staff int
}

// Gateway is the one authentication path, used by HTTP middleware and by
// websocket connection_init: API key → session token → shop from the
// request → anonymous, then the principal's rate limit.
type Gateway struct {
	Shops   *shop.Resolver
	Keys    *Keys
	Signer  *Signer
	Auth    *Service
	Limiter *ratelimit.Limiter
	Limits  Limits
}

// SessionCookie is the cookie a session token may travel in.
const SessionCookie = "cartograph_session"

// Credentials is what a request presents.
type Credentials struct {
	Header   http.Header
	Host     string
	Cookies  []*http.Cookie
	RemoteIP string
}

// FromRequest extracts Credentials from an HTTP request.
func FromRequest(r *http.Request) Credentials {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return Credentials{Header: r.Header, Host: r.Host, Cookies: r.Cookies(), RemoteIP: ip}
}

func bearer(h http.Header) string {
	v := h.Get("Authorization")
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}

// Authenticate returns ctx carrying the shop, the principal and the client
// IP, or a coded error: UNAUTHENTICATED, SHOP_NOT_FOUND, THROTTLED.
func (g *Gateway) Authenticate(ctx context.Context, c Credentials) (context.Context, error) {
	ctx = WithClientIP(ctx, c.RemoteIP)
	req := &http.Request{Header: c.Header, Host: c.Host}
	key := c.Header.Get("X-Api-Key")
	if key == "" {
		if b := bearer(c.Header); strings.HasPrefix(b, "pk_") || strings.HasPrefix(b, "sk_") {
			key = b
		}
	}
	if key == "" {
		if t := c.Header.Get("X-Shopify-Storefront-Access-Token"); t != "" {
			if !strings.HasPrefix(t, "pk_") {
				return ctx, apperr.New(apperr.Unauthenticated, "X-Shopify-Storefront-Access-Token takes a public (pk_) key only")
			}
			key = t
		}
	}
	var p *Principal
	var sh *shop.Shop
	if key != "" {
		row, err := g.Keys.Verify(ctx, key)
		if err != nil {
			return ctx, err
		}
		sh, err = g.Shops.ByID(ctx, row.ShopID)
		if err != nil {
			return ctx, err
		}
		if named, err := g.Shops.ResolveExplicit(ctx, req); err == nil && named.ID != sh.ID {
			return ctx, apperr.New(apperr.Unauthenticated, "API key belongs to another shop")
		}
		p = &Principal{Kind: APIKey, ShopID: sh.ID, Scopes: row.Scopes, KeyID: row.ID, KeyKind: row.Kind, RateLimit: int(row.RateLimit)}
	} else {
		var err error
		sh, err = g.Shops.Resolve(ctx, req)
		if err != nil {
			return ctx, err
		}
		tok := bearer(c.Header)
		if tok == "" {
			for _, ck := range c.Cookies {
				if ck.Name == SessionCookie {
					tok = ck.Value
				}
			}
		}
		if tok != "" {
			claims, err := g.Signer.Verify(tok)
			if err != nil {
				return ctx, err
			}
			if claims.Shop != sh.ID.String() {
				return ctx, apperr.New(apperr.Unauthenticated, "session token belongs to another shop")
			}
			sub, err := uuid.Parse(claims.Subject)
			if err != nil {
				return ctx, apperr.New(apperr.Unauthenticated, "invalid session token")
			}
			p = &Principal{ShopID: sh.ID, Scopes: claims.Scopes, TokenID: claims.ID, Role: claims.Role}
			if claims.Typ == "customer" {
				p.Kind, p.CustomerID, p.RateLimit = Customer, sub, g.Limits.Customer
				revoked, err := g.Auth.Revoked(ctx, claims.ID)
				if err != nil {
					return ctx, apperr.Wrap(err, apperr.Internal, "session check")
				}
				if revoked {
					return ctx, apperr.New(apperr.Unauthenticated, "session has been logged out")
				}
			} else {
				p.Kind, p.StaffID, p.RateLimit = Staff, sub, g.Limits.Staff
			}
		} else {
			p = &Principal{Kind: Anonymous, ShopID: sh.ID, RateLimit: g.Limits.Anonymous}
		}
	}
	var bucket string
	switch p.Kind {
	case APIKey:
		bucket = "key:" + p.KeyID.String()
	case Customer:
		bucket = "customer:" + p.CustomerID.String()
	case Staff:
		bucket = "staff:" + p.StaffID.String()
	default:
		bucket = "ip:" + c.RemoteIP
	}
	if err := g.Limiter.Allow(ctx, bucket, p.RateLimit); err != nil {
		return ctx, err
	}
	return WithPrincipal(shop.WithShop(ctx, sh), p), nil
}
