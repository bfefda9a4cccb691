package catalog

// Test hooks for variantscan.go.
var (
	ScanVariants            = scanVariants
	VariantsByProductIDsSQL = variantsByProductIDsSQL
)

// DecodeVariantRow runs the raw decoder on one row of column values.
func DecodeVariantRow(cols [][]byte) (Variant, error) {
	var a rowArena
	var v Variant
	err := a.variant(&v, cols)
	return v, err
}
