package catalog

import (
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
