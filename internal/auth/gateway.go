package auth

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/metrics"
	"cartograph/internal/ratelimit"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
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
	// FailPerMinute limits failed authentications (unknown or malformed
	// key, unknown shop or host, bad or revoked token) per client IP
	// (AUTH_FAIL_PER_MINUTE; 0 disables). Once an IP is over it, its
	// requests are refused THROTTLED on this instance before any lookup
	// until the limiter's retry time.
	FailPerMinute int

	blockOnce sync.Once
	blocked   *lru.Cache[string, time.Time] // IP → refused until
}

// blockedIPs bounds the per-instance refusal list.
const blockedIPs = 65536

func (g *Gateway) blocklist() *lru.Cache[string, time.Time] {
	g.blockOnce.Do(func() { g.blocked, _ = lru.New[string, time.Time](blockedIPs) })
	return g.blocked
}

// Authenticate returns ctx carrying the shop, the principal and the client
// IP, or a coded error: UNAUTHENTICATED, SHOP_NOT_FOUND, THROTTLED,
// SERVICE_UNAVAILABLE. Failed authentications are rate-limited per IP; an
// IP over that limit costs a map lookup, not SQL.
func (g *Gateway) Authenticate(ctx context.Context, c Credentials) (context.Context, error) {
	if err := g.refusedIP(c.RemoteIP); err != nil {
		return ctx, err
	}
	out, err := g.authenticate(ctx, c)
	if err == nil {
		return out, nil
	}
	g.failed(ctx, c.RemoteIP, err)
	return out, err
}

// refusedIP is THROTTLED while ip is on this instance's refusal list.
func (g *Gateway) refusedIP(ip string) error {
	if g.FailPerMinute <= 0 {
		return nil
	}
	until, ok := g.blocklist().Get(ip)
	if !ok {
		return nil
	}
	if wait := time.Until(until); wait > 0 {
		metrics.RateLimited("authfail")
		retry := int(wait/time.Second) + 1
		e := apperr.New(apperr.Throttled, "too many failed authentications; retry after %ds", retry)
		e.Extensions = map[string]any{"retryAfter": retry}
		return e
	}
	g.blocked.Remove(ip)
	return nil
}

// failed counts a failed authentication of ip; over FailPerMinute the IP
// goes on the refusal list until the limiter's retry time.
func (g *Gateway) failed(ctx context.Context, ip string, err error) {
	switch apperr.CodeOf(err) {
	case apperr.Unauthenticated, apperr.ShopNotFound:
		if g.FailPerMinute > 0 {
			if lerr := g.Limiter.Allow(ctx, ratelimit.Key("authfail", ip), g.FailPerMinute); lerr != nil {
				if ae, ok := apperr.As(lerr); ok && ae.Code == apperr.Throttled {
					ra, _ := ae.Extensions["retryAfter"].(int)
					g.blocklist().Add(ip, time.Now().Add(time.Duration(max(ra, 1))*time.Second))
				}
			}
		}
	case apperr.Throttled:
		metrics.RateLimited("principal")
	}
}

// HostShop returns the shop the request's Host itself names (its custom
// domain or <handle>.<base domain>; never a header, a key or the
// development fallback), for decisions taken before authentication, such
// as a CORS preflight, which carries no credentials. An IP on the refusal
// list gets nil without a lookup; an unknown host counts as a failed
// authentication of the IP when it cost a statement (a host already in the
// negative cache does not, so a shared gateway host is not charged).
func (g *Gateway) HostShop(ctx context.Context, r *http.Request) *shop.Shop {
	ip := remoteIP(r)
	if g.refusedIP(ip) != nil {
		return nil
	}
	sh, queried, err := g.Shops.ByHostQueried(ctx, r.Host)
	if err != nil {
		if queried {
			g.failed(ctx, ip, err)
		}
		return nil
	}
	return sh
}

// SessionCookie is the cookie a session token may travel in.
const SessionCookie = "cartograph_session"

