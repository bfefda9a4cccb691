package graph

import (
	"context"

	"cartograph/graph/model"
	"cartograph/internal/apperr"
	"cartograph/internal/loaders"
	"cartograph/internal/relay"
	"cartograph/internal/shop"
)

// node loads any Node by global ID through the loaders; a well-formed ID of
// an unknown type or object is null, a malformed one BAD_USER_INPUT.
func (r *Resolver) node(ctx context.Context, field, gid string) (model.Node, error) {
	typ, id, err := relay.ParseGlobalID(field, gid)
	if err != nil {
		return nil, err
	}
	l := loaders.For(ctx)
	switch typ {
	case "Product":
		p, err := l.ProductByID.Load(ctx, id)()
		if err != nil || p == nil {
			return nil, err
		}
		return p, nil
	case "ProductVariant":
		v, err := l.VariantByID.Load(ctx, id)()
		if err != nil || v == nil {
			return nil, err
		}
		return v, nil
	case "ProductOption":
		o, err := l.OptionByID.Load(ctx, id)()
		if err != nil || o == nil {
			return nil, err
		}
		return o, nil
	case "Collection":
		c, err := l.CollectionByID.Load(ctx, id)()
		if err != nil || c == nil {
			return nil, err
		}
		return c, nil
	case "Shop":
		s, err := shop.FromContext(ctx)
		if err != nil || s.ID != id {
			return nil, err
		}
		return s, nil
	}
	return nil, nil
}

func relayTooMany(field string, n int) error {
	return apperr.BadInput(field, "at most %d ids per request", n)
}
