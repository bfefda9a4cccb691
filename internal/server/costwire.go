package server

import (
	"context"

	"cartograph/internal/auth"
	"cartograph/internal/config"
	"cartograph/internal/cost"
	"cartograph/internal/shop"
)

// costLimits names the leaky buckets a request is charged to: one for the
// caller and one for the whole shop. Anonymous callers and public (pk_)
// keys — which every shopper of a storefront shares — are budgeted per
// client IP (per key and IP for pk_), so one shopper cannot drain the
// storefront's budget; secret keys, staff and customers per principal.
func costLimits(cfg config.Config) func(ctx context.Context) []cost.Limit {
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
		budget := float64(cfg.CostBucketMax)
		if trusted(p) {
			budget = float64(max(cfg.CostBucketMax, cfg.MaxQueryCostTrusted))
		}
		if p.CostLimit > 0 { // the key's own budget (keys create --cost-limit)
			budget = float64(p.CostLimit)
		}
		limits := []cost.Limit{{Key: key, Max: budget, RestorePerSec: float64(cfg.CostRestoreRate)}}
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
// trusted maximum.
func costMax(cfg config.Config) func(ctx context.Context) int {
	return func(ctx context.Context) int {
		if trusted(auth.FromContext(ctx)) {
			return cfg.MaxQueryCostTrusted
		}
		return cfg.MaxQueryCost
	}
}

func trusted(p *auth.Principal) bool {
	return p.Kind == auth.Staff || (p.Kind == auth.APIKey && p.KeyKind == "secret")
}
