-- Low-stock thresholds and the per-variant stock states behind low-stock
-- alerts and availability flips. Written only by internal/inventory.

-- name: InventoryStockStatesEnsure :exec
-- Creates the state rows a movement is about to evaluate, from the stock
-- before the movement (the current total minus this movement's net change
-- of available, @deltas). A concurrent creator wins; this one then waits
-- and reads the winner's row in InventoryStockStatesLock.
INSERT INTO inventory_stock_states (shop_id, variant_id, low, sold_out)
SELECT @shop_id, p.variant_id,
  coalesce(t.threshold, d.threshold) IS NOT NULL AND a.before < coalesce(t.threshold, d.threshold),
  a.before <= 0
FROM (SELECT unnest(@variant_ids::uuid[]) AS variant_id, unnest(@deltas::int[]) AS delta) AS p
CROSS JOIN LATERAL (
  SELECT coalesce(sum(greatest(il.on_hand - il.reserved, 0)), 0)::int - p.delta AS before
  FROM inventory_levels il WHERE il.shop_id = @shop_id AND il.variant_id = p.variant_id
) a
LEFT JOIN inventory_thresholds t ON t.shop_id = @shop_id AND t.variant_id = p.variant_id
LEFT JOIN inventory_low_stock_defaults d ON d.shop_id = @shop_id
ON CONFLICT DO NOTHING;

-- name: InventoryStockStatesLock :many
-- Locks the variants' states (all of the shop's for an empty list) in
-- variant order. Deliberately nothing else:
-- the totals are read by the next statement, whose snapshot is taken after
-- the lock is granted (READ COMMITTED), so it sees every movement that
-- held the lock before this one.
SELECT variant_id, low, sold_out FROM inventory_stock_states
WHERE shop_id = @shop_id AND (cardinality(@variant_ids::uuid[]) = 0 OR variant_id = ANY(@variant_ids::uuid[]))
ORDER BY variant_id
FOR UPDATE;

-- name: InventoryStockTotals :many
-- Each variant's total available stock now, its effective threshold (-1:
-- none) and
-- whether its product has any variant in stock.
SELECT v.id AS variant_id,
  (SELECT coalesce(sum(greatest(il.on_hand - il.reserved, 0)), 0) FROM inventory_levels il
    WHERE il.shop_id = v.shop_id AND il.variant_id = v.id)::int AS available,
  coalesce(t.threshold, d.threshold, -1)::int AS threshold,
  EXISTS (SELECT 1 FROM variants v2 JOIN inventory_levels il ON il.shop_id = v2.shop_id AND il.variant_id = v2.id
    WHERE v2.shop_id = v.shop_id AND v2.product_id = v.product_id AND il.on_hand - il.reserved > 0) AS product_available
FROM variants v
LEFT JOIN inventory_thresholds t ON t.shop_id = v.shop_id AND t.variant_id = v.id
LEFT JOIN inventory_low_stock_defaults d ON d.shop_id = v.shop_id
WHERE v.shop_id = @shop_id AND v.id = ANY(@variant_ids::uuid[]);

-- name: InventoryStockStateSet :exec
UPDATE inventory_stock_states SET low = @low, sold_out = @sold_out
WHERE shop_id = @shop_id AND variant_id = @variant_id;

-- name: InventoryThresholdUpsert :execrows
-- Sets a variant's threshold (0 rows: no such variant in the shop).
INSERT INTO inventory_thresholds (shop_id, variant_id, threshold)
SELECT @shop_id, v.id, @threshold::int FROM variants v WHERE v.shop_id = @shop_id AND v.id = @variant_id
ON CONFLICT (shop_id, variant_id) DO UPDATE SET threshold = excluded.threshold, updated_at = now();

-- name: InventoryThresholdDelete :exec
DELETE FROM inventory_thresholds WHERE shop_id = @shop_id AND variant_id = @variant_id;

-- name: InventoryVariantExists :one
SELECT EXISTS (SELECT 1 FROM variants WHERE shop_id = @shop_id AND id = @variant_id);

-- name: InventoryDefaultThresholdUpsert :exec
INSERT INTO inventory_low_stock_defaults (shop_id, threshold) VALUES (@shop_id, @threshold::int)
ON CONFLICT (shop_id) DO UPDATE SET threshold = excluded.threshold, updated_at = now();

-- name: InventoryDefaultThresholdDelete :exec
DELETE FROM inventory_low_stock_defaults WHERE shop_id = @shop_id;

-- name: InventoryDefaultThreshold :one
SELECT coalesce((SELECT threshold FROM inventory_low_stock_defaults WHERE shop_id = @shop_id), -1)::int;

-- name: InventoryStockStateRebase :exec
-- After a threshold change: the variants' low flags follow the new
-- threshold without an alert (the staff member who changed it sees the
-- result in the mutation's payload). Locks the states like a movement.
UPDATE inventory_stock_states s SET low = coalesce(t.threshold, d.threshold) IS NOT NULL AND a.available < coalesce(t.threshold, d.threshold)
FROM inventory_stock_states s2
CROSS JOIN LATERAL (
  SELECT coalesce(sum(greatest(il.on_hand - il.reserved, 0)), 0)::int AS available
  FROM inventory_levels il WHERE il.shop_id = s2.shop_id AND il.variant_id = s2.variant_id
) a
LEFT JOIN inventory_thresholds t ON t.shop_id = s2.shop_id AND t.variant_id = s2.variant_id
LEFT JOIN inventory_low_stock_defaults d ON d.shop_id = s2.shop_id
WHERE s.shop_id = @shop_id AND s2.shop_id = s.shop_id AND s2.variant_id = s.variant_id
  AND (cardinality(@variant_ids::uuid[]) = 0 OR s.variant_id = ANY(@variant_ids::uuid[]));
