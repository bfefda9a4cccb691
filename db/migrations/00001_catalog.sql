-- +goose Up
-- Catalog foundation: shops (tenants) and their catalog, stock and warehouses.
-- Every tenant table carries shop_id, every index (the primary key included)
-- starts with shop_id, and cross-table references include shop_id so a row can
-- never point at another shop's row.

-- +goose StatementBegin
-- uuid_generate_v7 returns a time-ordered UUID (RFC 9562 version 7): 48 bits of
-- Unix milliseconds followed by random bits. Time order keeps b-tree inserts
-- local; the application normally generates ids itself (google/uuid NewV7).
CREATE FUNCTION uuid_generate_v7() RETURNS uuid
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  b bytea := uuid_send(gen_random_uuid());
  ms bigint := floor(extract(epoch FROM clock_timestamp()) * 1000);
BEGIN
  b := overlay(b PLACING substring(int8send(ms) FROM 3) FROM 1 FOR 6);
  -- version nibble 0111, variant bits 10 are already set by gen_random_uuid.
  b := set_byte(b, 6, (get_byte(b, 6) & 15) | 112);
  RETURN encode(b, 'hex')::uuid;
END
$$;
-- +goose StatementEnd

CREATE TYPE product_status AS ENUM ('draft', 'active', 'archived');

CREATE TABLE shops (
  id             uuid PRIMARY KEY DEFAULT uuid_generate_v7(),
  handle         text NOT NULL UNIQUE CHECK (handle ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name           text NOT NULL,
  custom_domain  text UNIQUE CHECK (custom_domain = lower(custom_domain)),
  currency_code  char(3) NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
  shop_id          uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  id               uuid NOT NULL DEFAULT uuid_generate_v7(),
  handle           text NOT NULL CHECK (handle <> ''),
  title            text NOT NULL CHECK (title <> ''),
  description      text NOT NULL DEFAULT '',
  description_html text NOT NULL DEFAULT '',
  status           product_status NOT NULL DEFAULT 'draft',
  product_type     text NOT NULL DEFAULT '',
  vendor           text NOT NULL DEFAULT '',
  tags             text[] NOT NULL DEFAULT '{}',
  seo_title        text,
  seo_description  text,
  attributes       jsonb NOT NULL DEFAULT '{}',
  currency_code    char(3) NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
  -- Denormalised from variants by statement-level triggers (below) so that
  -- price sorting and price filters are index-backed; integer minor units.
  price_min        bigint NOT NULL DEFAULT 0 CHECK (price_min >= 0),
  price_max        bigint NOT NULL DEFAULT 0 CHECK (price_max >= price_min),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, id),
  UNIQUE (shop_id, handle)
);
-- Keyset indexes for the storefront sort keys (active products only).
CREATE INDEX products_created_idx ON products (shop_id, created_at, id) WHERE status = 'active';
CREATE INDEX products_updated_idx ON products (shop_id, updated_at, id) WHERE status = 'active';
CREATE INDEX products_title_idx   ON products (shop_id, title, id)      WHERE status = 'active';
CREATE INDEX products_price_idx   ON products (shop_id, price_min, id)  WHERE status = 'active';
CREATE INDEX products_type_idx    ON products (shop_id, product_type, id) WHERE status = 'active';
CREATE INDEX products_vendor_idx  ON products (shop_id, vendor, id)     WHERE status = 'active';

CREATE TABLE product_options (
  shop_id    uuid NOT NULL,
  id         uuid NOT NULL DEFAULT uuid_generate_v7(),
  product_id uuid NOT NULL,
  name       text NOT NULL CHECK (name <> ''),
  position   int  NOT NULL,
  "values"   text[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (shop_id, id),
  UNIQUE (shop_id, product_id, position),
  UNIQUE (shop_id, product_id, name),
  FOREIGN KEY (shop_id, product_id) REFERENCES products (shop_id, id) ON DELETE CASCADE
);

CREATE TABLE images (
  shop_id    uuid NOT NULL,
  id         uuid NOT NULL DEFAULT uuid_generate_v7(),
  product_id uuid NOT NULL,
  url        text NOT NULL CHECK (url <> ''),
  alt_text   text,
  width      int CHECK (width > 0),
  height     int CHECK (height > 0),
  position   int NOT NULL,
  PRIMARY KEY (shop_id, id),
  UNIQUE (shop_id, product_id, position),
  FOREIGN KEY (shop_id, product_id) REFERENCES products (shop_id, id) ON DELETE CASCADE
);

CREATE TABLE variants (
  shop_id           uuid NOT NULL,
  id                uuid NOT NULL DEFAULT uuid_generate_v7(),
  product_id        uuid NOT NULL,
  title             text NOT NULL CHECK (title <> ''),
  sku               text NOT NULL CHECK (sku <> ''),
  position          int  NOT NULL,
  -- Parallel arrays: option_values[i] is the value for option_names[i].
  option_names      text[] NOT NULL DEFAULT '{}',
  option_values     text[] NOT NULL DEFAULT '{}',
  price_amount      bigint NOT NULL CHECK (price_amount >= 0),
  compare_at_amount bigint CHECK (compare_at_amount >= 0),
  currency_code     char(3) NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
  weight_grams      int NOT NULL DEFAULT 0 CHECK (weight_grams >= 0),
  image_id          uuid,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, id),
  UNIQUE (shop_id, sku),
  UNIQUE (shop_id, product_id, position),
  CHECK (cardinality(option_names) = cardinality(option_values)),
  FOREIGN KEY (shop_id, product_id) REFERENCES products (shop_id, id) ON DELETE CASCADE,
  FOREIGN KEY (shop_id, image_id) REFERENCES images (shop_id, id) ON DELETE SET NULL (image_id)
);

