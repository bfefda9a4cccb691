package seed_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"cartograph/db/migrations"
	"cartograph/internal/seed"
)

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// newTestDB creates a fresh, migrated database and returns a pool on it.
// The database is dropped when the test finishes.
func newTestDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		url = defaultDatabaseURL
	}
	admin, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatalf("connect admin: %v", err)
	}
	if err := admin.Ping(ctx); err != nil {
		admin.Close()
		t.Fatalf("ping %s: %v", url, err)
	}

	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "cartograph_test_seed_" + hex.EncodeToString(b)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		admin.Close()
		t.Fatalf("create database: %v", err)
	}

	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Database = name
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect test database: %v", err)
	}
	sqlDB := stdlib.OpenDBFromPool(pool)

	t.Cleanup(func() {
		_ = sqlDB.Close()
		pool.Close()
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(dctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		admin.Close()
	})

	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS)
	if err != nil {
		t.Fatalf("goose provider: %v", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return pool
}

func count(t *testing.T, db *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestDemoAndBulk(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()

	if len(seed.DemoShops) != 2 || seed.DemoShops[0] != "apparel" || seed.DemoShops[1] != "electronics" {
		t.Fatalf("DemoShops = %v", seed.DemoShops)
	}

	if err := seed.Demo(ctx, db); err != nil {
		t.Fatalf("Demo: %v", err)
	}
	const allProducts = `SELECT count(*) FROM products`
	first := count(t, db, allProducts)
	firstVariants := count(t, db, `SELECT count(*) FROM variants`)
	if err := seed.Demo(ctx, db); err != nil {
		t.Fatalf("Demo (second run): %v", err)
	}
	if second := count(t, db, allProducts); second != first {
		t.Fatalf("second Demo changed product count: %d -> %d", first, second)
	}
	if v := count(t, db, `SELECT count(*) FROM variants`); v != firstVariants {
		t.Fatalf("second Demo changed variant count: %d -> %d", firstVariants, v)
	}
	if n := count(t, db, `SELECT count(*) FROM shops`); n != len(seed.DemoShops) {
		t.Fatalf("shops = %d, want %d", n, len(seed.DemoShops))
	}

	for _, handle := range seed.DemoShops {
		t.Run(handle, func(t *testing.T) {
			var shopID string
			if err := db.QueryRow(ctx, `SELECT id::text FROM shops WHERE handle = $1`, handle).Scan(&shopID); err != nil {
				t.Fatalf("shop %q: %v", handle, err)
			}
			checks := []struct {
				name string
				sql  string
				ok   func(int) bool
			}{
				{"active products >= 10",
					`SELECT count(*) FROM products WHERE shop_id = $1 AND status = 'active'`,
					func(n int) bool { return n >= 10 }},
				{"one draft and one archived product",
					`SELECT count(*) FROM products WHERE shop_id = $1 AND status IN ('draft', 'archived')`,
					func(n int) bool { return n == 2 }},
				{"active products without variants",
					`SELECT count(*) FROM products p WHERE p.shop_id = $1 AND p.status = 'active'
					 AND NOT EXISTS (SELECT 1 FROM variants v WHERE v.shop_id = p.shop_id AND v.product_id = p.id)`,
					func(n int) bool { return n == 0 }},
				{"active products without images",
					`SELECT count(*) FROM products p WHERE p.shop_id = $1 AND p.status = 'active'
					 AND NOT EXISTS (SELECT 1 FROM images i WHERE i.shop_id = p.shop_id AND i.product_id = p.id)`,
					func(n int) bool { return n == 0 }},
				{"variants without exactly 2 inventory levels",
					`SELECT count(*) FROM variants v WHERE v.shop_id = $1
					 AND (SELECT count(*) FROM inventory_levels l WHERE l.shop_id = v.shop_id AND l.variant_id = v.id) <> 2`,
					func(n int) bool { return n == 0 }},
				{"products whose price range disagrees with variants",
					`SELECT count(*) FROM products p
					 JOIN (SELECT product_id, min(price_amount) mn, max(price_amount) mx
					       FROM variants WHERE shop_id = $1 GROUP BY product_id) v ON v.product_id = p.id
					 WHERE p.shop_id = $1 AND (p.price_min, p.price_max) <> (v.mn, v.mx)`,
					func(n int) bool { return n == 0 }},
				{"variants with zero total stock",
					`SELECT count(*) FROM variants v WHERE v.shop_id = $1
					 AND (SELECT sum(on_hand) FROM inventory_levels l WHERE l.shop_id = v.shop_id AND l.variant_id = v.id) = 0`,
					func(n int) bool { return n >= 1 }},
				{"rows with a currency other than the shop's",
					`SELECT (SELECT count(*) FROM products p WHERE p.shop_id = s.id AND p.currency_code <> s.currency_code)
					      + (SELECT count(*) FROM variants v WHERE v.shop_id = s.id AND v.currency_code <> s.currency_code)
					 FROM shops s WHERE s.id = $1`,
					func(n int) bool { return n == 0 }},
				{"collections (3-4 browsable)",
					`SELECT count(*) FROM collections WHERE shop_id = $1 AND handle NOT LIKE 'hidden-%'`,
					func(n int) bool { return n >= 3 && n <= 4 }},
				{"Next.js Commerce home-page collections",
					`SELECT count(*) FROM collections c WHERE c.shop_id = $1 AND c.handle IN ('hidden-homepage-featured-items', 'hidden-homepage-carousel')
					   AND EXISTS (SELECT 1 FROM collection_products cp WHERE cp.collection_id = c.id)`,
					func(n int) bool { return n == 2 }},
				{"images served by the gateway",
					`SELECT count(*) FROM images WHERE shop_id = $1 AND url NOT LIKE 'http://127.0.0.1:8080/images/demo/%.png'`,
					func(n int) bool { return n == 0 }},
				{"warehouses",
					`SELECT count(*) FROM warehouses WHERE shop_id = $1`,
					func(n int) bool { return n == 2 }},
				{"variants linked to an image",
					`SELECT count(*) FROM variants WHERE shop_id = $1 AND image_id IS NOT NULL`,
					func(n int) bool { return n >= 1 }},
				{"distinct product created_at",
					`SELECT count(*) - count(DISTINCT created_at) FROM products WHERE shop_id = $1`,
					func(n int) bool { return n == 0 }},
			}
			for _, c := range checks {
				if n := count(t, db, c.sql, shopID); !c.ok(n) {
					t.Errorf("%s: got %d", c.name, n)
				}
			}
		})
	}

	start := time.Now()
	if err := seed.Bulk(ctx, db, 2000, 2); err != nil {
		t.Fatalf("Bulk: %v", err)
	}
	t.Logf("Bulk(2000, 2) took %v", time.Since(start))
	if err := seed.Bulk(ctx, db, 2000, 2); err != nil {
		t.Fatalf("Bulk (second run): %v", err)
	}
	const benchShops = `s.handle IN ('bench-1', 'bench-2')`
	if n := count(t, db, `SELECT count(*) FROM products p JOIN shops s ON s.id = p.shop_id WHERE `+benchShops); n != 2000 {
		t.Errorf("bulk products = %d, want 2000", n)
	}
	if n := count(t, db, `SELECT count(*) FROM variants v JOIN shops s ON s.id = v.shop_id WHERE `+benchShops); n != 8000 {
		t.Errorf("bulk variants = %d, want 8000", n)
	}
	if n := count(t, db, `SELECT count(*) FROM inventory_levels l JOIN shops s ON s.id = l.shop_id WHERE `+benchShops); n != 8000 {
		t.Errorf("bulk inventory levels = %d, want 8000", n)
	}
	if n := count(t, db, `SELECT count(*) FROM products p JOIN shops s ON s.id = p.shop_id WHERE `+benchShops+`
		AND p.price_min = 0`); n != 0 {
		t.Errorf("bulk products without a computed price: %d", n)
	}
}

// DemoPricing gives each demo shop zones, rates, taxes and codes, once.
func TestDemoPricingIsIdempotent(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	if err := seed.Demo(ctx, db); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := seed.DemoPricing(ctx, db); err != nil {
			t.Fatalf("DemoPricing run %d: %v", i+1, err)
		}
	}
	for sql, want := range map[string]int{
		`SELECT count(*) FROM shipping_zones`:                     3,
		`SELECT count(*) FROM shipping_rates`:                     5,
		`SELECT count(*) FROM tax_rates`:                          8,
		`SELECT count(*) FROM discounts WHERE code = 'WELCOME10'`: 2,
		`SELECT count(*) FROM shipping_rates WHERE bands <> '[]'`: 1,
		`SELECT count(*) FROM discounts WHERE currency_code <> (SELECT currency_code FROM shops WHERE id = discounts.shop_id)`: 0,
	} {
		if got := count(t, db, sql); got != want {
			t.Errorf("%s = %d, want %d", sql, got, want)
		}
	}
}
