-- name: ShippingRatesForArea :many
-- Active rates of the zones that hold the country or the region.
SELECT r.* FROM shipping_rates r
JOIN shipping_zones z ON z.shop_id = r.shop_id AND z.id = r.zone_id
WHERE r.shop_id = @shop_id AND r.active AND z.areas && @areas::text[]
ORDER BY r.amount, r.handle
LIMIT 50;

-- name: ShippingZoneInsert :one
INSERT INTO shipping_zones (shop_id, name, areas) VALUES (@shop_id, @name, @areas) RETURNING *;

-- name: ShippingRateInsert :one
INSERT INTO shipping_rates (shop_id, zone_id, handle, title, amount, currency_code, bands, free_over)
VALUES (@shop_id, @zone_id, @handle, @title, @amount, @currency_code, @bands, sqlc.narg('free_over'))
RETURNING *;

-- name: ShippingRateDeactivate :execrows
UPDATE shipping_rates SET active = false WHERE shop_id = @shop_id AND id = @id;

-- name: ShippingConfigured :one
SELECT EXISTS (SELECT 1 FROM shipping_zones WHERE shop_id = @shop_id);

-- name: ShippingZonesList :many
SELECT * FROM shipping_zones WHERE shop_id = @shop_id AND (sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after'))
ORDER BY id LIMIT @lim;

-- name: ShippingRatesList :many
-- Active and inactive rates, of one zone or all.
SELECT * FROM shipping_rates WHERE shop_id = @shop_id AND (sqlc.narg('zone_id')::uuid IS NULL OR zone_id = sqlc.narg('zone_id'))
  AND (sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after'))
ORDER BY id LIMIT @lim;
