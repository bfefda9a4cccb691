-- name: OrderNextNumber :one
INSERT INTO shop_order_counters (shop_id, last_number) VALUES (@shop_id, 1001)
ON CONFLICT (shop_id) DO UPDATE SET last_number = shop_order_counters.last_number + 1
RETURNING last_number;

-- name: OrderInsert :one
INSERT INTO orders (shop_id, number, email, customer_id, customer_first_name, customer_last_name,
  shipping_address, billing_address, currency_code, subtotal_amount, tax_amount, total_amount,
  cart_id, payment_provider, reservation_expires_at, checkout_scope, checkout_key,
  discount_amount, shipping_amount, taxes_included, pricing,
  market_handle, shop_currency_code, exchange_rate_e10, shop_subtotal_amount, shop_discount_amount, shop_shipping_amount, shop_tax_amount, shop_total_amount)
VALUES (@shop_id, @number, @email, @customer_id, @customer_first_name, @customer_last_name,
  @shipping_address, @billing_address, @currency_code, @subtotal_amount, @tax_amount, @total_amount,
  @cart_id, @payment_provider, @reservation_expires_at, sqlc.narg('checkout_scope'), sqlc.narg('checkout_key'),
  @discount_amount, @shipping_amount, @taxes_included, @pricing,
  sqlc.narg('market_handle'), @shop_currency_code, @exchange_rate_e10, @shop_subtotal_amount, @shop_discount_amount, @shop_shipping_amount, @shop_tax_amount, @shop_total_amount)
RETURNING *;

-- name: OrderLinesInsert :exec
-- One statement for all lines (COPY is not allowed under row-level security).
INSERT INTO order_lines (shop_id, order_id, position, variant_id, product_id, product_title, variant_title, sku, unit_amount, quantity, discount_amount, tax_amount)
SELECT @shop_id, @order_id, u.position, u.variant_id, u.product_id, u.product_title, u.variant_title, u.sku, u.unit_amount, u.quantity, u.discount_amount, u.tax_amount
FROM (SELECT unnest(@positions::int[]) AS position, unnest(@variant_ids::uuid[]) AS variant_id, unnest(@product_ids::uuid[]) AS product_id,
             unnest(@product_titles::text[]) AS product_title, unnest(@variant_titles::text[]) AS variant_title, unnest(@skus::text[]) AS sku,
             unnest(@unit_amounts::bigint[]) AS unit_amount, unnest(@quantities::int[]) AS quantity,
             unnest(@discount_amounts::bigint[]) AS discount_amount, unnest(@tax_amounts::bigint[]) AS tax_amount) u;

-- name: OrderExpiryInsert :exec
INSERT INTO order_expiries (expires_at, shop_id, order_id) VALUES (@expires_at, @shop_id, @order_id);

-- name: OrderExpiryDelete :exec
DELETE FROM order_expiries WHERE shop_id = @shop_id AND order_id = @order_id;

