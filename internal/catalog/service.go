// Package catalog is the storefront read path: products, variants, images,
// options and collections of the request's shop, in keyset-paginated pages
// and in id batches for dataloaders. Only active products are visible.
// Errors: BAD_USER_INPUT (pagination, cursors, query syntax),
// SHOP_NOT_FOUND (no shop in context), INTERNAL (database).
package catalog

import (
	"context"
	"errors"

	"cartograph/internal/apperr"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"
	"cartograph/internal/relay"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what the catalog needs from PostgreSQL (a *pgxpool.Pool).
type DB interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// Service serves catalog reads. Safe for concurrent use.
type Service struct {
	db DB
	q  *dbq.Queries
}

// New returns a catalog Service over db.
func New(db DB) *Service { return &Service{db: db, q: dbq.New(db)} }

// ListArgs are the arguments of a product or collection listing.
type ListArgs struct {
	Page    relay.Page
	SortKey string
	Reverse bool
	Query   string
}

// Products returns a page of the shop's active products. BAD_USER_INPUT for
// an unknown sort key, a cursor of another ordering or a bad query string.
func (s *Service) Products(ctx context.Context, a ListArgs) (*ProductConnection, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	spec, ok := productSorts[a.SortKey]
	if !ok {
		return nil, apperr.BadInput("sortKey", "unknown sort key %q", a.SortKey)
	}
	f, err := parseQuery(a.Query, sh.CurrencyCode)
	if err != nil {
		return nil, err
	}
	if a.Page.Limit == 0 {
		return &ProductConnection{Edges: []ProductEdge{}}, nil
	}
	var k keyset
	k.sql.WriteString("SELECT " + productColumns + sortValueColumn(spec) + " FROM products p WHERE p.shop_id = ")
	k.sql.WriteString(k.arg(sh.ID) + " AND p.status = 'active'")
	if !f.empty() {
		k.applyFilter(f)
	}
	if err := k.window(a.Page, spec, "p.id", a.Reverse); err != nil {
		return nil, err
	}
	rows, err := s.queryProducts(ctx, k.sql.String(), k.args, a.Page.Limit)
	if err != nil {
		return nil, err
	}
	return productConnection(rows, a.Page, spec), nil
}

// CollectionProducts returns a page of a collection's active products.
func (s *Service) CollectionProducts(ctx context.Context, collectionID uuid.UUID, a ListArgs) (*ProductConnection, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	spec, ok := collectionProductSorts[a.SortKey]
	if !ok {
		return nil, apperr.BadInput("sortKey", "unknown sort key %q", a.SortKey)
	}
	if a.Page.Limit == 0 {
		return &ProductConnection{Edges: []ProductEdge{}}, nil
	}
	var k keyset
	k.sql.WriteString("SELECT " + productColumns + sortValueColumn(spec) +
		" FROM collection_products cp JOIN products p ON p.shop_id = cp.shop_id AND p.id = cp.product_id" +
		" WHERE cp.shop_id = ")
	k.sql.WriteString(k.arg(sh.ID) + " AND cp.collection_id = " + k.arg(collectionID) + " AND p.status = 'active'")
	if err := k.window(a.Page, spec, "p.id", a.Reverse); err != nil {
		return nil, err
	}
	rows, err := s.queryProducts(ctx, k.sql.String(), k.args, a.Page.Limit)
	if err != nil {
		return nil, err
	}
	return productConnection(rows, a.Page, spec), nil
}

// CollectionProductsMany is CollectionProducts for several collections
// with the same arguments in one statement (a LATERAL page per
// collection), for Collection.products under a list of collections.
// Results are in the order of collectionIDs.
func (s *Service) CollectionProductsMany(ctx context.Context, collectionIDs []uuid.UUID, a ListArgs) ([]*ProductConnection, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	spec, ok := collectionProductSorts[a.SortKey]
	if !ok {
		return nil, apperr.BadInput("sortKey", "unknown sort key %q", a.SortKey)
	}
	out := make([]*ProductConnection, len(collectionIDs))
	if a.Page.Limit == 0 {
		for i := range out {
			out[i] = &ProductConnection{Edges: []ProductEdge{}}
		}
		return out, nil
	}
	var k keyset
	k.sql.WriteString("SELECT c.id, x.* FROM unnest(")
	k.sql.WriteString(k.arg(collectionIDs) + "::uuid[]) AS c(id) CROSS JOIN LATERAL (SELECT " + productColumns + sortValueColumn(spec) +
		" FROM collection_products cp JOIN products p ON p.shop_id = cp.shop_id AND p.id = cp.product_id" +
		" WHERE cp.shop_id = ")
	k.sql.WriteString(k.arg(sh.ID) + " AND cp.collection_id = c.id AND p.status = 'active'")
	if err := k.window(a.Page, spec, "p.id", a.Reverse); err != nil {
		return nil, err
	}
	k.sql.WriteString(") x")
	rows, err := s.db.Query(ctx, k.sql.String(), k.args...)
	if err != nil {
		return nil, pg.MapError(err)
	}
	defer rows.Close()
	by := make(map[uuid.UUID][]productRow, len(collectionIDs))
	for rows.Next() {
		var parent uuid.UUID
		var r productRow
		if err := rows.Scan(append([]any{&parent}, productScanTargets(&r.p.Product, &r.sortVal)...)...); err != nil {
			return nil, pg.MapError(err)
		}
		by[parent] = append(by[parent], r)
	}
	if err := rows.Err(); err != nil {
		return nil, pg.MapError(err)
	}
	if p := PresenterFrom(ctx); p != nil {
		for _, rs := range by {
			for i := range rs {
				p.PresentProduct(&rs[i].p)
			}
		}
	}
	for i, id := range collectionIDs {
		out[i] = productConnection(by[id], a.Page, spec)
	}
	return out, nil
}

// Collections returns a page of the shop's collections.
func (s *Service) Collections(ctx context.Context, a ListArgs) (*CollectionConnection, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	spec, ok := collectionSorts[a.SortKey]
	if !ok {
		return nil, apperr.BadInput("sortKey", "unknown sort key %q", a.SortKey)
	}
	if a.Page.Limit == 0 {
		return &CollectionConnection{Edges: []CollectionEdge{}}, nil
	}
	var k keyset
	k.sql.WriteString("SELECT " + collectionColumns + sortValueColumn(spec) + " FROM collections c WHERE c.shop_id = " + k.arg(sh.ID))
	if a.Query != "" {
		k.sql.WriteString(" AND c.title ILIKE " + k.arg(likeEscape(a.Query)))
	}
	if err := k.window(a.Page, spec, "c.id", a.Reverse); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, k.sql.String(), k.args...)
	if err != nil {
		return nil, pg.MapError(err)
	}
	type crow struct {
		c  Collection
		sv string
	}
	var list []crow
	for rows.Next() {
		var r crow
		c := &r.c.Collection
		if err := rows.Scan(&c.ShopID, &c.ID, &c.Handle, &c.Title, &c.Description, &c.DescriptionHtml,
			&c.SeoTitle, &c.SeoDescription, &c.ImageUrl, &c.CreatedAt, &c.UpdatedAt, &r.sv); err != nil {
			rows.Close()
			return nil, pg.MapError(err)
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, pg.MapError(err)
	}
	list, info := pageInfo(list, a.Page)
	conn := &CollectionConnection{Edges: make([]CollectionEdge, len(list)), PageInfo: info}
	for i := range list {
		conn.Edges[i] = CollectionEdge{Cursor: cursorFor(spec, list[i].c.ID, list[i].sv), Node: &list[i].c}
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.SetCursors(&conn.Edges[0].Cursor, &conn.Edges[n-1].Cursor)
	}
	return conn, nil
}

// ProductByHandle returns the active product with handle, or nil.
func (s *Service) ProductByHandle(ctx context.Context, handle string) (*Product, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.q.ProductByHandle(ctx, dbq.ProductByHandleParams{ShopID: sh.ID, Handle: handle})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, pg.MapError(err)
	}
	out := &Product{p}
	presentProducts(ctx, []*Product{out})
	return out, nil
}