// Credentials is what a request presents.
type Credentials struct {
	Header   http.Header
	Host     string
	Cookies  []*http.Cookie
	RemoteIP string
	// DeferRateLimit: authentication prepares the principal's rate-limit
	// check instead of making it (Principal.PendingRateLimit), so the
	// GraphQL endpoint can send it in the same Redis round trip as the
	// query-cost take. Throttling then refuses the request after its
	// document is parsed and priced (both bounded) instead of before.
	DeferRateLimit bool
}

// FromRequest extracts Credentials from an HTTP request.
func FromRequest(r *http.Request) Credentials {
	return Credentials{Header: r.Header, Host: r.Host, Cookies: r.Cookies(), RemoteIP: remoteIP(r)}
}

// remoteIP is the client address of r without its port.
func remoteIP(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}

// MayBeTrusted reports whether r presents a credential that could
// authenticate a trusted caller (a secret key, a session token or cookie,
// which may be staff's): false for anonymous requests and public (pk_)
// keys, whose limits (the public body size) can be applied from the
// headers alone, before authentication.
func MayBeTrusted(r *http.Request) bool {
	if k := r.Header.Get("X-Api-Key"); k != "" && !strings.HasPrefix(k, "pk_") {
		return true
	}
	if b := bearer(r.Header); b != "" && !strings.HasPrefix(b, "pk_") {
		return true
	}
	if r.Header.Get("Shopify-Storefront-Private-Token") != "" {
		return true
	}
	_, err := r.Cookie(SessionCookie)
	return err == nil
}

func bearer(h http.Header) string {
	v := h.Get("Authorization")
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}

func (g *Gateway) authenticate(ctx context.Context, c Credentials) (context.Context, error) {
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
	if key == "" {
		// Hydrogen's and other server-side storefronts' private token: a
		// secret key (never sent to browsers).
		if t := c.Header.Get("Shopify-Storefront-Private-Token"); t != "" {
			if !strings.HasPrefix(t, "sk_") {
				return ctx, apperr.New(apperr.Unauthenticated, "Shopify-Storefront-Private-Token takes a secret (sk_) key only")
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
		if row.CostLimit != nil {
			p.CostLimit = int(*row.CostLimit)
		}
		if row.ExpiresAt != nil {
			p.ExpiresAt = *row.ExpiresAt
		}
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
			if claims.ExpiresAt != nil {
				p.ExpiresAt = claims.ExpiresAt.Time
			}
			if claims.Typ == "customer" {
				p.Kind, p.CustomerID, p.RateLimit = Customer, sub, g.Limits.Customer
				revoked, err := g.Auth.Revoked(shop.WithShop(ctx, sh), claims.ID)
				if err != nil {
					return ctx, err
				}
				if revoked {
					return ctx, apperr.New(apperr.Unauthenticated, "session has been logged out")
				}
				exists, err := g.Auth.CustomerExists(ctx, sh.ID, sub)
				if err != nil {
					return ctx, err
				}
				if !exists {
					return ctx, apperr.New(apperr.Unauthenticated, "unknown customer")
				}
			} else {
				// Trust the membership as it is now, not the token's claims:
				// a removed member is refused, a narrowed one narrowed.
				role, scopes, member, err := g.Auth.Membership(ctx, sh.ID, sub)
				if err != nil {
					return ctx, err
				}
				if !member {
					return ctx, apperr.New(apperr.Unauthenticated, "not a staff member of this shop")
				}
				p.Kind, p.StaffID, p.RateLimit = Staff, sub, g.Limits.Staff
				p.Role, p.Scopes = role, narrow(claims.Scopes, scopes)
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
	if c.DeferRateLimit {
		p.rateCheck = g.Limiter.Defer(bucket, p.RateLimit)
	} else if err := g.Limiter.Allow(ctx, bucket, p.RateLimit); err != nil {
		return ctx, err
	}
	return WithPrincipal(shop.WithShop(ctx, sh), p), nil
}
