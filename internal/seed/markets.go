package seed

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// demoMarkets is each demo shop's markets and exchange rates.
var demoMarkets = map[string]string{
	// apparel sells in USD; Europe pays in EUR (prices end in .99), the UK
	// in GBP (+10 %, whole pounds).
	"apparel": `
WITH r AS (INSERT INTO exchange_rates (shop_id, currency_code, rate_e10, set_by) VALUES
    ($1, 'EUR', 9200000000, 'seed'), ($1, 'GBP', 7900000000, 'seed') RETURNING 1),
  us AS (INSERT INTO markets (shop_id, handle, name, currency_code, is_primary) VALUES ($1, 'us', 'United States', 'USD', true) RETURNING id),
  eu AS (INSERT INTO markets (shop_id, handle, name, currency_code, rounding) VALUES ($1, 'europe', 'Europe', 'EUR', 'END_99') RETURNING id),
  uk AS (INSERT INTO markets (shop_id, handle, name, currency_code, rounding, price_adjustment) VALUES ($1, 'uk', 'United Kingdom', 'GBP', 'WHOLE', 1000) RETURNING id)
INSERT INTO market_countries (shop_id, market_id, country, position)
  SELECT $1, us.id, 'US', 1 FROM us
  UNION ALL SELECT $1, eu.id, c, n::int FROM eu, unnest('{DE,FR,NL,IE}'::text[]) WITH ORDINALITY AS t(c, n)
  UNION ALL SELECT $1, uk.id, 'GB', 1 FROM uk`,
	// electronics sells in EUR; Switzerland pays in CHF (+5 %, whole francs).
	"electronics": `
WITH r AS (INSERT INTO exchange_rates (shop_id, currency_code, rate_e10, set_by) VALUES ($1, 'CHF', 9400000000, 'seed') RETURNING 1),
  eu AS (INSERT INTO markets (shop_id, handle, name, currency_code, is_primary) VALUES ($1, 'eu', 'European Union', 'EUR', true) RETURNING id),
  ch AS (INSERT INTO markets (shop_id, handle, name, currency_code, rounding, price_adjustment) VALUES ($1, 'switzerland', 'Switzerland', 'CHF', 'WHOLE', 500) RETURNING id)
INSERT INTO market_countries (shop_id, market_id, country, position)
  SELECT $1, eu.id, c, n::int FROM eu, unnest('{DE,AT,FR,NL,BE,IT,ES}'::text[]) WITH ORDINALITY AS t(c, n)
  UNION ALL SELECT $1, ch.id, 'CH', 1 FROM ch`,
}

// DemoMarkets gives the demo shops markets (internal/markets): apparel
// sells in USD to the US, in EUR to Europe and in GBP to the UK;
// electronics in EUR to the EU and in CHF to Switzerland. Run by
// `cartograph seed` after DemoPricing, not by Demo (tests set up their
// own markets). Idempotent: a shop that has markets is skipped.
func DemoMarkets(ctx context.Context, db *pgxpool.Pool) error {
	return perDemoShop(ctx, db, "markets", "markets", demoMarkets)
}
