// Package seed writes demo and bulk catalog data into a migrated Cartograph
// database.
//
// Demo creates two small, realistic shops that developers, the storefront
// examples and the integration tests browse. Bulk creates large synthetic
// shops for load and pagination benchmarks. Both are idempotent per shop: a
// shop whose handle already exists is left untouched. Each shop is written
// in its own transaction, so a failure never leaves a half-seeded shop.
//
// Rows are generated in Go (ids via uuid.NewV7) and written with the
// PostgreSQL COPY protocol. Products are always written before variants:
// the statement-level triggers on variants recompute products.price_min and
// products.price_max from the variants a statement inserted.
package seed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// shopRow is the shops row of a seeded shop.
type shopRow struct {
	id           uuid.UUID
	handle       string
	name         string
	customDomain *string
	currency     string
}

type productRow struct {
	id              uuid.UUID
	handle          string
	title           string
	description     string
	descriptionHTML string
	status          string
	productType     string
	vendor          string
	tags            []string
	seoTitle        *string
	seoDescription  *string
	createdAt       time.Time
	updatedAt       time.Time
}

type optionRow struct {
	id        uuid.UUID
	productID uuid.UUID
	name      string
	position  int32
	values    []string
}

type imageRow struct {
	id        uuid.UUID
	productID uuid.UUID
	url       string
	altText   *string
	width     int32
	height    int32
	position  int32
}

type variantRow struct {
	id           uuid.UUID
	productID    uuid.UUID
	title        string
	sku          string
	position     int32
	optionNames  []string
	optionValues []string
	price        int64  // minor units
	compareAt    *int64 // minor units, nil when not on sale
	weightGrams  int32
	imageID      *uuid.UUID
}

type collectionRow struct {
	id              uuid.UUID
	handle          string
	title           string
	description     string
	descriptionHTML string
	seoTitle        *string
	seoDescription  *string
	imageURL        *string
	createdAt       time.Time
	updatedAt       time.Time
}

type collectionProductRow struct {
	collectionID uuid.UUID
	productID    uuid.UUID
	position     int32
}

type warehouseRow struct {
	id       uuid.UUID
	name     string
	priority int32
}

type inventoryRow struct {
	variantID   uuid.UUID
	warehouseID uuid.UUID
	onHand      int32
}

// catalog is everything seeded for one shop, written in one transaction.
type catalog struct {
	shop               shopRow
	products           []productRow
	options            []optionRow
	images             []imageRow
	variants           []variantRow
	collections        []collectionRow
	collectionProducts []collectionProductRow
	warehouses         []warehouseRow
	inventory          []inventoryRow
}

// idGen hands out time-ordered UUIDs (version 7).
type idGen struct{ err error }

// next returns a new UUIDv7; the first generation error is kept in g.err
// and a zero UUID returned, so callers check g.err once after generating.
func (g *idGen) next() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil && g.err == nil {
		g.err = fmt.Errorf("seed: generate uuid: %w", err)
	}
	return id
}

func ptr[T any](v T) *T { return &v }

// nullable turns a nil pointer into an untyped nil so COPY writes NULL.
func nullable[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// shopExists reports whether a shop with handle is already stored.
func shopExists(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, handle string) (bool, error) {
	var exists bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM shops WHERE handle = $1)`, handle).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("seed: look up shop %q: %w", handle, err)
	}
	return exists, nil
}

// write stores c inside tx. It returns false without writing anything when a
// shop with the same handle already exists (for example, created concurrently
// after the caller's existence check).
func (c *catalog) write(ctx context.Context, tx pgx.Tx) (bool, error) {
	s := c.shop
	var id uuid.UUID
	err := tx.QueryRow(ctx,
		`INSERT INTO shops (id, handle, name, custom_domain, currency_code)
		 VALUES ($1, $2, $3, $4, $5)
		 ON CONFLICT (handle) DO NOTHING
		 RETURNING id`,
		s.id, s.handle, s.name, s.customDomain, s.currency).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("insert shop: %w", err)
	}

	cur := s.currency
	steps := []struct {
		table string
		cols  []string
		n     int
		row   func(i int) []any
	}{
		{"products", []string{"shop_id", "id", "handle", "title", "description", "description_html", "status",
			"product_type", "vendor", "tags", "seo_title", "seo_description", "currency_code", "created_at", "updated_at"},
			len(c.products), func(i int) []any {
				p := &c.products[i]
				return []any{s.id, p.id, p.handle, p.title, p.description, p.descriptionHTML, p.status,
					p.productType, p.vendor, p.tags, nullable(p.seoTitle), nullable(p.seoDescription), cur, p.createdAt, p.updatedAt}
			}},
		{"product_options", []string{"shop_id", "id", "product_id", "name", "position", "values"},
			len(c.options), func(i int) []any {
				o := &c.options[i]
				return []any{s.id, o.id, o.productID, o.name, o.position, o.values}
			}},
		{"images", []string{"shop_id", "id", "product_id", "url", "alt_text", "width", "height", "position"},
			len(c.images), func(i int) []any {
				im := &c.images[i]
				return []any{s.id, im.id, im.productID, im.url, nullable(im.altText), im.width, im.height, im.position}
			}},
		{"variants", []string{"shop_id", "id", "product_id", "title", "sku", "position", "option_names", "option_values",
			"price_amount", "compare_at_amount", "currency_code", "weight_grams", "image_id"},
			len(c.variants), func(i int) []any {
				v := &c.variants[i]
				return []any{s.id, v.id, v.productID, v.title, v.sku, v.position, v.optionNames, v.optionValues,
					v.price, nullable(v.compareAt), cur, v.weightGrams, nullable(v.imageID)}
			}},
		{"collections", []string{"shop_id", "id", "handle", "title", "description", "description_html",
			"seo_title", "seo_description", "image_url", "created_at", "updated_at"},
			len(c.collections), func(i int) []any {
				k := &c.collections[i]
				return []any{s.id, k.id, k.handle, k.title, k.description, k.descriptionHTML,
					nullable(k.seoTitle), nullable(k.seoDescription), nullable(k.imageURL), k.createdAt, k.updatedAt}
			}},
		{"collection_products", []string{"shop_id", "collection_id", "product_id", "position"},
			len(c.collectionProducts), func(i int) []any {
				cp := &c.collectionProducts[i]
				return []any{s.id, cp.collectionID, cp.productID, cp.position}
			}},
		{"warehouses", []string{"shop_id", "id", "name", "priority"},
			len(c.warehouses), func(i int) []any {
				w := &c.warehouses[i]
				return []any{s.id, w.id, w.name, w.priority}
			}},
		{"inventory_levels", []string{"shop_id", "variant_id", "warehouse_id", "on_hand", "reserved"},
			len(c.inventory), func(i int) []any {
				l := &c.inventory[i]
				return []any{s.id, l.variantID, l.warehouseID, l.onHand, int32(0)}
			}},
	}
	for _, st := range steps {
		if st.n == 0 {
			continue
		}
		row := st.row
		n, err := tx.CopyFrom(ctx, pgx.Identifier{st.table}, st.cols,
			pgx.CopyFromSlice(st.n, func(i int) ([]any, error) { return row(i), nil }))
		if err != nil {
			return false, fmt.Errorf("copy %s: %w", st.table, err)
		}
		if n != int64(st.n) {
			return false, fmt.Errorf("copy %s: wrote %d of %d rows", st.table, n, st.n)
		}
	}
	return true, nil
}
