-- +goose Up
-- A shop's online-store content (Storefront API menus, pages, blogs,
-- articles, policies and brand), edited by staff (content:write). One
-- table: every kind is a handle-addressed entry with a title, an HTML
-- body and kind-specific fields in data; articles point at their blog.
CREATE TABLE content_entries (
  shop_id      uuid NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  id           uuid NOT NULL DEFAULT gen_random_uuid(),
  kind         text NOT NULL CHECK (kind IN ('menu', 'page', 'blog', 'article', 'policy', 'brand')),
  parent_id    uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
  handle       text NOT NULL CHECK (handle ~ '^[a-z0-9][a-z0-9-]{0,254}$'),
  title        text NOT NULL DEFAULT '' CHECK (length(title) <= 255),
  body         text NOT NULL DEFAULT '' CHECK (octet_length(body) <= 262144),
  data         jsonb NOT NULL DEFAULT '{}' CHECK (octet_length(data::text) <= 65536),
  published_at timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, id)
);
CREATE UNIQUE INDEX content_entries_handle ON content_entries (shop_id, kind, parent_id, handle);

ALTER TABLE content_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE content_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON content_entries
  USING (shop_id = nullif(current_setting('app.shop_id', true), '')::uuid)
  WITH CHECK (shop_id = nullif(current_setting('app.shop_id', true), '')::uuid);

GRANT SELECT, INSERT, UPDATE, DELETE ON content_entries TO cartograph_app;

-- +goose Down
DROP TABLE content_entries;
