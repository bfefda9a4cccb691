-- The inventory ledger, its per-shop sequence and the outbox. Written only
-- by internal/inventory (the relay in internal/events drains the outbox
-- through internal/inventory functions).

-- name: InventorySequenceNext :one
-- Takes cnt sequence numbers from the shop counter and returns the last.
-- The row stays locked until commit: numbers are gap-free (a rollback
-- rolls the increment back) and commit order equals sequence order.
INSERT INTO inventory_sequences (shop_id, last_seq) VALUES (@shop_id, @cnt::bigint)
ON CONFLICT (shop_id) DO UPDATE SET last_seq = inventory_sequences.last_seq + excluded.last_seq
RETURNING last_seq;

-- name: InventoryLedgerAppend :exec
-- Appends one ledger row per movement, numbered first_seq, first_seq+1, …,
-- and its outbox row.
WITH m AS (
  SELECT (@variant_ids::uuid[])[g.i] AS variant_id, (@warehouse_ids::uuid[])[g.i] AS warehouse_id,
    (@names::text[])[g.i] AS name, (@deltas::int[])[g.i] AS delta,
    (@on_hand_deltas::int[])[g.i] AS on_hand_delta, (@reserved_deltas::int[])[g.i] AS reserved_delta,
    (@on_hands::int[])[g.i] AS on_hand, (@reserveds::int[])[g.i] AS reserved, g.i AS ord,
    -- '' and -1 stand for "no flip on this row" (sqlc arrays cannot hold NULL).
    nullif((@stock_alerts::text[])[g.i], '') AS stock_alert, nullif((@availabilities::text[])[g.i], '') AS availability,
    nullif((@variant_availables::int[])[g.i], -1) AS variant_available, nullif((@thresholds::int[])[g.i], -1) AS low_stock_threshold,
    (@product_availables::bool[])[g.i] AS product_available
  FROM generate_series(1, cardinality(@variant_ids::uuid[])) AS g(i)
), l AS (
  INSERT INTO inventory_ledger (shop_id, sequence, variant_id, product_id, warehouse_id, name, delta, on_hand_delta, reserved_delta,
    on_hand, reserved, reason, actor, reference_document_uri, idempotency_key,
    stock_alert, availability, variant_available, low_stock_threshold, product_available)
  SELECT @shop_id, (sqlc.arg(first_seq)::bigint) + m.ord - 1, m.variant_id, v.product_id, m.warehouse_id, m.name, m.delta, m.on_hand_delta, m.reserved_delta,
    m.on_hand, m.reserved, @reason::text, @actor::text, sqlc.narg(reference_document_uri)::text, sqlc.narg(idempotency_key)::text,
    m.stock_alert, m.availability, m.variant_available, m.low_stock_threshold, CASE WHEN m.availability IS NULL THEN NULL ELSE m.product_available END
  FROM m JOIN variants v ON v.shop_id = @shop_id AND v.id = m.variant_id
  RETURNING shop_id, sequence
)
INSERT INTO inventory_outbox (shop_id, sequence) SELECT l.shop_id, l.sequence FROM l;

-- name: InventoryLedgerRange :many
-- A shop ledger after a sequence, in order (replay and relay).
SELECT * FROM inventory_ledger
WHERE shop_id = @shop_id AND sequence > @after::bigint AND (@upto::bigint = 0 OR sequence <= @upto::bigint)
ORDER BY sequence
LIMIT @lim;

-- name: InventoryLedgerByVariant :many
-- The history of a variant, newest first, before a sequence (0: from the newest).
SELECT * FROM inventory_ledger
WHERE shop_id = @shop_id AND variant_id = @variant_id AND (@before::bigint = 0 OR sequence < @before::bigint)
ORDER BY sequence DESC
LIMIT @lim;

-- name: InventoryLastSequence :one
SELECT coalesce((SELECT last_seq FROM inventory_sequences WHERE shop_id = @shop_id), 0)::bigint;

-- name: InventoryOutboxShops :many
-- Shops with events waiting for the relay (global queue, no tenant data).
SELECT DISTINCT shop_id FROM inventory_outbox LIMIT @lim;

-- name: InventoryOutboxTryLock :one
-- One relay per shop at a time, on any instance (released at commit).
SELECT pg_try_advisory_xact_lock(hashtextextended(@lock_key::text, 0));

-- name: InventoryOutboxPending :many
-- The oldest waiting events of a shop, with their ledger rows.
SELECT l.* FROM inventory_outbox o
JOIN inventory_ledger l ON l.shop_id = o.shop_id AND l.sequence = o.sequence
WHERE o.shop_id = @shop_id
ORDER BY o.sequence
LIMIT @lim;

-- name: InventoryOutboxDelete :exec
DELETE FROM inventory_outbox WHERE shop_id = @shop_id AND sequence <= @upto::bigint;

-- name: InventoryEnsureLevels :exec
-- Creates missing (variant, warehouse) levels at zero, for pairs that exist in the shop.
INSERT INTO inventory_levels (shop_id, variant_id, warehouse_id)
SELECT @shop_id, v.id, w.id
FROM (SELECT unnest(@variant_ids::uuid[]) AS variant_id, unnest(@warehouse_ids::uuid[]) AS warehouse_id) AS p
JOIN variants v ON v.shop_id = @shop_id AND v.id = p.variant_id
JOIN warehouses w ON w.shop_id = @shop_id AND w.id = p.warehouse_id
ON CONFLICT DO NOTHING;

-- name: InventoryLockLevels :many
-- Locks the given levels in variant, then warehouse priority order (the
-- order checkout reservations lock in, so they cannot deadlock).
SELECT il.variant_id, il.warehouse_id, il.on_hand, il.reserved
FROM inventory_levels il
JOIN warehouses w ON w.shop_id = il.shop_id AND w.id = il.warehouse_id
WHERE il.shop_id = @shop_id AND (il.variant_id, il.warehouse_id) IN (
  SELECT unnest(@variant_ids::uuid[]), unnest(@warehouse_ids::uuid[]))
ORDER BY il.variant_id, w.priority, w.id
FOR UPDATE OF il;

-- name: InventorySetOnHand :exec
UPDATE inventory_levels SET on_hand = @on_hand::int, updated_at = now()
WHERE shop_id = @shop_id AND variant_id = @variant_id AND warehouse_id = @warehouse_id;

-- name: InventoryLevelsPage :many
-- With the variant's effective low-stock threshold (its own, else the
-- shop's default; -1 when neither is set).
SELECT il.variant_id, il.warehouse_id, il.on_hand, il.reserved, il.updated_at,
  coalesce(t.threshold, d.threshold, -1)::int AS low_stock_threshold
FROM inventory_levels il
LEFT JOIN inventory_thresholds t ON t.shop_id = il.shop_id AND t.variant_id = il.variant_id
LEFT JOIN inventory_low_stock_defaults d ON d.shop_id = il.shop_id
WHERE il.shop_id = @shop_id
  AND (cardinality(@variant_ids::uuid[]) = 0 OR il.variant_id = ANY(@variant_ids::uuid[]))
  AND (il.variant_id, il.warehouse_id) > (@after_variant::uuid, @after_warehouse::uuid)
ORDER BY il.variant_id, il.warehouse_id
LIMIT @lim;

-- name: InventoryWarehousesByIDs :many
SELECT id, name, priority FROM warehouses WHERE shop_id = @shop_id AND id = ANY(@ids::uuid[]);
