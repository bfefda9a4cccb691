-- Customers: written only by internal/customers. The password hash leaves
-- the database only through CustomerCredentialsByEmail (login).

-- name: CustomerCreate :one
INSERT INTO customers (shop_id, email, first_name, last_name, password_hash)
VALUES (@shop_id, @email, @first_name, @last_name, @password_hash)
RETURNING id, shop_id, email, first_name, last_name, created_at;

-- name: CustomerCredentialsByEmail :one
SELECT id, password_hash FROM customers WHERE shop_id = @shop_id AND lower(email) = lower(@email::text);

-- name: CustomersByIDs :many
SELECT id, shop_id, email, first_name, last_name, created_at FROM customers
WHERE shop_id = @shop_id AND id = ANY(@ids::uuid[]);

-- name: CustomersPage :many
SELECT id, shop_id, email, first_name, last_name, created_at FROM customers
WHERE shop_id = @shop_id AND (sqlc.narg('after_id')::uuid IS NULL OR id > sqlc.narg('after_id')::uuid)
ORDER BY id LIMIT @lim;
