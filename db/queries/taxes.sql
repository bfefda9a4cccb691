-- name: TaxRatesFor :many
-- The country-wide rates and the region's own rates.
SELECT * FROM tax_rates
WHERE shop_id = @shop_id AND country = @country AND (region = '' OR region = @region)
ORDER BY region, title
LIMIT 20;

-- name: TaxRateUpsert :one
INSERT INTO tax_rates (shop_id, country, region, title, rate, included, shipping)
VALUES (@shop_id, @country, @region, @title, @rate, @included, @shipping)
ON CONFLICT (shop_id, country, region, title) DO UPDATE SET rate = EXCLUDED.rate, included = EXCLUDED.included, shipping = EXCLUDED.shipping
RETURNING *;

-- name: TaxRatesList :many
SELECT * FROM tax_rates WHERE shop_id = @shop_id AND (sqlc.narg('country')::text IS NULL OR country = sqlc.narg('country'))
  AND (sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after'))
ORDER BY id LIMIT @lim;
