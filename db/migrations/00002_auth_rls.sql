-- +goose Up
-- Tenancy and auth: the application role, staff, customers, API keys and
-- row-level security on every tenant table.

-- +goose StatementBegin
-- cartograph_app is the role the gateway connects as: not the owner of any
-- table and without BYPASSRLS, so the policies below always apply to it.
-- Roles are cluster-wide; several databases (tests) may race to create it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cartograph_app') THEN
    BEGIN
      CREATE ROLE cartograph_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
END
$$;
-- +goose StatementEnd

-- Staff users are global (one person may own several shops); what they may
-- do is per shop, in staff_memberships.
CREATE TABLE staff_users (
  id            uuid PRIMARY KEY DEFAULT uuid_generate_v7(),
  email         text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
  name          text NOT NULL DEFAULT '',
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (email)
);

CREATE TABLE staff_memberships (
  shop_id    uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  staff_id   uuid NOT NULL REFERENCES staff_users(id) ON DELETE CASCADE,
  role       text NOT NULL CHECK (role IN ('owner', 'staff')),
  scopes     text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, staff_id)
);

CREATE TABLE staff_refresh_tokens (
  shop_id    uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  id         uuid NOT NULL DEFAULT uuid_generate_v7(),
  staff_id   uuid NOT NULL REFERENCES staff_users(id) ON DELETE CASCADE,
  token_hash bytea NOT NULL,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, id),
  UNIQUE (shop_id, token_hash)
);

-- Customers belong to ONE shop: the same email at two shops is two people.
CREATE TABLE customers (
  shop_id       uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  id            uuid NOT NULL DEFAULT uuid_generate_v7(),
  email         text NOT NULL CHECK (email LIKE '%_@_%'),
  first_name    text NOT NULL DEFAULT '',
  last_name     text NOT NULL DEFAULT '',
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, id)
);
CREATE UNIQUE INDEX customers_email_idx ON customers (shop_id, lower(email));
CREATE INDEX customers_created_idx ON customers (shop_id, created_at, id);

CREATE TABLE api_keys (
  shop_id      uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  id           uuid NOT NULL DEFAULT uuid_generate_v7(),
  kind         text NOT NULL CHECK (kind IN ('public', 'secret')),
  name         text NOT NULL DEFAULT '',
  -- First characters of the key, for display; the key itself is never stored.
  display_prefix text NOT NULL,
  key_hash     bytea NOT NULL CHECK (length(key_hash) = 32),
  scopes       text[] NOT NULL,
  rate_limit   int NOT NULL CHECK (rate_limit > 0),
  expires_at   timestamptz,
  revoked_at   timestamptz,
  created_by   uuid REFERENCES staff_users(id) ON DELETE SET NULL,
  last_used_at timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, id)
);
CREATE INDEX api_keys_created_idx ON api_keys (shop_id, created_at, id);

-- api_key_index maps a key's hash to its shop before the shop is known (the
-- key is what names the shop). It holds hashes and ids only, no tenant data,
-- so it is the one global lookup the application role may read freely.
CREATE TABLE api_key_index (
  key_hash bytea PRIMARY KEY CHECK (length(key_hash) = 32),
  shop_id  uuid NOT NULL,
  key_id   uuid NOT NULL,
  FOREIGN KEY (shop_id, key_id) REFERENCES api_keys (shop_id, id) ON DELETE CASCADE
);

-- +goose StatementBegin
-- Row-level security on every tenant table: a row is visible and writable
-- only when its shop_id equals the transaction's app.shop_id setting (set by
-- internal/pg in the same round trip as each query). FORCE makes it apply to
-- the table owner too; only superusers and BYPASSRLS roles skip it, and the
-- application role is neither.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['products', 'product_options', 'images', 'variants', 'collections',
    'collection_products', 'warehouses', 'inventory_levels', 'staff_memberships',
    'staff_refresh_tokens', 'customers', 'api_keys']
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

GRANT USAGE ON SCHEMA public TO cartograph_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO cartograph_app;
REVOKE INSERT, UPDATE, DELETE ON shops FROM cartograph_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO cartograph_app;

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['products', 'product_options', 'images', 'variants', 'collections',
    'collection_products', 'warehouses', 'inventory_levels']
  LOOP
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', t);
    EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
  END LOOP;
END
$$;
-- +goose StatementEnd
DROP TABLE api_key_index, api_keys, customers, staff_refresh_tokens, staff_memberships, staff_users;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM cartograph_app;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM cartograph_app;
REVOKE USAGE ON SCHEMA public FROM cartograph_app;
