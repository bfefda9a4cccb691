-- Auth: staff, customers, API keys. Tenant tables are read through
-- pg.Tenant (row-level security); staff_users and api_key_index are global.

-- name: StaffByEmail :one
SELECT * FROM staff_users WHERE email = lower(@email::text);

-- name: StaffCreate :one
INSERT INTO staff_users (email, name, password_hash) VALUES (lower(@email::text), @name, @password_hash)
ON CONFLICT (email) DO UPDATE SET name = staff_users.name
RETURNING *;

-- name: MembershipGet :one
SELECT * FROM staff_memberships WHERE shop_id = @shop_id AND staff_id = @staff_id;

-- name: MembershipUpsert :exec
INSERT INTO staff_memberships (shop_id, staff_id, role, scopes) VALUES (@shop_id, @staff_id, @role, @scopes)
ON CONFLICT (shop_id, staff_id) DO UPDATE SET role = EXCLUDED.role, scopes = EXCLUDED.scopes;

-- name: RefreshTokenCreate :exec
INSERT INTO staff_refresh_tokens (shop_id, staff_id, token_hash, expires_at) VALUES (@shop_id, @staff_id, @token_hash, @expires_at);

-- name: RefreshTokenUse :one
-- Rotation: a refresh token works once; using it revokes it.
UPDATE staff_refresh_tokens SET revoked_at = now()
WHERE shop_id = @shop_id AND token_hash = @token_hash AND revoked_at IS NULL AND expires_at > now()
RETURNING staff_id;

-- name: APIKeyCreate :one
INSERT INTO api_keys (shop_id, kind, name, display_prefix, key_hash, scopes, rate_limit, expires_at, created_by, cost_limit)
VALUES (@shop_id, @kind, @name, @display_prefix, @key_hash, @scopes, @rate_limit, @expires_at, @created_by, sqlc.narg('cost_limit'))
RETURNING id, shop_id, kind, name, display_prefix, scopes, rate_limit, expires_at, revoked_at, created_by, created_at, last_used_at, cost_limit;

-- name: APIKeyIndexInsert :exec
INSERT INTO api_key_index (key_hash, shop_id, key_id) VALUES (@key_hash, @shop_id, @key_id);

-- name: APIKeyIndexLookup :one
SELECT shop_id, key_id FROM api_key_index WHERE key_hash = @key_hash;

-- name: APIKeyByID :one
SELECT id, shop_id, kind, name, display_prefix, scopes, rate_limit, expires_at, revoked_at, created_by, created_at, last_used_at, cost_limit FROM api_keys WHERE shop_id = @shop_id AND id = @id;

-- name: APIKeysPage :many
SELECT id, shop_id, kind, name, display_prefix, scopes, rate_limit, expires_at, revoked_at, created_by, created_at, last_used_at, cost_limit FROM api_keys
WHERE shop_id = @shop_id AND (sqlc.narg('after_id')::uuid IS NULL OR id > sqlc.narg('after_id')::uuid)
ORDER BY id LIMIT @lim;

-- name: APIKeyRevoke :one
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
WHERE shop_id = @shop_id AND id = @id
RETURNING key_hash, id, shop_id, kind, name, display_prefix, scopes, rate_limit, expires_at, revoked_at, created_by, created_at, last_used_at, cost_limit;

-- name: APIKeysTouch :exec
UPDATE api_keys k SET last_used_at = greatest(k.last_used_at, u.t)
FROM (SELECT unnest(@ids::uuid[]) AS id, unnest(@times::timestamptz[]) AS t) u
WHERE k.shop_id = @shop_id AND k.id = u.id;

-- name: APIKeyShop :one
SELECT shop_id FROM api_key_index WHERE key_id = @key_id;
