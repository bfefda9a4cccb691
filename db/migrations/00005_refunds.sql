-- +goose Up
-- Refunds are recorded before the provider is asked (record, act, confirm):
-- a pending row reserves its amount under the order's row lock, so
-- concurrent refunds and cancels can never ask the provider for more than
-- is left. The provider's idempotency key is derived from the row id, so a
-- retry after a crash (ResumeRefunds) can never refund twice.
CREATE TABLE refunds (
  shop_id       uuid NOT NULL,
  order_id      uuid NOT NULL,
  id            uuid NOT NULL DEFAULT uuid_generate_v7(),
  amount        bigint NOT NULL CHECK (amount > 0),
  state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'succeeded', 'failed')),
  -- What the order becomes when the refund succeeds (REFUNDED,
  -- PARTIALLY_REFUNDED or CANCELLED for a cancel with refund and restock).
  target_status order_status NOT NULL,
  provider      text NOT NULL,
  provider_key  text NOT NULL,
  provider_ref  text,
  error         text,
  reason        text NOT NULL DEFAULT '',
  actor         text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, id),
  UNIQUE (shop_id, provider_key),
  FOREIGN KEY (shop_id, order_id) REFERENCES orders (shop_id, id) ON DELETE CASCADE
);
CREATE INDEX refunds_order_idx ON refunds (shop_id, order_id, created_at);

-- Global queue of pending refunds (no tenant data, like order_expiries):
-- the recovery pass must find them before it knows the shop. A row lives
-- exactly as long as its refund is pending; due_at is a lease.
CREATE TABLE refund_queue (
  due_at    timestamptz NOT NULL DEFAULT now(),
  shop_id   uuid NOT NULL,
  refund_id uuid NOT NULL,
  PRIMARY KEY (shop_id, refund_id),
  FOREIGN KEY (shop_id, refund_id) REFERENCES refunds (shop_id, id) ON DELETE CASCADE
);
CREATE INDEX refund_queue_due_idx ON refund_queue (due_at);

ALTER TABLE refunds ENABLE ROW LEVEL SECURITY;
ALTER TABLE refunds FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON refunds
  USING (shop_id = nullif(current_setting('app.shop_id', true), '')::uuid)
  WITH CHECK (shop_id = nullif(current_setting('app.shop_id', true), '')::uuid);

GRANT SELECT, INSERT, UPDATE, DELETE ON refunds, refund_queue TO cartograph_app;

-- +goose Down
DROP TABLE refund_queue, refunds;
