package catalog

import (
	"context"

	"cartograph/internal/dbq"
	"cartograph/internal/pg"
	"cartograph/internal/shop"

	"github.com/google/uuid"
)

// The ...ByIDs methods below back the per-request dataloaders: one SQL
// statement per batch, results in key order (nil / empty for unknown keys).

// inKeyOrder returns, for each id, the item whose key is id (nil if none).
func inKeyOrder[T any](ids []uuid.UUID, items []T, key func(*T) uuid.UUID) []*T {
	byID := make(map[uuid.UUID]*T, len(items))
	for i := range items {
		byID[key(&items[i])] = &items[i]
	}
	out := make([]*T, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out
}

// groupInKeyOrder returns, for each id, the items whose group key is id, in
// their original order (nil for an id with none). The groups are windows
// of one pointer slice, so a batch costs a few allocations, not one or
// more per group.
func groupInKeyOrder[T any](ids []uuid.UUID, items []T, key func(*T) uuid.UUID) [][]*T {
	return groupAt(ids, len(items), func(i int) *T { return &items[i] }, key)
}

// groupAt is groupInKeyOrder over n items given by at.
func groupAt[T any](ids []uuid.UUID, n int, at func(int) *T, key func(*T) uuid.UUID) [][]*T {
	first := make(map[uuid.UUID]int, len(ids)) // id → its first index in ids
	for i, id := range ids {
		if _, ok := first[id]; !ok {
			first[id] = i
		}
	}
	// ends[j] is where group j ends in ptrs once counted and summed; it is
	// then the fill position, moved back by one per item.
	ends := make([]int, len(ids))
	total := 0
	for i := range n {
		if j, ok := first[key(at(i))]; ok {
			ends[j]++
			total++
		}
	}
	sum := 0
	for j := range ends {
		sum += ends[j]
		ends[j] = sum
	}
	ptrs := make([]*T, total)
	for i := n - 1; i >= 0; i-- {
		if j, ok := first[key(at(i))]; ok {
			ends[j]--
			ptrs[ends[j]] = at(i)
		}
	}
	// ends[j] is now group j's start.
	out := make([][]*T, len(ids))
	for i, id := range ids {
		j := first[id]
		lo, hi := ends[j], total
		if j+1 < len(ends) {
			hi = ends[j+1]
		}
		if lo < hi {
			out[i] = ptrs[lo:hi:hi]
		}
	}
	return out
}

// wrap converts sqlc rows into catalog types.
func wrap[R, T any](rows []R, f func(R) T) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = f(r)
	}
	return out
}

