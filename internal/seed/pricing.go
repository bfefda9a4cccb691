package seed

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// demoPricing is each demo shop's shipping, taxes and discounts.
var demoPricing = map[string]string{
	"apparel": `
WITH us AS (INSERT INTO shipping_zones (shop_id, name, areas) VALUES ($1, 'United States', '{US}') RETURNING id),
     intl AS (INSERT INTO shipping_zones (shop_id, name, areas) VALUES ($1, 'UK and Europe', '{GB,DE,FR,NL,IE}') RETURNING id),
     r AS (INSERT INTO shipping_rates (shop_id, zone_id, handle, title, amount, currency_code, bands, free_over)
       SELECT $1, us.id, 'standard', 'Standard (3–5 business days)', 599, 'USD', '[]'::jsonb, 7500 FROM us
       UNION ALL SELECT $1, us.id, 'express', 'Express (1–2 business days)', 0, 'USD',
         '[{"min":0,"max":999,"amount":1200},{"min":1000,"max":4999,"amount":1800},{"min":5000,"max":30000,"amount":3000}]'::jsonb, NULL FROM us
       UNION ALL SELECT $1, intl.id, 'international', 'International (7–10 business days)', 1999, 'USD', '[]'::jsonb, 20000 FROM intl
       RETURNING 1)
INSERT INTO tax_rates (shop_id, country, region, title, rate, included, shipping) VALUES
  ($1, 'US', 'NY', 'New York State', 40000, false, true),
  ($1, 'US', 'CA', 'California', 72500, false, false),
  ($1, 'GB', '', 'VAT', 200000, true, true),
  ($1, 'DE', '', 'MwSt', 190000, true, true);
INSERT INTO discounts (shop_id, code, title, kind, scope, value, currency_code, min_subtotal) VALUES
  ($1, 'WELCOME10', '10% off your first order', 'PERCENTAGE', 'ORDER', 1000, 'USD', 2000);
INSERT INTO discounts (shop_id, code, title, kind, scope, value, currency_code) VALUES
  ($1, 'FREESHIP', 'Free shipping', 'FREE_SHIPPING', 'ORDER', 0, 'USD');
INSERT INTO discounts (shop_id, code, title, kind, scope, value, currency_code, usage_limit, per_customer_limit) VALUES
  ($1, 'SAVE5', '$5 off', 'FIXED_AMOUNT', 'ORDER', 500, 'USD', 100, 1);`,
	"electronics": `
WITH eu AS (INSERT INTO shipping_zones (shop_id, name, areas) VALUES ($1, 'European Union', '{DE,AT,FR,NL,BE,IT,ES}') RETURNING id),
     r AS (INSERT INTO shipping_rates (shop_id, zone_id, handle, title, amount, currency_code, bands, free_over)
       SELECT $1, eu.id, 'standard', 'Standard (2–4 business days)', 490, 'EUR', '[]'::jsonb, 10000 FROM eu
       UNION ALL SELECT $1, eu.id, 'express', 'Express (next business day)', 1490, 'EUR', '[]'::jsonb, NULL FROM eu
       RETURNING 1)
INSERT INTO tax_rates (shop_id, country, region, title, rate, included, shipping) VALUES
  ($1, 'DE', '', 'MwSt', 190000, true, true),
  ($1, 'AT', '', 'USt', 200000, true, true),
  ($1, 'FR', '', 'TVA', 200000, true, true),
  ($1, 'NL', '', 'BTW', 210000, true, true);
INSERT INTO discounts (shop_id, code, title, kind, scope, value, currency_code, min_subtotal) VALUES
  ($1, 'WELCOME10', '10% off your first order', 'PERCENTAGE', 'ORDER', 1000, 'EUR', 2000);
INSERT INTO discounts (shop_id, code, title, kind, scope, value, currency_code) VALUES
  ($1, 'FREESHIP', 'Free shipping', 'FREE_SHIPPING', 'ORDER', 0, 'EUR');`,
}

// DemoPricing gives the demo shops shipping zones and rates, tax rates and
// discount codes (WELCOME10, FREESHIP, and SAVE5 at apparel): apparel ships
// to the US (tax added, per state) and to the UK and Europe (VAT
// included); electronics ships within the EU (VAT included). It is run by
// `cartograph seed`, not by Demo: a shop with shipping zones requires a
// delivery option at checkout. Idempotent: a shop that already has a
// shipping zone is skipped.
func DemoPricing(ctx context.Context, db *pgxpool.Pool) error {
	return perDemoShop(ctx, db, "pricing", "shipping_zones", demoPricing)
}

// perDemoShop runs each demo shop's statements (";\n"-separated, $1 the
// shop id) in one transaction under the shop's tenant setting, unless the
// shop already has rows in table (so seeding twice changes nothing).
func perDemoShop(ctx context.Context, db *pgxpool.Pool, what, table string, stmts map[string]string) error {
	for _, handle := range DemoShops {
		err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			var shopID string
			if err := tx.QueryRow(ctx, `SELECT id::text FROM shops WHERE handle = $1`, handle).Scan(&shopID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `SELECT set_config('app.shop_id', $1, true)`, shopID); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()+` WHERE shop_id = $1`, shopID).Scan(&n); err != nil || n > 0 {
				return err
			}
			// One statement per Exec: parameters are not allowed in a
			// multi-statement string.
			for _, stmt := range strings.Split(stmts[handle], ";\n") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := tx.Exec(ctx, stmt, shopID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("seed: demo %s for %q: %w", what, handle, err)
		}
	}
	return nil
}
