package seed

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	bulkCollections           = 5
	bulkProductsPerCollection = 100
	bulkImagesPerProduct      = 2
)

var (
	bulkSizes       = []string{"S", "M", "L", "XL"}
	bulkSizeExtra   = []int64{0, 0, 100, 300} // minor units added per size
	bulkOptionNames = []string{"Size"}
	bulkAdjectives  = []string{"Classic", "Urban", "Alpine", "Coastal", "Vintage", "Modern", "Rugged", "Everyday", "Studio", "Nordic"}
	bulkNouns       = []string{"Jacket", "Tee", "Hoodie", "Sneaker", "Backpack", "Cap", "Sweater", "Shorts", "Scarf", "Watch", "Lamp", "Mug"}
	bulkTypes       = []string{"Tops", "Bottoms", "Outerwear", "Footwear", "Accessories", "Home"}
	bulkVendors     = []string{"Acme", "Globex", "Initech", "Umbrella", "Stark Goods", "Wayne Supply", "Hooli"}
	bulkTags        = [][]string{{"bench"}, {"bench", "sale"}, {"bench", "new"}, {"bench", "bestseller"}, {"bench", "new", "sale"}}
)

// Bulk creates shops synthetic benchmark shops, handles "bench-1" through
// "bench-<shops>" (USD, no custom domain), splitting products between them
// (ceil(products/shops) each). Every product is active and has four "Size"
// variants (S, M, L, XL, skus "B<n>-<size>"), two images and stock in the
// shop's single warehouse; each shop also gets five collections of up to 100
// products. It is called by the `cartograph seed --bulk` command, load tests
// and benchmarks. Shops whose handle already exists are skipped. Rows are
// written with COPY, one transaction per shop.
func Bulk(ctx context.Context, db *pgxpool.Pool, products, shops int) error {
	if shops <= 0 {
		return errors.New("seed: bulk needs at least one shop")
	}
	if products < 0 {
		return errors.New("seed: bulk product count must not be negative")
	}
	perShop := (products + shops - 1) / shops
	now := time.Now().UTC().Truncate(time.Millisecond)
	for s := 1; s <= shops; s++ {
		handle := "bench-" + strconv.Itoa(s)
		exists, err := shopExists(ctx, db, handle)
		if err != nil {
			return err
		}
		if exists {
			continue
		}
		c, err := buildBulk(handle, s, perShop, now)
		if err != nil {
			return err
		}
		if err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			_, err := c.write(ctx, tx)
			return err
		}); err != nil {
			return fmt.Errorf("seed: bulk shop %q: %w", handle, err)
		}
	}
	return nil
}

// buildBulk generates the rows of one benchmark shop with n products.
func buildBulk(handle string, shopNo, n int, now time.Time) (*catalog, error) {
	var g idGen
	c := &catalog{
		shop: shopRow{
			id: g.next(), handle: handle,
			name:     "Bench Shop " + strconv.Itoa(shopNo),
			currency: "USD",
		},
		products: make([]productRow, n),
		options:  make([]optionRow, n),
		images:   make([]imageRow, 0, n*bulkImagesPerProduct),
		variants: make([]variantRow, 0, n*len(bulkSizes)),
	}
	wh := warehouseRow{id: g.next(), name: "Main warehouse", priority: 0}
	c.warehouses = []warehouseRow{wh}
	c.inventory = make([]inventoryRow, 0, n*len(bulkSizes))

	sizeValues := make([][]string, len(bulkSizes))
	for i, s := range bulkSizes {
		sizeValues[i] = []string{s}
	}
	const cdn = "https://cdn.cartograph.dev/bench/"

	for i := range n {
		num := i + 1
		ns := strconv.Itoa(num)
		title := bulkAdjectives[(i/len(bulkNouns))%len(bulkAdjectives)] + " " + bulkNouns[i%len(bulkNouns)] + " " + ns
		p := &c.products[i]
		*p = productRow{
			id: g.next(), handle: "product-" + ns, title: title,
			description:     "Benchmark product " + ns + ".",
			descriptionHTML: "<p>Benchmark product " + ns + ".</p>",
			status:          "active",
			productType:     bulkTypes[i%len(bulkTypes)],
			vendor:          bulkVendors[i%len(bulkVendors)],
			tags:            bulkTags[i%len(bulkTags)],
			// Newest first by number, one second apart: deterministic sorts.
			createdAt: now.Add(-time.Duration(num) * time.Second),
			updatedAt: now.Add(-time.Duration((i*7)%n+1) * time.Second),
		}
		c.options[i] = optionRow{id: g.next(), productID: p.id, name: "Size", position: 1, values: bulkSizes}

		firstImage := g.next()
		for k := range bulkImagesPerProduct {
			id := firstImage
			if k > 0 {
				id = g.next()
			}
			c.images = append(c.images, imageRow{
				id: id, productID: p.id,
				url:   cdn + handle + "/product-" + ns + "-" + strconv.Itoa(k+1) + ".jpg",
				width: 1200, height: 1600, position: int32(k + 1),
			})
		}

		base := int64(500 + (i*7919)%20000)
		for s, size := range bulkSizes {
			v := variantRow{
				id: g.next(), productID: p.id,
				title: size, sku: "B" + ns + "-" + size, position: int32(s + 1),
				optionNames: bulkOptionNames, optionValues: sizeValues[s],
				price: base + bulkSizeExtra[s], weightGrams: int32(200 + 50*s),
			}
			if i%5 == 0 {
				v.compareAt = ptr(v.price + v.price/5)
			}
			if s == 0 {
				v.imageID = &firstImage
			}
			c.variants = append(c.variants, v)
			c.inventory = append(c.inventory, inventoryRow{
				variantID: v.id, warehouseID: wh.id, onHand: int32((i*31 + s*7) % 40),
			})
		}
	}

	for k := range bulkCollections {
		kn := strconv.Itoa(k + 1)
		col := collectionRow{
			id: g.next(), handle: "collection-" + kn, title: "Bench Collection " + kn,
			description:     "Benchmark collection " + kn + ".",
			descriptionHTML: "<p>Benchmark collection " + kn + ".</p>",
			createdAt:       now.Add(-time.Duration(k+1) * time.Hour),
			updatedAt:       now.Add(-time.Duration(k+1) * time.Minute),
		}
		c.collections = append(c.collections, col)
		// Distinct products: offsets (k*20 + j) mod n for j < min(100, n).
		for j := range min(bulkProductsPerCollection, n) {
			c.collectionProducts = append(c.collectionProducts, collectionProductRow{
				collectionID: col.id, productID: c.products[(k*20+j)%n].id, position: int32(j + 1),
			})
		}
	}
	if g.err != nil {
		return nil, g.err
	}
	return c, nil
}
