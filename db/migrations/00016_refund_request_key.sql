-- +goose Up
-- The idempotency key (and principal) of the request that recorded a
-- refund: a retry of that request after a crash finds its row and settles
-- it with the same provider key, instead of being refused because the row
-- still reserves the amount. A failed row frees its key for a new attempt.
ALTER TABLE refunds ADD COLUMN request_key text;
CREATE UNIQUE INDEX refunds_request_key_idx ON refunds (shop_id, order_id, request_key)
  WHERE request_key IS NOT NULL AND state <> 'failed';

-- +goose Down
DROP INDEX refunds_request_key_idx;
ALTER TABLE refunds DROP COLUMN request_key;
