-- name: ShopByHandle :one
SELECT * FROM shops WHERE handle = $1;

-- name: ShopByDomain :one
SELECT * FROM shops WHERE custom_domain = $1;

-- name: ShopsByIDs :many
SELECT * FROM shops WHERE id = ANY(@ids::uuid[]);
