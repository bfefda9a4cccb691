package catalog

import (
	"cartograph/internal/dbq"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Test hooks for variantscan.go.
var VariantsByProductIDsSQL = variantsByProductIDsSQL

// ScanVariants is scanVariants, its blocks flattened.
func ScanVariants(rows pgx.Rows) ([]Variant, error) {
	vr, err := scanVariants(rows)
	out := make([]Variant, vr.n)
	for i := range out {
		out[i] = *vr.at(i)
	}
	return out, err
}

// GroupInKeyOrder is groupInKeyOrder.
func GroupInKeyOrder[T any](ids []uuid.UUID, items []T, key func(*T) uuid.UUID) [][]*T {
	return groupInKeyOrder(ids, items, key)
}

// DecodeVariantRow runs the raw decoder on one row of column values.
func DecodeVariantRow(cols [][]byte) (Variant, error) {
	var a rowArena
	var v Variant
	err := a.variant(&v, cols)
	return v, err
}

// ProductPageColumns is the column list of a product page statement.
const ProductPageColumns = productColumns

// ScanProductPage is scanProductRows: the products and their sort values.
func ScanProductPage(rows pgx.Rows) ([]dbq.Product, []string, error) {
	rs, err := scanProductRows(rows, 0)
	ps, sorts := make([]dbq.Product, len(rs)), make([]string, len(rs))
	for i, r := range rs {
		ps[i], sorts[i] = r.p.Product, r.sortVal
	}
	return ps, sorts, err
}

// RawProductFormats reports whether the raw decoder reads rows of fds.
var RawProductFormats = rawProductFormats
