-- Storefront catalog reads. Every query is scoped by shop_id and, for
-- products, to status 'active' (drafts and archived products are invisible to
-- storefronts). Batch queries take an id array (= ANY) so one statement serves
-- a whole dataloader batch.

-- name: ProductsByIDs :many
SELECT * FROM products
WHERE shop_id = @shop_id AND id = ANY(@ids::uuid[]) AND status = 'active';

-- name: ProductByHandle :one
SELECT * FROM products
WHERE shop_id = @shop_id AND handle = @handle AND status = 'active';

-- VariantsByProductIDs (the listing's variant batch) is read and decoded by
-- internal/catalog itself: variantscan.go.

-- name: VariantsByIDs :many
SELECT v.id, v.product_id, v.title, v.sku, v.position, v.option_names, v.option_values,
       v.price_amount, v.compare_at_amount, v.currency_code, v.weight_grams, v.image_id,
       (SELECT coalesce(sum(il.on_hand - il.reserved), 0) FROM inventory_levels il
        WHERE il.shop_id = v.shop_id AND il.variant_id = v.id)::int AS available
FROM variants v
JOIN products p ON p.shop_id = v.shop_id AND p.id = v.product_id AND p.status = 'active'
WHERE v.shop_id = @shop_id AND v.id = ANY(@ids::uuid[]);

-- name: ImagesByProductIDs :many
SELECT * FROM images
WHERE shop_id = @shop_id AND product_id = ANY(@product_ids::uuid[])
ORDER BY product_id, position;

-- name: ImagesByIDs :many
SELECT * FROM images WHERE shop_id = @shop_id AND id = ANY(@ids::uuid[]);

-- name: OptionsByProductIDs :many
SELECT * FROM product_options
WHERE shop_id = @shop_id AND product_id = ANY(@product_ids::uuid[])
ORDER BY product_id, position;

-- name: OptionsByIDs :many
SELECT * FROM product_options WHERE shop_id = @shop_id AND id = ANY(@ids::uuid[]);

-- name: CollectionsByIDs :many
SELECT * FROM collections WHERE shop_id = @shop_id AND id = ANY(@ids::uuid[]);

-- name: CollectionByHandle :one
SELECT * FROM collections WHERE shop_id = @shop_id AND handle = @handle;

-- name: CollectionIDsByProductIDs :many
SELECT cp.product_id, cp.collection_id
FROM collection_products cp
WHERE cp.shop_id = @shop_id AND cp.product_id = ANY(@product_ids::uuid[])
ORDER BY cp.product_id, cp.collection_id;

-- name: ProductRecommendations :many
-- Related = active, in stock, sharing a collection with the product; ordered
-- by the best (lowest) position it holds in any shared collection.
SELECT p.*
FROM products p
JOIN LATERAL (
  SELECT min(b.position) AS pos
  FROM collection_products a
  JOIN collection_products b ON b.shop_id = a.shop_id AND b.collection_id = a.collection_id
  WHERE a.shop_id = @shop_id AND a.product_id = @product_id AND b.product_id = p.id
) rel ON rel.pos IS NOT NULL
WHERE p.shop_id = @shop_id AND p.status = 'active' AND p.id <> @product_id
  AND EXISTS (
    SELECT 1 FROM variants v
    JOIN inventory_levels il ON il.shop_id = v.shop_id AND il.variant_id = v.id
    WHERE v.shop_id = p.shop_id AND v.product_id = p.id AND il.on_hand - il.reserved > 0)
ORDER BY rel.pos, p.id
LIMIT 10;
