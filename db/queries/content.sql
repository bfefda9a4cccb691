-- name: ContentEntry :one
SELECT * FROM content_entries WHERE shop_id = $1 AND kind = $2 AND parent_id = $3 AND handle = $4;

-- name: ContentEntryByID :one
SELECT * FROM content_entries WHERE shop_id = $1 AND kind = $2 AND id = $3;

-- name: ContentEntries :many
-- Every entry of a kind (bounded per shop by ContentCount at write time).
SELECT * FROM content_entries WHERE shop_id = $1 AND kind = $2 ORDER BY handle, parent_id;

-- name: ContentEntriesByParents :many
SELECT * FROM content_entries WHERE shop_id = @shop_id AND kind = @kind AND parent_id = ANY(@parents::uuid[]) ORDER BY handle;

-- name: ContentEntriesByIDs :many
SELECT * FROM content_entries WHERE shop_id = @shop_id AND kind = @kind AND id = ANY(@ids::uuid[]);

-- name: ContentCount :one
SELECT count(*) FROM content_entries WHERE shop_id = $1 AND kind = $2;

-- name: ContentUpsert :one
INSERT INTO content_entries (shop_id, kind, parent_id, handle, title, body, data, published_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (shop_id, kind, parent_id, handle) DO UPDATE SET
  title = EXCLUDED.title, body = EXCLUDED.body, data = EXCLUDED.data,
  published_at = coalesce(EXCLUDED.published_at, content_entries.published_at), updated_at = now()
RETURNING *;

-- name: ContentDelete :many
-- Deletes an entry and, for a blog, its articles; returns what was deleted.
WITH target AS (
  DELETE FROM content_entries c WHERE c.shop_id = $1 AND c.kind = $2 AND c.parent_id = $3 AND c.handle = $4 RETURNING c.id
), children AS (
  DELETE FROM content_entries c WHERE c.shop_id = $1 AND c.kind = 'article' AND $2 = 'blog' AND c.parent_id IN (SELECT id FROM target) RETURNING c.id
)
SELECT id FROM target UNION ALL SELECT id FROM children;
