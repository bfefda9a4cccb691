package auth

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// PrincipalCacheTTL bounds how long a staff membership or a customer's
// existence is trusted without asking PostgreSQL again: a removed member
// or deleted customer loses access within this time on every instance,
// like a revoked API key (KeyCacheTTL).
const PrincipalCacheTTL = time.Second

type membership struct {
	ok      bool
	role    string
	scopes  []string
	expires time.Time
}

// principalCache remembers membership lookups for PrincipalCacheTTL;
// bounded (it is cleared when full).
type principalCache struct {
	mu sync.Mutex
	m  map[[2]uuid.UUID]membership
}

func (c *principalCache) get(k [2]uuid.UUID, now time.Time) (membership, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok && now.Before(v.expires)
}

func (c *principalCache) put(k [2]uuid.UUID, v membership) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 50000 {
		c.m = map[[2]uuid.UUID]membership{}
	}
	c.m[k] = v
}

// Membership returns a staff member's current role and scopes at a shop
// (ok false when they are no longer a member), cached for at most
// PrincipalCacheTTL. Session tokens are checked against it on every
// request: a token never grants more than the membership holds now.
func (s *Service) Membership(ctx context.Context, shopID, staffID uuid.UUID) (role string, scopes []string, ok bool, err error) {
	k := [2]uuid.UUID{shopID, staffID}
	now := time.Now()
	if v, hit := s.members.get(k, now); hit {
		return v.role, v.scopes, v.ok, nil
	}
	m, err := s.tenant.MembershipGet(pg.WithShopID(ctx, shopID), dbq.MembershipGetParams{ShopID: shopID, StaffID: staffID})
	v := membership{expires: now.Add(PrincipalCacheTTL)}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return "", nil, false, pg.MapError(err)
	default:
		v.ok, v.role, v.scopes = true, m.Role, m.Scopes
		if m.Role == "owner" {
			v.scopes = AllScopes
		}
	}
	s.members.put(k, v)
	return v.role, v.scopes, v.ok, nil
}

// CustomerExists reports whether a customer still exists at the shop
// (cached for at most PrincipalCacheTTL): tokens of deleted customers are
// refused.
func (s *Service) CustomerExists(ctx context.Context, shopID, customerID uuid.UUID) (bool, error) {
	if s.customers == nil {
		return true, nil
	}
	k := [2]uuid.UUID{shopID, customerID}
	now := time.Now()
	if v, hit := s.customerSeen.get(k, now); hit {
		return v.ok, nil
	}
	ok, err := s.customers.Exists(ctx, shopID, customerID)
	if err != nil {
		return false, err
	}
	s.customerSeen.put(k, membership{ok: ok, expires: now.Add(PrincipalCacheTTL)})
	return ok, nil
}

// grantable checks that the caller may hand out scopes on a new key: only
// scopes they hold themselves, and apikeys:manage only if they are a shop
// owner. FORBIDDEN names what they may not grant.
func grantable(p *Principal, scopes []string) error {
	for _, sc := range scopes {
		if sc == ScopeAPIKeysManage && !(p.Kind == Staff && p.Role == "owner") {
			return apperr.New(apperr.Forbidden, "only shop owners may grant %s", ScopeAPIKeysManage)
		}
		if !slices.Contains(p.Scopes, sc) {
			return apperr.New(apperr.Forbidden, "you cannot grant %s: you do not hold it", sc)
		}
	}
	return nil
}

// narrow keeps the token's scopes that the membership still holds.
func narrow(token, current []string) []string {
	out := make([]string, 0, len(token))
	for _, s := range token {
		if slices.Contains(current, s) {
			out = append(out, s)
		}
	}
	return out
}
