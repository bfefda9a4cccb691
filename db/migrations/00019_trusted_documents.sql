-- +goose Up
-- A shop's API policy: trusted-documents-only mode and its own query-cost
-- limits (null: the gateway's configured defaults). One row per shop at
-- most; no row means the defaults.
CREATE TABLE api_policies (
  shop_id                uuid PRIMARY KEY REFERENCES shops(id) ON DELETE CASCADE,
  trusted_documents_only boolean NOT NULL DEFAULT false,
  max_query_cost         int CHECK (max_query_cost IS NULL OR max_query_cost > 0),
  cost_bucket_max        int CHECK (cost_bucket_max IS NULL OR cost_bucket_max > 0),
  cost_restore_rate      int CHECK (cost_restore_rate IS NULL OR cost_restore_rate > 0),
  updated_at             timestamptz NOT NULL DEFAULT now()
);

-- Documents a shop has registered (trusted documents / persisted-query
-- manifest): addressed by the sha256 of their text.
CREATE TABLE trusted_documents (
  shop_id    uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  hash       text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  body       text NOT NULL CHECK (body <> '' AND octet_length(body) <= 65536),
  name       text CHECK (name IS NULL OR length(name) <= 255),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, hash)
);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['api_policies', 'trusted_documents']
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

GRANT SELECT, INSERT, UPDATE, DELETE ON api_policies, trusted_documents TO cartograph_app;

-- +goose Down
DROP TABLE trusted_documents, api_policies;
