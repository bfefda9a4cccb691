// Package shop resolves the tenant (shop) of a request and carries it in the
// context. The shop always comes from the request (header, Host), never from
// GraphQL arguments; services read it with FromContext.
package shop

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"
	"cartograph/internal/relay"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5"
)

// Shop is a tenant.
type Shop struct{ dbq.Shop }

// NodeID is the shop's global ID.
func (s *Shop) NodeID() string { return relay.GlobalID("Shop", s.ID) }

// IsNode marks Shop as implementing the GraphQL Node interface.
func (*Shop) IsNode() {}

// Host is the shop's primary host name: its custom domain, else
// <handle>.<baseDomain>. The one place that derives it (primaryDomain,
// checkout URLs).
func (s *Shop) Host(baseDomain string) string {
	if s.CustomDomain != nil && *s.CustomDomain != "" {
		return *s.CustomDomain
	}
	return s.Handle + "." + baseDomain
}

// Description is null: shops have no description yet.
func (*Shop) Description() *string { return nil }

type ctxKey struct{}

// WithShop returns ctx carrying s; tenant queries (pg.Tenant) made with it
// run under s's row-level security.
func WithShop(ctx context.Context, s *Shop) context.Context {
	return pg.WithShopID(context.WithValue(ctx, ctxKey{}, s), s.ID)
}

// FromContext returns the request's shop, or SHOP_NOT_FOUND when the request
// was not addressed to a known shop.
func FromContext(ctx context.Context) (*Shop, error) {
	if s, ok := ctx.Value(ctxKey{}).(*Shop); ok && s != nil {
		return s, nil
	}
	return nil, apperr.New(apperr.ShopNotFound, "no shop matches this request")
}

// HeaderHandle is the development/test header naming the shop by handle.
const HeaderHandle = "X-Shop-Handle"

type entry struct {
	shop    *Shop
	expires time.Time
}

// Resolver finds shops by handle or domain with a short in-process cache,
// so resolving the tenant costs no SQL on the hot path. Negative results are
// cached too, in a separate bounded cache (an unknown Host cannot be used
// to hammer the database, nor to flush the known shops).
type Resolver struct {
	q          *dbq.Queries
	baseDomain string
	fallback   string
	ttl        time.Duration
	mu         sync.RWMutex
	cache      map[string]entry
	// misses caches unknown handles/hosts apart from cache, bounded, so a
	// flood of distinct misses evicts only other misses.
	misses *lru.Cache[string, time.Time]
	now    func() time.Time
}

// maxMisses bounds the negative cache; maxShops the positive one.
const (
	maxMisses = 10000
	maxShops  = 100000
)

