-- name: MarketsSnapshot :one
-- Everything that prices a shop's markets, in one round trip: the
-- markets, their countries, the rates in force, the fixed prices, and the
-- base prices of every variant of a product that has a fixed price (the
-- product's price range in that market needs all of them).
SELECT
  (SELECT coalesce(json_agg(json_build_array(m.id, m.handle, m.name, m.currency_code, m.price_adjustment, m.rounding, m.is_primary, m.enabled)
     ORDER BY m.is_primary DESC, m.created_at, m.id), '[]') FROM markets m WHERE m.shop_id = @shop_id)::text AS markets,
  (SELECT coalesce(json_agg(json_build_array(c.market_id, c.country) ORDER BY c.market_id, c.position), '[]')
     FROM market_countries c WHERE c.shop_id = @shop_id)::text AS countries,
  (SELECT coalesce(json_agg(json_build_array(r.currency_code, r.rate_e10)), '[]') FROM (
     SELECT DISTINCT ON (x.currency_code) x.currency_code, x.rate_e10 FROM exchange_rates x
     WHERE x.shop_id = @shop_id ORDER BY x.currency_code, x.set_at DESC, x.id DESC) r)::text AS rates,
  (SELECT coalesce(json_agg(json_build_array(p.market_id, p.variant_id, p.amount, p.compare_at_amount)), '[]')
     FROM market_prices p WHERE p.shop_id = @shop_id)::text AS prices,
  (SELECT coalesce(json_agg(json_build_array(v.id, v.product_id, v.price_amount, v.compare_at_amount)), '[]')
     FROM variants v WHERE v.shop_id = @shop_id AND v.product_id IN (
       SELECT v2.product_id FROM market_prices p2 JOIN variants v2 ON v2.shop_id = p2.shop_id AND v2.id = p2.variant_id
       WHERE p2.shop_id = @shop_id))::text AS variants;

-- name: MarketInsert :one
INSERT INTO markets (shop_id, handle, name, currency_code, price_adjustment, rounding, is_primary, enabled)
VALUES (@shop_id, @handle, @name, @currency_code, @price_adjustment, @rounding, @is_primary, @enabled)
RETURNING id;

-- name: MarketUpdate :execrows
UPDATE markets SET name = @name, currency_code = @currency_code, price_adjustment = @price_adjustment,
  rounding = @rounding, enabled = @enabled, updated_at = now()
WHERE shop_id = @shop_id AND id = @id;

-- name: MarketDelete :execrows
DELETE FROM markets WHERE shop_id = @shop_id AND id = @id AND NOT is_primary;

-- name: MarketCountriesReplace :exec
-- Drops the market's countries; MarketCountriesInsert adds the new list.
DELETE FROM market_countries WHERE shop_id = @shop_id AND market_id = @market_id;

-- name: MarketCountriesInsert :exec
INSERT INTO market_countries (shop_id, market_id, country, position)
SELECT @shop_id, @market_id, u.c, u.n FROM (SELECT unnest(@countries::text[]) AS c, unnest(@positions::int[]) AS n) u;

-- name: MarketCountryOwners :many
-- Which market (other than market_id) holds each of the countries.
SELECT c.country, m.handle FROM market_countries c JOIN markets m ON m.shop_id = c.shop_id AND m.id = c.market_id
WHERE c.shop_id = @shop_id AND c.market_id <> @market_id AND c.country = ANY(@countries::text[]);

-- name: MarketPricesUpsert :exec
INSERT INTO market_prices (shop_id, market_id, variant_id, amount, compare_at_amount)
SELECT @shop_id, @market_id, u.v, u.a, NULLIF(u.c, -1)
FROM (SELECT unnest(@variant_ids::uuid[]) AS v, unnest(@amounts::bigint[]) AS a, unnest(@compare_ats::bigint[]) AS c) u
ON CONFLICT (shop_id, market_id, variant_id) DO UPDATE SET amount = EXCLUDED.amount,
  compare_at_amount = EXCLUDED.compare_at_amount, updated_at = now();

-- name: MarketPricesDelete :exec
DELETE FROM market_prices WHERE shop_id = @shop_id AND market_id = @market_id AND variant_id = ANY(@variant_ids::uuid[]);

-- name: MarketPricesCount :one
SELECT count(*) FROM market_prices WHERE shop_id = @shop_id AND market_id = @market_id;

-- name: MarketVariantsExisting :many
SELECT id FROM variants WHERE shop_id = @shop_id AND id = ANY(@ids::uuid[]);

-- name: ExchangeRateInsert :one
INSERT INTO exchange_rates (shop_id, currency_code, rate_e10, set_by)
VALUES (@shop_id, @currency_code, @rate_e10, @set_by)
RETURNING *;

-- name: ExchangeRatesHistory :many
-- Newest first; before_at/before_id is the keyset cursor (NULL: from the newest).
SELECT * FROM exchange_rates
WHERE shop_id = @shop_id AND (sqlc.narg('currency_code')::text IS NULL OR currency_code = sqlc.narg('currency_code'))
  AND (sqlc.narg('before_at')::timestamptz IS NULL OR (set_at, id) < (sqlc.narg('before_at'), sqlc.narg('before_id')::uuid))
ORDER BY set_at DESC, id DESC
LIMIT @lim;

-- name: MarketPricesClear :exec
DELETE FROM market_prices WHERE shop_id = @shop_id AND market_id = @market_id;
