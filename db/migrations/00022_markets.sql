-- +goose Up
-- Markets and currencies (internal/markets): the countries a shop sells
-- to, grouped into markets, each with a presentment currency and a price
-- list (a percentage adjustment of the base price with a rounding rule,
-- and fixed prices per variant); staff-managed exchange rates with their
-- history; and on each order the presentment and shop-currency amounts
-- with the rate used (written by internal/orders).

CREATE TABLE markets (
  shop_id          uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  id               uuid NOT NULL DEFAULT uuid_generate_v7(),
  handle           text NOT NULL CHECK (handle ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  currency_code    char(3) NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
  -- Adjustment of the converted base price, hundredths of a percent
  -- (1000 = +10 %, -2500 = -25 %).
  price_adjustment int NOT NULL DEFAULT 0 CHECK (price_adjustment BETWEEN -9000 AND 100000),
  -- How a converted price is rounded (internal/markets): NONE (half up to
  -- the minor unit), WHOLE (up to a whole unit), END_99 (up to the next
  -- price ending in .99).
  rounding         text NOT NULL DEFAULT 'NONE' CHECK (rounding IN ('NONE', 'WHOLE', 'END_99')),
  -- The primary market sells at the catalog's base prices in the shop's
  -- currency (enforced by internal/markets); one per shop.
  is_primary       boolean NOT NULL DEFAULT false,
  enabled          boolean NOT NULL DEFAULT true,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, id),
  UNIQUE (shop_id, handle)
);
CREATE UNIQUE INDEX markets_primary_idx ON markets (shop_id) WHERE is_primary;

-- A country belongs to at most one market of its shop.
CREATE TABLE market_countries (
  shop_id   uuid NOT NULL,
  market_id uuid NOT NULL,
  country   char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
  position  int NOT NULL,
  PRIMARY KEY (shop_id, country),
  FOREIGN KEY (shop_id, market_id) REFERENCES markets (shop_id, id) ON DELETE CASCADE
);
CREATE INDEX market_countries_market_idx ON market_countries (shop_id, market_id, position);

-- Fixed prices of a market's price list, in the market's currency.
CREATE TABLE market_prices (
  shop_id           uuid NOT NULL,
  market_id         uuid NOT NULL,
  variant_id        uuid NOT NULL,
  amount            bigint NOT NULL CHECK (amount >= 0),
  compare_at_amount bigint CHECK (compare_at_amount IS NULL OR compare_at_amount >= 0),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, market_id, variant_id),
  FOREIGN KEY (shop_id, market_id) REFERENCES markets (shop_id, id) ON DELETE CASCADE,
  FOREIGN KEY (shop_id, variant_id) REFERENCES variants (shop_id, id) ON DELETE CASCADE
);

-- Every change of a rate is a new row; the newest per currency is in
-- force. rate_e10 is how many units of currency_code one unit of the
-- shop's currency buys, times 10^10 (0.92 EUR per USD = 9200000000).
CREATE TABLE exchange_rates (
  shop_id       uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  id            uuid NOT NULL DEFAULT uuid_generate_v7(),
  currency_code char(3) NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
  rate_e10      bigint NOT NULL CHECK (rate_e10 > 0),
  set_by        text NOT NULL,
  set_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (shop_id, id)
);
CREATE INDEX exchange_rates_current_idx ON exchange_rates (shop_id, currency_code, set_at DESC, id DESC);

-- The order's amounts are in its presentment currency (currency_code,
-- what was charged); these are the same figures in the shop's currency
-- at the rate used, so reports add up in one currency.
ALTER TABLE orders
  ADD COLUMN market_handle        text,
  ADD COLUMN shop_currency_code   char(3),
  ADD COLUMN exchange_rate_e10    bigint CHECK (exchange_rate_e10 > 0),
  ADD COLUMN shop_subtotal_amount bigint,
  ADD COLUMN shop_discount_amount bigint,
  ADD COLUMN shop_shipping_amount bigint,
  ADD COLUMN shop_tax_amount      bigint,
  ADD COLUMN shop_total_amount    bigint;
UPDATE orders SET shop_currency_code = currency_code, exchange_rate_e10 = 10000000000,
  shop_subtotal_amount = subtotal_amount, shop_discount_amount = discount_amount, shop_shipping_amount = shipping_amount,
  shop_tax_amount = tax_amount, shop_total_amount = total_amount;
ALTER TABLE orders
  ALTER COLUMN shop_currency_code SET NOT NULL,
  ALTER COLUMN exchange_rate_e10 SET NOT NULL,
  ALTER COLUMN shop_subtotal_amount SET NOT NULL,
  ALTER COLUMN shop_discount_amount SET NOT NULL,
  ALTER COLUMN shop_shipping_amount SET NOT NULL,
  ALTER COLUMN shop_tax_amount SET NOT NULL,
  ALTER COLUMN shop_total_amount SET NOT NULL;

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['markets', 'market_countries', 'market_prices', 'exchange_rates']
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

GRANT SELECT, INSERT, UPDATE, DELETE ON markets, market_countries, market_prices TO cartograph_app;
GRANT SELECT, INSERT ON exchange_rates TO cartograph_app;

-- +goose Down
ALTER TABLE orders DROP COLUMN market_handle, DROP COLUMN shop_currency_code, DROP COLUMN exchange_rate_e10,
  DROP COLUMN shop_subtotal_amount, DROP COLUMN shop_discount_amount, DROP COLUMN shop_shipping_amount,
  DROP COLUMN shop_tax_amount, DROP COLUMN shop_total_amount;
DROP TABLE exchange_rates, market_prices, market_countries, markets;