// ProductsByIDs returns the active products with ids, in key order.
func (s *Service) ProductsByIDs(ctx context.Context, ids []uuid.UUID) ([]*Product, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.ProductsByIDs(ctx, dbq.ProductsByIDsParams{ShopID: sh.ID, Ids: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	out := inKeyOrder(ids, wrap(rows, func(r dbq.Product) Product { return Product{r} }), func(p *Product) uuid.UUID { return p.ID })
	presentProducts(ctx, out)
	return out, nil
}

// VariantsByProductIDs returns each product's variants in position order.
func (s *Service) VariantsByProductIDs(ctx context.Context, ids []uuid.UUID) ([][]*Variant, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, variantsByProductIDsSQL, sh.ID, ids)
	if err != nil {
		return nil, pg.MapError(err)
	}
	vs, err := scanVariants(rows)
	if err != nil {
		return nil, pg.MapError(err)
	}
	out := groupAt(ids, vs.n, vs.at, func(v *Variant) uuid.UUID { return v.ProductID })
	if PresenterFrom(ctx) != nil {
		for _, g := range out {
			presentVariants(ctx, g)
		}
	}
	return out, nil
}

// VariantsByIDs returns variants (of active products) by id, in key order.
func (s *Service) VariantsByIDs(ctx context.Context, ids []uuid.UUID) ([]*Variant, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.VariantsByIDs(ctx, dbq.VariantsByIDsParams{ShopID: sh.ID, Ids: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	vs := wrap(rows, func(r dbq.VariantsByIDsRow) Variant {
		return Variant{ID: r.ID, ProductID: r.ProductID, Title: r.Title, Sku: r.Sku, Position: r.Position,
			OptionNames: r.OptionNames, OptionValues: r.OptionValues, PriceAmount: r.PriceAmount,
			CompareAtAmount: r.CompareAtAmount, CurrencyCode: r.CurrencyCode, WeightGrams: r.WeightGrams,
			ImageID: r.ImageID, Available: r.Available}
	})
	out := inKeyOrder(ids, vs, func(v *Variant) uuid.UUID { return v.ID })
	presentVariants(ctx, out)
	return out, nil
}

// ImagesByProductIDs returns each product's images in position order.
func (s *Service) ImagesByProductIDs(ctx context.Context, ids []uuid.UUID) ([][]*Image, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.ImagesByProductIDs(ctx, dbq.ImagesByProductIDsParams{ShopID: sh.ID, ProductIds: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	imgs := wrap(rows, func(r dbq.Image) Image { return Image{r} })
	return groupInKeyOrder(ids, imgs, func(i *Image) uuid.UUID { return i.ProductID }), nil
}

// ImagesByIDs returns images by id, in key order.
func (s *Service) ImagesByIDs(ctx context.Context, ids []uuid.UUID) ([]*Image, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.ImagesByIDs(ctx, dbq.ImagesByIDsParams{ShopID: sh.ID, Ids: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	return inKeyOrder(ids, wrap(rows, func(r dbq.Image) Image { return Image{r} }), func(i *Image) uuid.UUID { return i.ID }), nil
}

// OptionsByProductIDs returns each product's options in position order.
func (s *Service) OptionsByProductIDs(ctx context.Context, ids []uuid.UUID) ([][]*Option, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.OptionsByProductIDs(ctx, dbq.OptionsByProductIDsParams{ShopID: sh.ID, ProductIds: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	opts := wrap(rows, func(r dbq.ProductOption) Option { return Option{r} })
	return groupInKeyOrder(ids, opts, func(o *Option) uuid.UUID { return o.ProductID }), nil
}

// OptionsByIDs returns options by id, in key order.
func (s *Service) OptionsByIDs(ctx context.Context, ids []uuid.UUID) ([]*Option, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.OptionsByIDs(ctx, dbq.OptionsByIDsParams{ShopID: sh.ID, Ids: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	return inKeyOrder(ids, wrap(rows, func(r dbq.ProductOption) Option { return Option{r} }), func(o *Option) uuid.UUID { return o.ID }), nil
}

// CollectionIDsByProductIDs returns the ids of each product's collections.
func (s *Service) CollectionIDsByProductIDs(ctx context.Context, ids []uuid.UUID) ([][]uuid.UUID, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.CollectionIDsByProductIDs(ctx, dbq.CollectionIDsByProductIDsParams{ShopID: sh.ID, ProductIds: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	group := make(map[uuid.UUID][]uuid.UUID, len(ids))
	for _, r := range rows {
		group[r.ProductID] = append(group[r.ProductID], r.CollectionID)
	}
	out := make([][]uuid.UUID, len(ids))
	for i, id := range ids {
		out[i] = group[id]
	}
	return out, nil
}

// CollectionsByIDs returns collections by id, in key order.
func (s *Service) CollectionsByIDs(ctx context.Context, ids []uuid.UUID) ([]*Collection, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.CollectionsByIDs(ctx, dbq.CollectionsByIDsParams{ShopID: sh.ID, Ids: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	return inKeyOrder(ids, wrap(rows, func(r dbq.Collection) Collection { return Collection{r} }), func(c *Collection) uuid.UUID { return c.ID }), nil
}
