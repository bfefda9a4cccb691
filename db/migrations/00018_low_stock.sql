-- +goose Up
-- Low-stock alerts and storefront availability flips (issue 10).
--
-- Thresholds are set by staff per variant, with a per-shop default for
-- variants without one. inventory_stock_states holds, per variant, whether
-- its total available stock is currently below its threshold (low) and
-- whether it is sold out; internal/inventory locks these rows in every
-- movement's transaction, after the level rows and before the sequence
-- counter, and flips them. A flip is written onto the movement's ledger row
-- of that variant (stock_alert, availability), so alerts travel through
-- the same outbox, relay and stream as the change itself: they exist if and
-- only if the movement committed, once per crossing.

CREATE TABLE inventory_low_stock_defaults (
  shop_id    uuid PRIMARY KEY REFERENCES shops(id) ON DELETE CASCADE,
  threshold  int NOT NULL CHECK (threshold BETWEEN 0 AND 1000000000),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE inventory_thresholds (
  shop_id    uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  variant_id uuid NOT NULL,
  threshold  int NOT NULL CHECK (threshold BETWEEN 0 AND 1000000000),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, variant_id),
  FOREIGN KEY (shop_id, variant_id) REFERENCES variants (shop_id, id) ON DELETE CASCADE
);

CREATE TABLE inventory_stock_states (
  shop_id    uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  variant_id uuid NOT NULL,
  low        boolean NOT NULL,
  sold_out   boolean NOT NULL,
  PRIMARY KEY (shop_id, variant_id),
  FOREIGN KEY (shop_id, variant_id) REFERENCES variants (shop_id, id) ON DELETE CASCADE
);

-- On the ledger row that caused a flip: which alert, the variant's total
-- available after it and the threshold crossed; which availability flip and
-- whether the product as a whole is still for sale.
ALTER TABLE inventory_ledger
  ADD COLUMN stock_alert text CHECK (stock_alert IN ('low', 'restocked')),
  ADD COLUMN availability text CHECK (availability IN ('sold_out', 'available')),
  ADD COLUMN variant_available int,
  ADD COLUMN low_stock_threshold int,
  ADD COLUMN product_available boolean;

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['inventory_low_stock_defaults', 'inventory_thresholds', 'inventory_stock_states']
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

GRANT SELECT, INSERT, UPDATE, DELETE ON inventory_low_stock_defaults, inventory_thresholds, inventory_stock_states TO cartograph_app;

-- +goose Down
ALTER TABLE inventory_ledger DROP COLUMN stock_alert, DROP COLUMN availability, DROP COLUMN variant_available,
  DROP COLUMN low_stock_threshold, DROP COLUMN product_available;
DROP TABLE inventory_stock_states, inventory_thresholds, inventory_low_stock_defaults;
