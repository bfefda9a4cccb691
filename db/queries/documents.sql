-- name: APIPolicy :one
SELECT * FROM api_policies WHERE shop_id = $1;

-- name: APIPolicyUpsert :one
INSERT INTO api_policies (shop_id, trusted_documents_only, max_query_cost, cost_bucket_max, cost_restore_rate, allowed_origins)
VALUES (@shop_id, @trusted_documents_only, @max_query_cost, @cost_bucket_max, @cost_restore_rate, coalesce(sqlc.narg(allowed_origins)::text[], '{}'))
ON CONFLICT (shop_id) DO UPDATE SET
  trusted_documents_only = EXCLUDED.trusted_documents_only,
  max_query_cost = EXCLUDED.max_query_cost,
  cost_bucket_max = EXCLUDED.cost_bucket_max,
  cost_restore_rate = EXCLUDED.cost_restore_rate,
  allowed_origins = coalesce(sqlc.narg(allowed_origins)::text[], api_policies.allowed_origins),
  updated_at = now()
RETURNING *;

-- name: TrustedDocument :one
SELECT body FROM trusted_documents WHERE shop_id = $1 AND hash = $2;

-- name: TrustedDocumentsInsert :execrows
INSERT INTO trusted_documents (shop_id, hash, body, name)
SELECT @shop_id::uuid, t.h, t.b, nullif(t.n, '')
FROM unnest(@hashes::text[]) WITH ORDINALITY AS t0(h, i)
JOIN LATERAL (SELECT t0.h AS h, (@bodies::text[])[t0.i] AS b, (@names::text[])[t0.i] AS n) t ON true
ON CONFLICT (shop_id, hash) DO UPDATE SET name = coalesce(EXCLUDED.name, trusted_documents.name);

-- name: TrustedDocumentsDelete :execrows
DELETE FROM trusted_documents WHERE shop_id = @shop_id AND hash = ANY(@hashes::text[]);

-- name: TrustedDocumentsPage :many
SELECT hash, name, created_at, octet_length(body)::int AS size FROM trusted_documents
WHERE shop_id = @shop_id AND (@after::text = '' OR hash > @after)
ORDER BY hash LIMIT @lim;

-- name: TrustedDocumentHashes :many
SELECT hash FROM trusted_documents WHERE shop_id = $1;
