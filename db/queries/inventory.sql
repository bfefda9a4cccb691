-- Stock movements. Every reserve, commit and release goes through
-- internal/inventory, which is the only caller of these queries.

-- name: InventoryLockVariant :many
-- Locks a variant's stock rows in warehouse priority order (callers lock
-- variants in id order, so concurrent checkouts cannot deadlock).
SELECT il.warehouse_id, il.on_hand, il.reserved
FROM inventory_levels il
JOIN warehouses w ON w.shop_id = il.shop_id AND w.id = il.warehouse_id
WHERE il.shop_id = @shop_id AND il.variant_id = @variant_id
ORDER BY w.priority, w.id
FOR UPDATE OF il;

-- name: InventoryReserve :execrows
UPDATE inventory_levels SET reserved = reserved + @qty::int, updated_at = now()
WHERE shop_id = @shop_id AND variant_id = @variant_id AND warehouse_id = @warehouse_id
  AND on_hand - reserved >= @qty::int;

-- name: ReservationInsert :exec
INSERT INTO order_reservations (shop_id, order_id, variant_id, warehouse_id, quantity)
VALUES (@shop_id, @order_id, @variant_id, @warehouse_id, @quantity);

-- name: InventoryCommitOrder :many
-- Reserved units leave the building: on_hand and reserved both drop.
WITH r AS (
  UPDATE order_reservations SET state = 'committed'
  WHERE shop_id = @shop_id AND order_id = @order_id AND state = 'reserved'
  RETURNING variant_id, warehouse_id, quantity
)
UPDATE inventory_levels il SET on_hand = il.on_hand - r.quantity, reserved = il.reserved - r.quantity, updated_at = now()
FROM r
WHERE il.shop_id = @shop_id AND il.variant_id = r.variant_id AND il.warehouse_id = r.warehouse_id
RETURNING il.variant_id, il.warehouse_id, il.on_hand, il.reserved, r.quantity;

-- name: InventoryReleaseOrder :many
-- Reserved units go back on sale.
WITH r AS (
  UPDATE order_reservations SET state = 'released'
  WHERE shop_id = @shop_id AND order_id = @order_id AND state = 'reserved'
  RETURNING variant_id, warehouse_id, quantity
)
UPDATE inventory_levels il SET reserved = il.reserved - r.quantity, updated_at = now()
FROM r
WHERE il.shop_id = @shop_id AND il.variant_id = r.variant_id AND il.warehouse_id = r.warehouse_id
RETURNING il.variant_id, il.warehouse_id, il.on_hand, il.reserved, r.quantity;

-- name: InventoryRestockOrder :many
-- Committed units come back on hand (a paid order cancelled before shipping).
WITH r AS (
  UPDATE order_reservations SET state = 'restocked'
  WHERE shop_id = @shop_id AND order_id = @order_id AND state = 'committed'
  RETURNING variant_id, warehouse_id, quantity
)
UPDATE inventory_levels il SET on_hand = il.on_hand + r.quantity, updated_at = now()
FROM r
WHERE il.shop_id = @shop_id AND il.variant_id = r.variant_id AND il.warehouse_id = r.warehouse_id
RETURNING il.variant_id, il.warehouse_id, il.on_hand, il.reserved, r.quantity;