-- name: OrderExpiryPostpone :exec
-- Leaves a claimed expiry alone until @expires_at (the provider is being
-- asked to cancel the order's payment, or could not be reached).
UPDATE order_expiries SET expires_at = @expires_at WHERE shop_id = @shop_id AND order_id = @order_id;

-- name: OrderExpiriesDue :many
SELECT shop_id, order_id FROM order_expiries
WHERE expires_at <= now()
ORDER BY expires_at
LIMIT @lim
FOR UPDATE SKIP LOCKED;

-- name: OrderSetPayment :exec
UPDATE orders SET payment_intent_id = @payment_intent_id, payment_client_secret = @payment_client_secret, updated_at = now()
WHERE shop_id = @shop_id AND id = @id;

-- name: OrderGet :one
SELECT * FROM orders WHERE shop_id = @shop_id AND id = @id;

-- name: OrderLock :one
SELECT * FROM orders WHERE shop_id = @shop_id AND id = @id FOR UPDATE;

-- name: OrdersByIDs :many
SELECT * FROM orders WHERE shop_id = @shop_id AND id = ANY(@ids::uuid[]);

-- name: OrderSetStatus :one
UPDATE orders SET status = @status, cancel_reason = coalesce(sqlc.narg('cancel_reason'), cancel_reason),
  refunded_amount = refunded_amount + @refund_amount, updated_at = now()
WHERE shop_id = @shop_id AND id = @id
RETURNING *;

-- name: OrderEventInsert :exec
INSERT INTO order_events (shop_id, order_id, from_status, to_status, actor, note, payment_ref, amount)
VALUES (@shop_id, @order_id, sqlc.narg('from_status'), @to_status, @actor, @note, sqlc.narg('payment_ref'), sqlc.narg('amount'));

-- name: OrderLinesByOrderIDs :many
SELECT * FROM order_lines WHERE shop_id = @shop_id AND order_id = ANY(@order_ids::uuid[]) ORDER BY order_id, position;

-- name: OrdersPage :many
SELECT * FROM orders
WHERE shop_id = @shop_id
  AND (sqlc.narg('status')::order_status IS NULL OR status = sqlc.narg('status')::order_status)
  AND (sqlc.narg('customer_id')::uuid IS NULL OR customer_id = sqlc.narg('customer_id')::uuid)
  AND (sqlc.narg('created_from')::timestamptz IS NULL OR created_at >= sqlc.narg('created_from')::timestamptz)
  AND (sqlc.narg('created_to')::timestamptz IS NULL OR created_at < sqlc.narg('created_to')::timestamptz)
  AND (sqlc.narg('after_created')::timestamptz IS NULL OR (created_at, id) < (sqlc.narg('after_created')::timestamptz, sqlc.narg('after_id')::uuid))
ORDER BY created_at DESC, id DESC
LIMIT @lim;

-- name: StripeEventRecord :execrows
-- Exactly-once webhook processing: the insert and the transition commit
-- together; a duplicate delivery waits on the key, then inserts nothing.
INSERT INTO stripe_events (event_id, type) VALUES (@event_id, @type) ON CONFLICT (event_id) DO NOTHING;

-- name: IdemInsert :execrows
INSERT INTO idempotency_keys (shop_id, principal, key, operation, request_hash)
VALUES (@shop_id, @principal, @key, @operation, @request_hash)
ON CONFLICT (shop_id, principal, key) DO NOTHING;

-- name: IdemGet :one
SELECT * FROM idempotency_keys WHERE shop_id = @shop_id AND principal = @principal AND key = @key;

-- name: IdemFinish :exec
UPDATE idempotency_keys SET state = 'done', response = @response, updated_at = now()
WHERE shop_id = @shop_id AND principal = @principal AND key = @key;

-- name: IdemAbandon :exec
DELETE FROM idempotency_keys WHERE shop_id = @shop_id AND principal = @principal AND key = @key AND state = 'running';

-- name: IdemClearExpired :execrows
DELETE FROM idempotency_keys WHERE shop_id = @shop_id AND principal = @principal AND key = @key
  AND (expires_at <= now() OR (state = 'running' AND updated_at < now() - make_interval(secs => @lease_seconds::float8)));

-- name: OrderEventsByOrderIDs :many
SELECT * FROM order_events WHERE shop_id = @shop_id AND order_id = ANY(@order_ids::uuid[]) ORDER BY order_id, created_at, id;

-- name: OrderExpiryLock :exec
-- Takes the order's expiry-queue row (if any) before the order row: the
-- sweeper locks in the same order, so the two cannot deadlock.
SELECT 1 FROM order_expiries WHERE shop_id = @shop_id AND order_id = @order_id FOR UPDATE;

-- name: RefundPendingTotal :one
-- What pending refunds of the order have reserved (call under the order lock).
SELECT coalesce(sum(amount), 0)::bigint FROM refunds
WHERE shop_id = @shop_id AND order_id = @order_id AND state = 'pending';

-- name: RefundInsert :one
INSERT INTO refunds (shop_id, order_id, id, amount, target_status, provider, provider_key, reason, actor, request_key)
VALUES (@shop_id, @order_id, @id, @amount, @target_status, @provider, @provider_key, @reason, @actor, sqlc.narg('request_key'))
RETURNING *;

-- name: RefundByRequestKey :many
-- The live (pending or succeeded) refund a request key recorded (call
-- under the order lock).
SELECT * FROM refunds WHERE shop_id = @shop_id AND order_id = @order_id AND request_key = @request_key AND state <> 'failed';

-- name: RefundQueueInsert :exec
INSERT INTO refund_queue (shop_id, refund_id) VALUES (@shop_id, @refund_id);

-- name: RefundQueueDelete :exec
DELETE FROM refund_queue WHERE shop_id = @shop_id AND refund_id = @refund_id;

-- name: RefundQueueClaim :many
-- Claims pending refunds untouched for a while; the caller pushes due_at
-- forward (a lease) in the same transaction, so instances do not collide.
SELECT shop_id, refund_id FROM refund_queue
WHERE due_at <= @before
ORDER BY due_at
LIMIT @lim
FOR UPDATE SKIP LOCKED;

-- name: RefundQueueLease :exec
UPDATE refund_queue SET due_at = @due_at WHERE shop_id = @shop_id AND refund_id = @refund_id;

-- name: RefundGet :one
SELECT * FROM refunds WHERE shop_id = @shop_id AND id = @id;

-- name: RefundLock :one
SELECT * FROM refunds WHERE shop_id = @shop_id AND id = @id FOR UPDATE;

-- name: RefundFinish :one
UPDATE refunds SET state = @state, provider_ref = coalesce(sqlc.narg('provider_ref'), provider_ref),
  error = sqlc.narg('error'), updated_at = now()
WHERE shop_id = @shop_id AND id = @id
RETURNING *;

-- name: RefundsByOrderIDs :many
SELECT * FROM refunds WHERE shop_id = @shop_id AND order_id = ANY(@order_ids::uuid[]) ORDER BY order_id, created_at, id;

-- name: OrderByCheckoutKey :many
-- The order a checkout idempotency key placed (crash recovery).
SELECT * FROM orders WHERE shop_id = @shop_id AND checkout_scope = @checkout_scope AND checkout_key = @checkout_key;
