package server

import (
	"context"

	"cartograph/internal/auth"
	"cartograph/internal/config"
	"cartograph/internal/cost"
	"cartograph/internal/documents"
	"cartograph/internal/shop"
)

// policyOf is the shop's API policy (cached per instance, see
// internal/documents); the zero policy — the configured defaults — when
// the request has no shop or the policy cannot be read.
func policyOf(ctx context.Context, docs *documents.Service) documents.Policy {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return documents.Policy{}
	}
	p, err := docs.PolicyOf(ctx, sh.ID)
	if err != nil {
		return documents.Policy{}
	}
	return p
}

// costLimits names the leaky buckets a request is charged to: one for the
// caller and one for the whole shop. Anonymous callers and public (pk_)
// keys — which every shopper of a storefront shares — are budgeted per
// client IP (per key and IP for pk_), so one shopper cannot drain the
// storefront's budget; secret keys, staff and customers per principal.
// The caller's budget is, first match wins: the key's own cost limit
// (keys create --cost-limit), the trusted budget for staff and secret
// keys, the shop's policy (apiPolicyUpdate), the configured default.
func costLimits(cfg config.Config, docs *documents.Service) func(ctx context.Context) []cost.Limit {
	return func(ctx context.Context) []cost.Limit {
		p := auth.FromContext(ctx)
		var key string
		switch {
		case p.Kind == auth.APIKey && p.KeyKind == "public":
			key = "pk:" + p.KeyID.String() + ":ip:" + auth.ClientIP(ctx)
		case p.Kind == auth.Anonymous:
			key = "ip:" + auth.ClientIP(ctx)
		default:
			key = p.Ref()
		}
		budget, restore := float64(cfg.CostBucketMax), float64(cfg.CostRestoreRate)
		switch {
		case p.CostLimit > 0:
			budget = float64(p.CostLimit)
		case trusted(p):
			budget = float64(max(cfg.CostBucketMax, cfg.MaxQueryCostTrusted))
		default:
			pol := policyOf(ctx, docs)
			if pol.CostBucketMax != nil {
				budget = float64(*pol.CostBucketMax)
			}
			if pol.CostRestoreRate != nil {
				restore = float64(*pol.CostRestoreRate)
			}
		}
		limits := []cost.Limit{{Key: key, Max: budget, RestorePerSec: restore}}
		if sh, err := shop.FromContext(ctx); err == nil {
			// Both buckets carry the shop as a Redis Cluster hash tag: the
			// take script updates them together, in one slot.
			tag := "{" + sh.ID.String() + "}:"
			limits = append(limits, cost.Limit{Key: tag + "shop", Max: float64(cfg.ShopCostBucketMax), RestorePerSec: float64(cfg.ShopCostRestoreRate)})
			limits[0].Key = tag + limits[0].Key
		}
		return limits
	}
}

// costMax is the most one request may cost: staff and secret keys get the
// trusted maximum, everyone else the shop's policy or the default.
func costMax(cfg config.Config, docs *documents.Service) func(ctx context.Context) int {
	return func(ctx context.Context) int {
		if trusted(auth.FromContext(ctx)) {
			return cfg.MaxQueryCostTrusted
		}
		if pol := policyOf(ctx, docs); pol.MaxQueryCost != nil {
			return *pol.MaxQueryCost
		}
		return cfg.MaxQueryCost
	}
}

func trusted(p *auth.Principal) bool {
	return p.Kind == auth.Staff || (p.Kind == auth.APIKey && p.KeyKind == "secret")
}
