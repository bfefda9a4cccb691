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
	byID := make(map[uuid.UUID]*Product, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &Product{rows[i]}
	}
	out := make([]*Product, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
}

// VariantsByProductIDs returns each product's variants in position order.
func (s *Service) VariantsByProductIDs(ctx context.Context, ids []uuid.UUID) ([][]*Variant, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.VariantsByProductIDs(ctx, dbq.VariantsByProductIDsParams{ShopID: sh.ID, ProductIds: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	vs := make([]Variant, len(rows))
	group := make(map[uuid.UUID][]*Variant, len(ids))
	for i := range rows {
		vs[i] = Variant(rows[i])
		group[vs[i].ProductID] = append(group[vs[i].ProductID], &vs[i])
	}
	out := make([][]*Variant, len(ids))
	for i, id := range ids {
		out[i] = group[id]
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
	byID := make(map[uuid.UUID]*Variant, len(rows))
	for i := range rows {
		v := Variant(rows[i])
		byID[v.ID] = &v
	}
	out := make([]*Variant, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
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
	imgs := make([]Image, len(rows))
	group := make(map[uuid.UUID][]*Image, len(ids))
	for i := range rows {
		imgs[i] = Image{rows[i]}
		group[rows[i].ProductID] = append(group[rows[i].ProductID], &imgs[i])
	}
	out := make([][]*Image, len(ids))
	for i, id := range ids {
		out[i] = group[id]
	}
	return out, nil
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
	byID := make(map[uuid.UUID]*Image, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &Image{rows[i]}
	}
	out := make([]*Image, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
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
	group := make(map[uuid.UUID][]*Option, len(ids))
	for i := range rows {
		group[rows[i].ProductID] = append(group[rows[i].ProductID], &Option{rows[i]})
	}
	out := make([][]*Option, len(ids))
	for i, id := range ids {
		out[i] = group[id]
	}
	return out, nil
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
	byID := make(map[uuid.UUID]*Option, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &Option{rows[i]}
	}
	out := make([]*Option, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
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
	byID := make(map[uuid.UUID]*Collection, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &Collection{rows[i]}
	}
	out := make([]*Collection, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
}
