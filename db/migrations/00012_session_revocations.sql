-- +goose Up
-- Durable logout: a customer session token id (jti) logged out stays
-- refused after a Redis restart. Rows are needed only until the token
-- would have expired; internal/auth purges expired rows.
CREATE TABLE session_revocations (
  shop_id    uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  jti        text NOT NULL CHECK (length(jti) BETWEEN 1 AND 128),
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, jti)
);
CREATE INDEX session_revocations_expiry_idx ON session_revocations (shop_id, expires_at);

ALTER TABLE session_revocations ENABLE ROW LEVEL SECURITY;
ALTER TABLE session_revocations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON session_revocations
  USING (shop_id = nullif(current_setting('app.shop_id', true), '')::uuid)
  WITH CHECK (shop_id = nullif(current_setting('app.shop_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON session_revocations TO cartograph_app;

-- +goose Down
DROP TABLE session_revocations;