CREATE TABLE collections (
  shop_id          uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  id               uuid NOT NULL DEFAULT uuid_generate_v7(),
  handle           text NOT NULL CHECK (handle <> ''),
  title            text NOT NULL CHECK (title <> ''),
  description      text NOT NULL DEFAULT '',
  description_html text NOT NULL DEFAULT '',
  seo_title        text,
  seo_description  text,
  image_url        text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, id),
  UNIQUE (shop_id, handle)
);
CREATE INDEX collections_title_idx   ON collections (shop_id, title, id);
CREATE INDEX collections_updated_idx ON collections (shop_id, updated_at, id);

CREATE TABLE collection_products (
  shop_id       uuid NOT NULL,
  collection_id uuid NOT NULL,
  product_id    uuid NOT NULL,
  position      int  NOT NULL,
  PRIMARY KEY (shop_id, collection_id, product_id),
  UNIQUE (shop_id, collection_id, position),
  FOREIGN KEY (shop_id, collection_id) REFERENCES collections (shop_id, id) ON DELETE CASCADE,
  FOREIGN KEY (shop_id, product_id) REFERENCES products (shop_id, id) ON DELETE CASCADE
);
CREATE INDEX collection_products_product_idx ON collection_products (shop_id, product_id);

CREATE TABLE warehouses (
  shop_id    uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  id         uuid NOT NULL DEFAULT uuid_generate_v7(),
  name       text NOT NULL CHECK (name <> ''),
  -- Lower priority is drawn from first when stock is reserved.
  priority   int NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, id),
  UNIQUE (shop_id, name)
);

CREATE TABLE inventory_levels (
  shop_id      uuid NOT NULL,
  variant_id   uuid NOT NULL,
  warehouse_id uuid NOT NULL,
  on_hand      int NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
  reserved     int NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, variant_id, warehouse_id),
  -- Stock can never be promised twice: reservations never exceed what is on hand.
  CHECK (reserved <= on_hand),
  FOREIGN KEY (shop_id, variant_id) REFERENCES variants (shop_id, id) ON DELETE CASCADE,
  FOREIGN KEY (shop_id, warehouse_id) REFERENCES warehouses (shop_id, id) ON DELETE CASCADE
);
CREATE INDEX inventory_levels_warehouse_idx ON inventory_levels (shop_id, warehouse_id);

-- +goose StatementBegin
-- refresh_product_prices recomputes the denormalised price range of the
-- products whose variants a statement touched (one UPDATE per statement, so a
-- bulk import of 200k variants costs one pass, not 200k).
CREATE FUNCTION refresh_product_prices() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    UPDATE products p SET price_min = coalesce(r.mn, 0), price_max = coalesce(r.mx, 0)
    FROM (SELECT DISTINCT o.shop_id, o.product_id,
                 (SELECT min(v.price_amount) FROM variants v WHERE v.shop_id = o.shop_id AND v.product_id = o.product_id) AS mn,
                 (SELECT max(v.price_amount) FROM variants v WHERE v.shop_id = o.shop_id AND v.product_id = o.product_id) AS mx
          FROM old_rows o) r
    WHERE p.shop_id = r.shop_id AND p.id = r.product_id;
  ELSE
    UPDATE products p SET price_min = r.mn, price_max = r.mx
    FROM (SELECT DISTINCT n.shop_id, n.product_id,
                 (SELECT min(v.price_amount) FROM variants v WHERE v.shop_id = n.shop_id AND v.product_id = n.product_id) AS mn,
                 (SELECT max(v.price_amount) FROM variants v WHERE v.shop_id = n.shop_id AND v.product_id = n.product_id) AS mx
          FROM new_rows n) r
    WHERE p.shop_id = r.shop_id AND p.id = r.product_id
      AND (p.price_min, p.price_max) IS DISTINCT FROM (r.mn, r.mx);
  END IF;
  RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER variants_prices_ins AFTER INSERT ON variants
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION refresh_product_prices();
CREATE TRIGGER variants_prices_upd AFTER UPDATE ON variants
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION refresh_product_prices();
CREATE TRIGGER variants_prices_del AFTER DELETE ON variants
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION refresh_product_prices();

-- +goose Down
DROP TABLE inventory_levels, warehouses, collection_products, collections,
  variants, images, product_options, products, shops;
DROP FUNCTION refresh_product_prices();
DROP TYPE product_status;
DROP FUNCTION uuid_generate_v7();
