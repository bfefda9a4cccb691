-- +goose Up
-- What an order costs: discounts and their redemptions (internal/discounts),
-- shipping zones and rates (internal/shipping), tax rates (internal/taxes),
-- and the order snapshot's discount, shipping and tax figures
-- (internal/orders). Amounts are integer minor units of currency_code.

CREATE TYPE discount_kind AS ENUM ('PERCENTAGE', 'FIXED_AMOUNT', 'FREE_SHIPPING');
CREATE TYPE discount_scope AS ENUM ('ORDER', 'PRODUCTS', 'COLLECTIONS');

CREATE TABLE discounts (
  shop_id            uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  id                 uuid NOT NULL DEFAULT uuid_generate_v7(),
  -- NULL: an automatic discount. Codes are matched case-insensitively.
  code               text CHECK (code IS NULL OR (length(code) BETWEEN 1 AND 255 AND code !~ '[[:cntrl:]]')),
  title              text NOT NULL CHECK (length(title) BETWEEN 1 AND 255),
  kind               discount_kind NOT NULL,
  scope              discount_scope NOT NULL DEFAULT 'ORDER',
  -- PERCENTAGE: hundredths of a percent (10000 = 100 %); FIXED_AMOUNT: minor units.
  value              bigint NOT NULL DEFAULT 0 CHECK (value >= 0 AND (kind <> 'PERCENTAGE' OR value <= 10000)),
  currency_code      char(3) NOT NULL,
  product_ids        uuid[] NOT NULL DEFAULT '{}',
  collection_ids     uuid[] NOT NULL DEFAULT '{}',
  min_subtotal       bigint NOT NULL DEFAULT 0 CHECK (min_subtotal >= 0),
  min_quantity       int NOT NULL DEFAULT 0 CHECK (min_quantity >= 0),
  starts_at          timestamptz NOT NULL DEFAULT now(),
  ends_at            timestamptz CHECK (ends_at IS NULL OR ends_at > starts_at),
  usage_limit        int CHECK (usage_limit IS NULL OR usage_limit > 0),
  per_customer_limit int CHECK (per_customer_limit IS NULL OR per_customer_limit > 0),
  -- Live redemptions (not given back); never above usage_limit.
  used_count         int NOT NULL DEFAULT 0 CHECK (used_count >= 0 AND (usage_limit IS NULL OR used_count <= usage_limit)),
  active             boolean NOT NULL DEFAULT true,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, id)
);
CREATE UNIQUE INDEX discounts_code_idx ON discounts (shop_id, lower(code)) WHERE code IS NOT NULL;
CREATE INDEX discounts_automatic_idx ON discounts (shop_id, starts_at) WHERE code IS NULL AND active;

-- One row per discount used by an order; released_at is set once when the
-- order is cancelled or expires unpaid (the use is given back).
CREATE TABLE discount_redemptions (
  shop_id      uuid NOT NULL,
  order_id     uuid NOT NULL,
  discount_id  uuid NOT NULL,
  -- The customer id, or the lower-cased email for guests.
  customer_key text NOT NULL,
  released_at  timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, order_id, discount_id),
  FOREIGN KEY (shop_id, discount_id) REFERENCES discounts (shop_id, id) ON DELETE CASCADE,
  FOREIGN KEY (shop_id, order_id) REFERENCES orders (shop_id, id) ON DELETE CASCADE
);
CREATE INDEX discount_redemptions_customer_idx ON discount_redemptions (shop_id, discount_id, customer_key) WHERE released_at IS NULL;

CREATE TABLE shipping_zones (
  shop_id    uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  id         uuid NOT NULL DEFAULT uuid_generate_v7(),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  -- ISO 3166-1 alpha-2 countries ('US') or ISO 3166-2 regions ('US-CA').
  areas      text[] NOT NULL CHECK (cardinality(areas) BETWEEN 1 AND 300),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, id)
);
CREATE INDEX shipping_zones_areas_idx ON shipping_zones USING gin (areas);

CREATE TABLE shipping_rates (
  shop_id       uuid NOT NULL,
  id            uuid NOT NULL DEFAULT uuid_generate_v7(),
  zone_id       uuid NOT NULL,
  -- Stable per zone; what cartSelectedDeliveryOptionsUpdate names.
  handle        text NOT NULL CHECK (handle ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
  title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 255),
  amount        bigint NOT NULL DEFAULT 0 CHECK (amount >= 0),
  currency_code char(3) NOT NULL,
  -- Weight bands: [{"min":0,"max":999,"amount":490}, …] (non-overlapping; checked by internal/shipping).
  bands         jsonb NOT NULL DEFAULT '[]',
  free_over     bigint CHECK (free_over IS NULL OR free_over >= 0),
  active        boolean NOT NULL DEFAULT true,
  PRIMARY KEY (shop_id, id),
  UNIQUE (shop_id, zone_id, handle),
  FOREIGN KEY (shop_id, zone_id) REFERENCES shipping_zones (shop_id, id) ON DELETE CASCADE
);

CREATE TABLE tax_rates (
  shop_id    uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  id         uuid NOT NULL DEFAULT uuid_generate_v7(),
  country    char(2) NOT NULL,
  -- '' for the country-wide rate; an ISO 3166-2 subdivision code ('NY') for a region's own rate (added to the country's).
  region     text NOT NULL DEFAULT '' CHECK (length(region) <= 8),
  title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 64),
  -- Millionths: 200000 = 20 %.
  rate       int NOT NULL CHECK (rate BETWEEN 0 AND 1000000),
  -- Prices in this country include the tax (EU/UK) rather than having it added (US).
  included   boolean NOT NULL DEFAULT false,
  shipping   boolean NOT NULL DEFAULT false,
  PRIMARY KEY (shop_id, id),
  UNIQUE (shop_id, country, region, title)
);

ALTER TABLE orders
  ADD COLUMN discount_amount bigint NOT NULL DEFAULT 0 CHECK (discount_amount >= 0),
  ADD COLUMN shipping_amount bigint NOT NULL DEFAULT 0 CHECK (shipping_amount >= 0),
  ADD COLUMN taxes_included boolean NOT NULL DEFAULT false,
  -- Snapshot of the pricing: discount applications, shipping line, tax lines.
  ADD COLUMN pricing jsonb NOT NULL DEFAULT '{}';
ALTER TABLE order_lines
  ADD COLUMN discount_amount bigint NOT NULL DEFAULT 0 CHECK (discount_amount >= 0),
  ADD COLUMN tax_amount bigint NOT NULL DEFAULT 0 CHECK (tax_amount >= 0);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['discounts', 'discount_redemptions', 'shipping_zones', 'shipping_rates', 'tax_rates']
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

GRANT SELECT, INSERT, UPDATE, DELETE ON discounts, discount_redemptions, shipping_zones, shipping_rates, tax_rates TO cartograph_app;

-- +goose Down
ALTER TABLE order_lines DROP COLUMN discount_amount, DROP COLUMN tax_amount;
ALTER TABLE orders DROP COLUMN discount_amount, DROP COLUMN shipping_amount, DROP COLUMN taxes_included, DROP COLUMN pricing;
DROP TABLE tax_rates, shipping_rates, shipping_zones, discount_redemptions, discounts;
DROP TYPE discount_scope, discount_kind;
