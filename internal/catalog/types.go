package catalog

import (
	"time"
	"unicode/utf8"

	"cartograph/internal/dbq"
	"cartograph/internal/money"
	"cartograph/internal/relay"

	"github.com/google/uuid"
)

// Product is an active storefront product. Scalar GraphQL fields are plain
// fields or context-free methods so gqlgen resolves them inline; edges to
// other rows (variants, images, …) go through dataloaders in the resolvers.
type Product struct{ dbq.Product }

// IsNode marks Product as implementing the GraphQL Node interface.
func (*Product) IsNode() {}

// NodeID is the product's global ID.
func (p *Product) NodeID() string { return relay.GlobalID("Product", p.ID) }

// AppendNodeID appends NodeID's text to dst (the response writer uses it:
// no string per id).
func (p *Product) AppendNodeID(dst []byte) []byte { return relay.AppendGlobalID(dst, "Product", p.ID) }

// PriceRange is the min/max variant price, kept on the row by a trigger.
func (p *Product) PriceRange() PriceRange {
	return PriceRange{
		MinVariantPrice: money.Money{Minor: p.PriceMin, Currency: p.CurrencyCode},
		MaxVariantPrice: money.Money{Minor: p.PriceMax, Currency: p.CurrencyCode},
	}
}

// Seo returns the product's search-engine metadata.
func (p *Product) Seo() SEO { return SEO{Title: p.SeoTitle, Description: p.SeoDescription} }

// PublishedAt is when the product became visible; products have no separate
// publication schedule yet, so it is the creation time.
func (p *Product) PublishedAt() time.Time { return p.CreatedAt }

// OnlineStoreURL is null: Cartograph is headless, there is no online store.
func (p *Product) OnlineStoreURL() *string { return nil }

// DescriptionText returns the plain-text description, cut at truncateAt
// runes (with an ellipsis) when given.
func (p *Product) DescriptionText(truncateAt *int) string { return truncate(p.Description, truncateAt) }

func truncate(s string, at *int) string {
	if at == nil || *at < 0 || utf8.RuneCountInString(s) <= *at {
		return s
	}
	r := []rune(s)
	return string(r[:*at]) + "…"
}

// PriceRange is the GraphQL ProductPriceRange.
type PriceRange struct {
	MinVariantPrice money.Money
	MaxVariantPrice money.Money
}

// SEO is search-engine metadata.
type SEO struct {
	Title       *string
	Description *string
}

// Variant is a product variant with its stock availability (on hand minus
// reserved over all warehouses).
type Variant struct {
	ID              uuid.UUID
	ProductID       uuid.UUID
	Title           string
	Sku             string
	Position        int32
	OptionNames     []string
	OptionValues    []string
	PriceAmount     int64
	CompareAtAmount *int64
	CurrencyCode    money.Currency
	WeightGrams     int32
	ImageID         *uuid.UUID
	Available       int32
	// selected is SelectedOptions made at scan time for a batch at once
	// (nil: made on each call).
	selected []SelectedOption
}

// IsNode marks Variant as implementing the GraphQL Node interface.
func (*Variant) IsNode() {}

// IsMerchandise marks Variant as a member of the GraphQL Merchandise union.
func (*Variant) IsMerchandise() {}

// NodeID is the variant's global ID.
func (v *Variant) NodeID() string { return relay.GlobalID("ProductVariant", v.ID) }

// AppendNodeID appends NodeID's text to dst (the response writer uses it:
// no string per id).
func (v *Variant) AppendNodeID(dst []byte) []byte {
	return relay.AppendGlobalID(dst, "ProductVariant", v.ID)
}

// StockKeepingUnit returns the SKU (GraphQL sku).
func (v *Variant) StockKeepingUnit() *string { return &v.Sku }

// AvailableForSale is true when stock is available.
func (v *Variant) AvailableForSale() bool { return v.Available > 0 }

// CurrentlyNotInStock is true when nothing is available.
func (v *Variant) CurrentlyNotInStock() bool { return v.Available <= 0 }

// QuantityAvailable is on hand minus reserved, never negative.
func (v *Variant) QuantityAvailable() *int {
	n := int(max(v.Available, 0))
	return &n
}

// SelectedOptions pairs option names with this variant's values.
func (v *Variant) SelectedOptions() []SelectedOption {
	if v.selected != nil && len(v.selected) == len(v.OptionNames) {
		return v.selected
	}
	out := make([]SelectedOption, len(v.OptionNames))
	for i := range v.OptionNames {
		out[i] = SelectedOption{Name: v.OptionNames[i], Value: v.OptionValues[i]}
	}
	return out
}

// Price is the unit price.
func (v *Variant) Price() money.Money {
	return money.Money{Minor: v.PriceAmount, Currency: v.CurrencyCode}
}

// CompareAtPrice is the "was" price, when set.
func (v *Variant) CompareAtPrice() *money.Money {
	if v.CompareAtAmount == nil {
		return nil
	}
	return &money.Money{Minor: *v.CompareAtAmount, Currency: v.CurrencyCode}
}

// Weight is the weight in grams.
func (v *Variant) Weight() *int {
	w := int(v.WeightGrams)
	return &w
}

// WeightUnit is always GRAMS: weights are stored as integer grams.
func (v *Variant) WeightUnit() string { return "GRAMS" }

// SelectedOption is an option name and value.
type SelectedOption struct {
	Name  string
	Value string
}