// CollectionByHandle returns the collection with handle, or nil.
func (s *Service) CollectionByHandle(ctx context.Context, handle string) (*Collection, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.q.CollectionByHandle(ctx, dbq.CollectionByHandleParams{ShopID: sh.ID, Handle: handle})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, pg.MapError(err)
	}
	return &Collection{c}, nil
}

// Recommendations returns up to 10 in-stock active products sharing a
// collection with productID (see the ProductRecommendations query).
func (s *Service) Recommendations(ctx context.Context, productID uuid.UUID) ([]*Product, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.ProductRecommendations(ctx, dbq.ProductRecommendationsParams{ShopID: sh.ID, ProductID: productID})
	if err != nil {
		return nil, pg.MapError(err)
	}
	out := make([]*Product, len(rows))
	for i := range rows {
		out[i] = &Product{rows[i]}
	}
	presentProducts(ctx, out)
	return out, nil
}

// memPage pages an in-memory list (a product's variants, images or
// collections, loaded in full through a dataloader) with cursors key|id:
// the page's items in order, and its page info (cursors encoded when
// read). Only a reversed page allocates (its order).
func memPage[T any](items []*T, p relay.Page, reverse bool, key string, id func(*T) uuid.UUID) ([]*T, relay.PageInfo, error) {
	if reverse {
		r := make([]*T, len(items))
		for i, it := range items {
			r[len(items)-1-i] = it
		}
		items = r
	}
	lo, hi, info, err := relay.IDWindow(p, len(items), key, func(i int) uuid.UUID { return id(items[i]) })
	if err != nil {
		return nil, info, err
	}
	return items[lo:hi], info, nil
}

