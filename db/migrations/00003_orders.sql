-- +goose Up
-- Checkout, orders, payments and stock reservations.

ALTER TABLE shops ADD COLUMN checkout_url_template text;

CREATE TYPE order_status AS ENUM ('PENDING_PAYMENT', 'PAID', 'FULFILLED', 'CANCELLED', 'EXPIRED', 'REFUNDED', 'PARTIALLY_REFUNDED');

-- Per-shop human order numbers (#1001, …): incremented in its own short
-- statement before the checkout transaction, so checkouts of one shop do not
-- serialise on it. Gaps are allowed; uniqueness is enforced on orders.
CREATE TABLE shop_order_counters (
  shop_id     uuid PRIMARY KEY REFERENCES shops(id) ON DELETE CASCADE,
  last_number bigint NOT NULL DEFAULT 1000
);

CREATE TABLE orders (
  shop_id                uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  id                     uuid NOT NULL DEFAULT uuid_generate_v7(),
  number                 bigint NOT NULL,
  status                 order_status NOT NULL DEFAULT 'PENDING_PAYMENT',
  email                  text NOT NULL,
  customer_id            uuid,
  customer_first_name    text NOT NULL DEFAULT '',
  customer_last_name     text NOT NULL DEFAULT '',
  shipping_address       jsonb NOT NULL,
  billing_address        jsonb NOT NULL,
  currency_code          char(3) NOT NULL,
  subtotal_amount        bigint NOT NULL CHECK (subtotal_amount >= 0),
  tax_amount             bigint NOT NULL DEFAULT 0 CHECK (tax_amount >= 0),
  total_amount           bigint NOT NULL CHECK (total_amount >= 0),
  refunded_amount        bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= total_amount),
  cart_id                text,
  payment_provider       text NOT NULL CHECK (payment_provider IN ('stripe', 'manual')),
  payment_intent_id      text,
  payment_client_secret  text,
  reservation_expires_at timestamptz,
  cancel_reason          text,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, id),
  UNIQUE (shop_id, number),
  FOREIGN KEY (shop_id, customer_id) REFERENCES customers (shop_id, id) ON DELETE SET NULL (customer_id)
);
CREATE INDEX orders_created_idx ON orders (shop_id, created_at, id);
CREATE INDEX orders_customer_idx ON orders (shop_id, customer_id, created_at);
CREATE INDEX orders_intent_idx ON orders (shop_id, payment_intent_id);

-- A snapshot of what was bought: later renames and repricing do not change it.
CREATE TABLE order_lines (
  shop_id       uuid NOT NULL,
  order_id      uuid NOT NULL,
  position      int NOT NULL,
  variant_id    uuid NOT NULL,
  product_id    uuid NOT NULL,
  product_title text NOT NULL,
  variant_title text NOT NULL,
  sku           text NOT NULL,
  unit_amount   bigint NOT NULL CHECK (unit_amount >= 0),
  quantity      int NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (shop_id, order_id, position),
  FOREIGN KEY (shop_id, order_id) REFERENCES orders (shop_id, id) ON DELETE CASCADE
);

-- Where each reserved unit sits, so commit and release touch exactly the
-- warehouses that were reserved.
CREATE TABLE order_reservations (
  shop_id      uuid NOT NULL,
  order_id     uuid NOT NULL,
  variant_id   uuid NOT NULL,
  warehouse_id uuid NOT NULL,
  quantity     int NOT NULL CHECK (quantity > 0),
  state        text NOT NULL DEFAULT 'reserved' CHECK (state IN ('reserved', 'committed', 'released')),
  PRIMARY KEY (shop_id, order_id, variant_id, warehouse_id),
  FOREIGN KEY (shop_id, order_id) REFERENCES orders (shop_id, id) ON DELETE CASCADE
);

-- The order timeline: one row per transition.
CREATE TABLE order_events (
  shop_id     uuid NOT NULL,
  order_id    uuid NOT NULL,
  id          uuid NOT NULL DEFAULT uuid_generate_v7(),
  from_status order_status,
  to_status   order_status NOT NULL,
  actor       text NOT NULL,
  note        text NOT NULL DEFAULT '',
  payment_ref text,
  amount      bigint,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (shop_id, order_id, id),
  FOREIGN KEY (shop_id, order_id) REFERENCES orders (shop_id, id) ON DELETE CASCADE
);

-- Idempotency keys: one row per (shop, principal, key), 24 h.
CREATE TABLE idempotency_keys (
  shop_id      uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  principal    text NOT NULL,
  key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  operation    text NOT NULL,
  request_hash bytea NOT NULL,
  state        text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done')),
  response     jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL DEFAULT now() + interval '24 hours',
  PRIMARY KEY (shop_id, principal, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (shop_id, expires_at);

-- Global queues (no tenant data, like api_key_index): the reservation
-- sweeper and the webhook receiver must find work before they know the shop.
CREATE TABLE order_expiries (
  expires_at timestamptz NOT NULL,
  shop_id    uuid NOT NULL,
  order_id   uuid NOT NULL,
  PRIMARY KEY (shop_id, order_id),
  FOREIGN KEY (shop_id, order_id) REFERENCES orders (shop_id, id) ON DELETE CASCADE
);
CREATE INDEX order_expiries_due_idx ON order_expiries (expires_at);

CREATE TABLE stripe_events (
  event_id    text PRIMARY KEY,
  type        text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['shop_order_counters', 'orders', 'order_lines', 'order_reservations', 'order_events', 'idempotency_keys']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
      USING (shop_id = nullif(current_setting('app.shop_id', true), '')::uuid)
      WITH CHECK (shop_id = nullif(current_setting('app.shop_id', true), '')::uuid)$p$, t);
  END LOOP;
END
$$;
-- +goose StatementEnd

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO cartograph_app;
REVOKE INSERT, UPDATE, DELETE ON shops FROM cartograph_app;

-- +goose Down
DROP TABLE stripe_events, order_expiries, idempotency_keys, order_events, order_reservations, order_lines, orders, shop_order_counters;
DROP TYPE order_status;
ALTER TABLE shops DROP COLUMN checkout_url_template;