// NewResolver returns a Resolver. baseDomain enables <handle>.<baseDomain>;
// fallback (may be empty) is the shop handle used when nothing in the
// request names one — for local development only.
func NewResolver(db dbq.DBTX, baseDomain, fallback string, ttl time.Duration) *Resolver {
	return &Resolver{q: dbq.New(db), baseDomain: strings.ToLower(baseDomain), fallback: fallback, ttl: ttl,
		cache: map[string]entry{}, misses: must(lru.New[string, time.Time](maxMisses)), now: time.Now}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// ByHandle returns the shop with handle (cached like Resolve).
func (r *Resolver) ByHandle(ctx context.Context, handle string) (*Shop, error) {
	return r.lookup(ctx, "h:", strings.ToLower(handle))
}

// ByID returns the shop with id (cached like Resolve).
func (r *Resolver) ByID(ctx context.Context, id uuid.UUID) (*Shop, error) {
	return r.lookup(ctx, "i:", id.String())
}

// ResolveExplicit is Resolve without the development fallback: the shop the
// request itself names (header, custom domain, subdomain), if any.
func (r *Resolver) ResolveExplicit(ctx context.Context, req *http.Request) (*Shop, error) {
	return r.resolve(ctx, req, "")
}

// Resolve finds the shop a request addresses: the X-Shop-Handle header, the
// custom domain in Host, a subdomain of the base domain, then the fallback.
// It returns SHOP_NOT_FOUND when none matches.
func (r *Resolver) Resolve(ctx context.Context, req *http.Request) (*Shop, error) {
	return r.resolve(ctx, req, r.fallback)
}

func (r *Resolver) resolve(ctx context.Context, req *http.Request, fallback string) (*Shop, error) {
	if h := strings.TrimSpace(req.Header.Get(HeaderHandle)); h != "" {
		return r.lookup(ctx, "h:", strings.ToLower(h))
	}
	s, _, err := r.ByHostQueried(ctx, req.Host)
	if err == nil || apperr.CodeOf(err) != apperr.ShopNotFound || fallback == "" {
		return s, err
	}
	return r.lookup(ctx, "h:", fallback)
}

// ByHostQueried returns the shop a Host header names: its custom domain,
// then <handle>.<base domain>. An IP address or an empty host names no
// shop (SHOP_NOT_FOUND without a lookup). It reports whether it ran a
// statement (a miss not yet in the negative cache): pre-authentication
// callers charge such misses to the client.
func (r *Resolver) ByHostQueried(ctx context.Context, host string) (*Shop, bool, error) {
	host = strings.ToLower(host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	queried := false
	if host != "" && net.ParseIP(host) == nil {
		s, q, err := r.lookupQ(ctx, "d:", host)
		queried = q
		if err == nil {
			return s, queried, nil
		} else if apperr.CodeOf(err) != apperr.ShopNotFound {
			return nil, queried, err
		}
		if r.baseDomain != "" {
			if sub, ok := strings.CutSuffix(host, "."+r.baseDomain); ok && sub != "" && !strings.Contains(sub, ".") {
				s, q, err := r.lookupQ(ctx, "h:", sub)
				return s, queried || q, err
			}
		}
	}
	return nil, queried, apperr.New(apperr.ShopNotFound, "no shop matches this request: send %s or use the shop's domain", HeaderHandle)
}

func (r *Resolver) lookup(ctx context.Context, kind, key string) (*Shop, error) {
	s, _, err := r.lookupQ(ctx, kind, key)
	return s, err
}

// lookupQ is lookup reporting whether it ran a statement.
func (r *Resolver) lookupQ(ctx context.Context, kind, key string) (*Shop, bool, error) {
	ck := kind + key
	now := r.now()
	r.mu.RLock()
	e, ok := r.cache[ck]
	r.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.shop, false, nil
	}
	if until, ok := r.misses.Get(ck); ok && now.Before(until) {
		return nil, false, unknown(kind, key)
	}
	var s dbq.Shop
	var err error
	switch kind {
	case "h:":
		s, err = r.q.ShopByHandle(ctx, key)
	case "i:":
		var rows []dbq.Shop
		rows, err = r.q.ShopsByIDs(ctx, []uuid.UUID{uuid.MustParse(key)})
		if err == nil && len(rows) == 0 {
			err = pgx.ErrNoRows
		} else if err == nil {
			s = rows[0]
		}
	default:
		s, err = r.q.ShopByDomain(ctx, &key)
	}
	var res *Shop
	switch {
	case err == nil:
		res = &Shop{s}
	case errors.Is(err, pgx.ErrNoRows):
	default:
		return nil, true, pg.MapError(err)
	}
	if res == nil {
		r.misses.Add(ck, now.Add(r.ttl))
		return nil, true, unknown(kind, key)
	}
	r.misses.Remove(ck)
	r.mu.Lock()
	if len(r.cache) >= maxShops {
		r.cache = map[string]entry{}
	}
	r.cache[ck] = entry{shop: res, expires: now.Add(r.ttl)}
	r.mu.Unlock()
	return res, true, nil
}

func unknown(kind, key string) error {
	if kind == "h:" {
		return apperr.New(apperr.ShopNotFound, "unknown shop %q", key)
	}
	return apperr.New(apperr.ShopNotFound, "no shop is served on %q", key)
}
