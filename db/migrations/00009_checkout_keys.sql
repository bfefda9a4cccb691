-- +goose Up
-- Crash-safe checkout: the order carries the idempotency scope and key
-- that placed it, in the same transaction as its reservation, so a retry
-- after a crash finds it instead of placing a second order; and a cart
-- has at most one live (unpaid) order, so its stock is never held twice.
ALTER TABLE orders ADD COLUMN checkout_scope text, ADD COLUMN checkout_key text;
CREATE UNIQUE INDEX orders_checkout_key_idx ON orders (shop_id, checkout_scope, checkout_key) WHERE checkout_key IS NOT NULL;
CREATE UNIQUE INDEX orders_live_cart_idx ON orders (shop_id, cart_id) WHERE status = 'PENDING_PAYMENT' AND cart_id IS NOT NULL;

-- +goose Down
DROP INDEX orders_live_cart_idx;
DROP INDEX orders_checkout_key_idx;
ALTER TABLE orders DROP COLUMN checkout_key, DROP COLUMN checkout_scope;
