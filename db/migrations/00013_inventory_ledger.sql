-- +goose Up
-- Live inventory: an append-only ledger of every stock movement, a per-shop
-- sequence counter that orders it without gaps, and a transactional outbox
-- the relay drains into one Redis stream per shop.

-- One row per shop. internal/inventory increments it in the same
-- transaction as the movement, so sequence numbers are gap-free (a rollback
-- rolls the increment back) and commit order equals sequence order (the row
-- lock is held until commit).
CREATE TABLE inventory_sequences (
  shop_id  uuid PRIMARY KEY REFERENCES shops(id) ON DELETE CASCADE,
  last_seq bigint NOT NULL DEFAULT 0
);

CREATE TABLE inventory_ledger (
  shop_id            uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  sequence           bigint NOT NULL CHECK (sequence > 0),
  variant_id         uuid NOT NULL,
  product_id         uuid NOT NULL,
  warehouse_id       uuid NOT NULL,
  -- Shopify quantity name the movement is about: available, on_hand, reserved.
  name               text NOT NULL CHECK (name IN ('available', 'on_hand', 'reserved', 'committed')),
  delta              int NOT NULL,
  -- Exact level deltas, so the ledger always sums to the level.
  on_hand_delta      int NOT NULL,
  reserved_delta     int NOT NULL,
  on_hand            int NOT NULL,
  reserved           int NOT NULL,
  reason             text NOT NULL,
  actor              text NOT NULL,
  reference_document_uri text,
  idempotency_key    text,
  created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (shop_id, sequence)
);
CREATE INDEX inventory_ledger_variant_idx ON inventory_ledger (shop_id, variant_id, sequence);

-- Global queue (no tenant data beyond ids, like order_expiries): the relay
-- must find pending shops before it knows the shop. A row lives from the
-- movement's commit until the relay has appended it to the shop's stream.
CREATE TABLE inventory_outbox (
  shop_id    uuid NOT NULL,
  sequence   bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, sequence)
);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['inventory_sequences', 'inventory_ledger']
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

GRANT SELECT, INSERT, UPDATE, DELETE ON inventory_sequences, inventory_ledger, inventory_outbox TO cartograph_app;

-- +goose Down
DROP TABLE inventory_outbox, inventory_ledger, inventory_sequences;
