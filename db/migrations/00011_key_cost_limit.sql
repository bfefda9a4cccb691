-- +goose Up
-- A key's own query-cost budget (points; null: the configured default),
-- e.g. a server-side storefront that renders for every shopper from one IP.
ALTER TABLE api_keys ADD COLUMN cost_limit int CHECK (cost_limit IS NULL OR cost_limit > 0);

-- +goose Down
ALTER TABLE api_keys DROP COLUMN cost_limit;