// Cursor keys of the in-memory pages whose edges encode their cursors on
// demand.
const (
	variantCursorKey = "V"
	imageCursorKey   = "I"
)

// VariantPage pages a product's variants (already loaded in position order).
func VariantPage(vs []*Variant, p relay.Page, reverse bool) (*VariantConnection, error) {
	page, info, err := memPage(vs, p, reverse, variantCursorKey, func(v *Variant) uuid.UUID { return v.ID })
	if err != nil {
		return nil, err
	}
	conn := &VariantConnection{Edges: make([]VariantEdge, len(page)), PageInfo: info}
	for i, v := range page {
		conn.Edges[i] = VariantEdge{Node: v}
	}
	return conn, nil
}

// ImagePage pages a product's images (already loaded in position order).
func ImagePage(imgs []*Image, p relay.Page, reverse bool) (*ImageConnection, error) {
	page, info, err := memPage(imgs, p, reverse, imageCursorKey, func(i *Image) uuid.UUID { return i.ID })
	if err != nil {
		return nil, err
	}
	conn := &ImageConnection{Edges: make([]ImageEdge, len(page)), PageInfo: info}
	for i, img := range page {
		conn.Edges[i] = ImageEdge{Node: img}
	}
	return conn, nil
}

// CollectionPage pages a product's collections (loaded in full).
func CollectionPage(cs []*Collection, p relay.Page, reverse bool) (*CollectionConnection, error) {
	page, info, err := memPage(cs, p, reverse, "C", func(c *Collection) uuid.UUID { return c.ID })
	if err != nil {
		return nil, err
	}
	conn := &CollectionConnection{Edges: make([]CollectionEdge, len(page)), PageInfo: info}
	for i, c := range page {
		conn.Edges[i] = CollectionEdge{Cursor: relay.EncodeIDCursor("C", c.ID), Node: c}
	}
	return conn, nil
}