// Image is a product image.
type Image struct{ dbq.Image }

// NodeID is the image's global ID.
func (i *Image) NodeID() *string {
	if i.ID == uuid.Nil {
		return nil
	}
	s := relay.GlobalID("ProductImage", i.ID)
	return &s
}

// Option is a product option and its ordered values.
type Option struct{ dbq.ProductOption }

// IsNode marks Option as implementing the GraphQL Node interface.
func (*Option) IsNode() {}

// NodeID is the option's global ID.
func (o *Option) NodeID() string { return relay.GlobalID("ProductOption", o.ID) }

// AppendNodeID appends NodeID's text to dst (the response writer uses it:
// no string per id).
func (o *Option) AppendNodeID(dst []byte) []byte {
	return relay.AppendGlobalID(dst, "ProductOption", o.ID)
}

// Collection is a merchant-ordered group of products.
type Collection struct{ dbq.Collection }

// IsNode marks Collection as implementing the GraphQL Node interface.
func (*Collection) IsNode() {}

// NodeID is the collection's global ID.
func (c *Collection) NodeID() string { return relay.GlobalID("Collection", c.ID) }

// AppendNodeID appends NodeID's text to dst (the response writer uses it:
// no string per id).
func (c *Collection) AppendNodeID(dst []byte) []byte {
	return relay.AppendGlobalID(dst, "Collection", c.ID)
}

// Seo returns search-engine metadata.
func (c *Collection) Seo() SEO { return SEO{Title: c.SeoTitle, Description: c.SeoDescription} }

// DescriptionText returns the plain-text description, optionally truncated.
func (c *Collection) DescriptionText(truncateAt *int) string {
	return truncate(c.Description, truncateAt)
}

// Image is the collection's image, when it has one.
func (c *Collection) Image() *Image {
	if c.ImageUrl == nil {
		return nil
	}
	return &Image{dbq.Image{Url: *c.ImageUrl}}
}

// ProductEdge is an edge of a ProductConnection.
type ProductEdge struct {
	Cursor string
	Node   *Product
}

// ProductConnection is a page of products.
type ProductConnection struct {
	Edges    []ProductEdge
	PageInfo relay.PageInfo
}

// Nodes lists the page's products.
func (c *ProductConnection) Nodes() []*Product {
	return relay.Nodes(c.Edges, func(e *ProductEdge) *Product { return e.Node })
}

// VariantEdge is an edge of a VariantConnection.
type VariantEdge struct {
	Node *Variant
}

// Cursor is the edge's cursor (VariantPage's "V" key), encoded only when
// a query asks for it.
func (e *VariantEdge) Cursor() string { return relay.EncodeIDCursor(variantCursorKey, e.Node.ID) }

// VariantConnection is a page of a product's variants.
type VariantConnection struct {
	Edges    []VariantEdge
	PageInfo relay.PageInfo
}

// Nodes lists the page's variants.
func (c *VariantConnection) Nodes() []*Variant {
	return relay.Nodes(c.Edges, func(e *VariantEdge) *Variant { return e.Node })
}

// ImageEdge is an edge of an ImageConnection.
type ImageEdge struct {
	Node *Image
}

// Cursor is the edge's cursor (ImagePage's "I" key), encoded only when a
// query asks for it.
func (e *ImageEdge) Cursor() string { return relay.EncodeIDCursor(imageCursorKey, e.Node.ID) }

// ImageConnection is a page of a product's images.
type ImageConnection struct {
	Edges    []ImageEdge
	PageInfo relay.PageInfo
}

// Nodes lists the page's images.
func (c *ImageConnection) Nodes() []*Image {
	return relay.Nodes(c.Edges, func(e *ImageEdge) *Image { return e.Node })
}

// CollectionEdge is an edge of a CollectionConnection.
type CollectionEdge struct {
	Cursor string
	Node   *Collection
}

// CollectionConnection is a page of collections.
type CollectionConnection struct {
	Edges    []CollectionEdge
	PageInfo relay.PageInfo
}

// Nodes lists the page's collections.
func (c *CollectionConnection) Nodes() []*Collection {
	return relay.Nodes(c.Edges, func(e *CollectionEdge) *Collection { return e.Node })
}

// AnyAvailable reports whether any variant has stock available.
func AnyAvailable(vs []*Variant) bool {
	for _, v := range vs {
		if v.Available > 0 {
			return true
		}
	}
	return false
}

// TotalAvailable sums available stock over variants (negatives count as 0).
func TotalAvailable(vs []*Variant) int {
	n := 0
	for _, v := range vs {
		n += int(max(v.Available, 0))
	}
	return n
}

// CompareAtRange is the min/max compare-at price over variants; variants
// without one count with their price (as Shopify does).
func CompareAtRange(vs []*Variant, cur money.Currency) PriceRange {
	var lo, hi int64
	for i, v := range vs {
		a := v.PriceAmount
		if v.CompareAtAmount != nil {
			a = *v.CompareAtAmount
		}
		if i == 0 || a < lo {
			lo = a
		}
		if a > hi {
			hi = a
		}
	}
	return PriceRange{MinVariantPrice: money.Money{Minor: lo, Currency: cur}, MaxVariantPrice: money.Money{Minor: hi, Currency: cur}}
}

// Compact drops nil entries (unknown keys of a batch load).
func Compact[T any](in []*T) []*T {
	out := make([]*T, 0, len(in))
	for _, v := range in {
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}
