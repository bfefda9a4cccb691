-- name: DiscountsForCart :many
-- The shop's live automatic discounts plus the discounts whose code is one
-- of @codes (lower-cased by the caller), whatever their state: the caller
-- reports why an entered code does not apply.
SELECT * FROM discounts
WHERE shop_id = @shop_id
  AND ((code IS NULL AND active AND starts_at <= now() AND (ends_at IS NULL OR ends_at > now()))
       OR lower(code) = ANY(@codes::text[]))
ORDER BY created_at, id
LIMIT 200;

-- name: DiscountCustomerUses :many
-- Live uses of each discount by one customer (id or lower-cased email).
SELECT discount_id, count(*)::int AS uses FROM discount_redemptions
WHERE shop_id = @shop_id AND discount_id = ANY(@discount_ids::uuid[]) AND customer_key = @customer_key AND released_at IS NULL
GROUP BY discount_id;

-- name: DiscountRedeemable :one
-- Whether a discount can be used now, and whether it has a limit (only
-- limited discounts count uses under a row lock).
SELECT (active AND starts_at <= now() AND (ends_at IS NULL OR ends_at > now()) AND (usage_limit IS NULL OR used_count < usage_limit))::bool AS live,
       (usage_limit IS NOT NULL OR per_customer_limit IS NOT NULL)::bool AS limited
FROM discounts WHERE shop_id = @shop_id AND id = @id;

-- name: DiscountTakeUse :one
-- Counts one use of a limited discount if it is live and under its limit;
-- the row lock serialises concurrent checkouts of the same discount.
UPDATE discounts SET used_count = used_count + 1
WHERE shop_id = @shop_id AND id = @id AND active AND starts_at <= now() AND (ends_at IS NULL OR ends_at > now())
  AND (usage_limit IS NULL OR used_count < usage_limit)
  AND (usage_limit IS NOT NULL OR per_customer_limit IS NOT NULL)
RETURNING per_customer_limit;

-- name: DiscountRedemptionInsert :exec
INSERT INTO discount_redemptions (shop_id, order_id, discount_id, customer_key) VALUES (@shop_id, @order_id, @discount_id, @customer_key);

-- name: DiscountRedemptionsRelease :many
-- Gives an order's uses back, once: only rows not yet released.
UPDATE discount_redemptions SET released_at = now()
WHERE shop_id = @shop_id AND order_id = @order_id AND released_at IS NULL
RETURNING discount_id;

-- name: DiscountGiveBack :exec
UPDATE discounts SET used_count = used_count - 1
WHERE shop_id = @shop_id AND id = ANY(@ids::uuid[]) AND used_count > 0 AND (usage_limit IS NOT NULL OR per_customer_limit IS NOT NULL);

-- name: DiscountInsert :one
INSERT INTO discounts (shop_id, code, title, kind, scope, value, currency_code, product_ids, collection_ids,
  min_subtotal, min_quantity, starts_at, ends_at, usage_limit, per_customer_limit, active)
VALUES (@shop_id, sqlc.narg('code'), @title, @kind, @scope, @value, @currency_code, @product_ids, @collection_ids,
  @min_subtotal, @min_quantity, @starts_at, sqlc.narg('ends_at'), sqlc.narg('usage_limit'), sqlc.narg('per_customer_limit'), @active)
RETURNING *;

-- name: DiscountUpdate :one
UPDATE discounts SET title = @title, value = @value, min_subtotal = @min_subtotal, min_quantity = @min_quantity,
  starts_at = @starts_at, ends_at = sqlc.narg('ends_at'), usage_limit = sqlc.narg('usage_limit'),
  per_customer_limit = sqlc.narg('per_customer_limit'), active = @active, updated_at = now(),
  -- Unlimited discounts do not count uses on the row (no hot-row lock);
  -- the count is rebuilt from live redemptions whenever staff edit it.
  used_count = (SELECT count(*) FROM discount_redemptions r WHERE r.shop_id = @shop_id AND r.discount_id = @id AND r.released_at IS NULL)
WHERE shop_id = @shop_id AND id = @id
RETURNING *;

-- name: DiscountsByIDs :many
SELECT * FROM discounts WHERE shop_id = @shop_id AND id = ANY(@ids::uuid[]);

-- name: DiscountRedemptionCount :one
SELECT count(*)::int FROM discount_redemptions WHERE shop_id = @shop_id AND discount_id = @discount_id AND released_at IS NULL;

-- name: DiscountsList :many
-- Oldest first (ids are time-ordered); after is the last id of the previous page.
SELECT * FROM discounts WHERE shop_id = @shop_id AND (sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after'))
ORDER BY id LIMIT @lim;
