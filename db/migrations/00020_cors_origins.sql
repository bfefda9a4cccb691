-- +goose Up
-- Browser origins a shop admits (CORS), in addition to the gateway's
-- ALLOWED_ORIGINS. Applied when the request's Host names the shop (its
-- custom domain or <handle>.<BASE_DOMAIN>): a preflight carries no key or
-- shop header. Never with credentials. Exact origins ("https://a.example",
-- lower case, no path) or "*".
ALTER TABLE api_policies ADD COLUMN allowed_origins text[] NOT NULL DEFAULT '{}'
  CHECK (cardinality(allowed_origins) <= 50);

-- +goose Down
ALTER TABLE api_policies DROP COLUMN allowed_origins;
