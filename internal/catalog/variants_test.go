package catalog_test

import (
	"strconv"
	"testing"

	"cartograph/internal/catalog"
	"cartograph/internal/dbq"
)

// product builds options named o0..o(depth-1) with width values "0".."width-1"
// and one variant per tuple (value indexes).
func product(depth, width int, tuples [][]int) ([]*catalog.Option, []*catalog.Variant) {
	names := make([]string, depth)
	opts := make([]*catalog.Option, depth)
	for d := range depth {
		names[d] = "o" + strconv.Itoa(d)
		vals := make([]string, width)
		for i := range vals {
			vals[i] = strconv.Itoa(i)
		}
		opts[d] = &catalog.Option{ProductOption: dbq.ProductOption{Name: names[d], Values: vals}}
	}
	vs := make([]*catalog.Variant, len(tuples))
	for i, tp := range tuples {
		v := &catalog.Variant{OptionNames: names, Available: 1}
		for _, x := range tp {
			v.OptionValues = append(v.OptionValues, strconv.Itoa(x))
		}
		vs[i] = v
	}
	return opts, vs
}

// combos lists every tuple of depth indexes below width, in order, minus except.
func combos(depth, width int, except ...[]int) [][]int {
	var out [][]int
	var gen func(prefix []int)
	gen = func(prefix []int) {
		if len(prefix) == depth {
			for _, e := range except {
				if equal(e, prefix) {
					return
				}
			}
			out = append(out, append([]int(nil), prefix...))
			return
		}
		for i := range width {
			gen(append(prefix, i))
		}
	}
	gen(nil)
	return out
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestEncodeVariants checks the encoder against the decoding vectors of
// @shopify/hydrogen-react's optionValueDecoder tests (encoded string →
// option-value index tuples): encoding those tuples gives that string.
func TestEncodeVariants(t *testing.T) {
	tests := []struct {
		name         string
		depth, width int
		tuples       [][]int
		want         string
	}{
		{"Single", 1, 1, [][]int{{0}}, "v1_0"},
		{"OneDimensionNoGaps", 1, 10, combos(1, 10), "v1_0-9"},
		{"OneDimensionGaps", 1, 11, [][]int{{0}, {1}, {2}, {4}, {5}, {6}, {8}, {9}, {10}}, "v1_0-2 4-6 8-10"},
		{"OneDimensionGapsNoRanges", 1, 3, [][]int{{0}, {2}}, "v1_0 2"},
		{"TwoDimensionsNoGaps", 2, 3, combos(2, 3), "v1_0:0-2,1:0-2,2:0-2,"},
		{"TwoDimensionsGaps", 2, 3, [][]int{{0, 0}, {0, 1}, {1, 0}, {1, 2}, {2, 1}, {2, 2}}, "v1_0:0-1,1:0 2,2:1-2,"},
		{"TwoDimensionsGapsNoRanges", 2, 4, [][]int{{0, 0}, {0, 1}, {1, 0}, {1, 2}, {2, 1}, {2, 3}}, "v1_0:0-1,1:0 2,2:1 3,"},
		{"ThreeDimensionsNoGaps", 3, 3, combos(3, 3), "v1_0:0:0-2,1:0-2,2:0-2,,1:0:0-2,1:0-2,2:0-2,,2:0:0-2,1:0-2,2:0-2,,"},
		{"FourDimensionsGaps", 4, 3, combos(4, 3, []int{1, 0, 1, 0}, []int{2, 2, 2, 0}, []int{0, 2, 2, 1}),
			"v1_0:0:0:0-2,1:0-2,2:0-2,,1:0:0-2,1:0-2,2:0-2,,2:0:0-2,1:0-2,2:0 2,,,1:0:0:0-2,1:1-2,2:0-2,,1:0:0-2,1:0-2,2:0-2,,2:0:0-2,1:0-2,2:0-2,,,2:0:0:0-2,1:0-2,2:0-2,,1:0:0-2,1:0-2,2:0-2,,2:0:0-2,1:0-2,2:1-2,,,"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts, vs := product(tc.depth, tc.width, tc.tuples)
			if got := catalog.EncodeVariants(opts, vs, nil); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	t.Run("AvailabilitySkipsSoldOut", func(t *testing.T) {
		opts, vs := product(2, 2, combos(2, 2))
		vs[1].Available, vs[2].Available = 0, 0
		if got := catalog.EncodeVariants(opts, vs, func(v *catalog.Variant) bool { return v.Available > 0 }); got != "v1_0:0,1:1," {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("NoVariantsIsEmpty", func(t *testing.T) {
		opts, vs := product(2, 2, nil)
		if got := catalog.EncodeVariants(opts, vs, nil); got != "" {
			t.Fatalf("got %q", got)
		}
	})
}

func TestVariantSelection(t *testing.T) {
	opts, vs := product(2, 3, combos(2, 3))
	_ = opts
	vs[0].Available = 0
	m := catalog.MatchOptions{}
	t.Run("FirstAvailableWithoutSelection", func(t *testing.T) {
		if v := catalog.SelectedOrFirstAvailable(vs, nil, m); v != vs[1] {
			t.Fatalf("got %+v", v)
		}
	})
	t.Run("ExactSelection", func(t *testing.T) {
		sel := []catalog.Selection{{Name: "o0", Value: "2"}, {Name: "o1", Value: "1"}}
		if v := catalog.VariantBySelectedOptions(vs, sel, m); v != vs[7] {
			t.Fatalf("got %+v", v)
		}
	})
	t.Run("UnknownOptionIgnoredOnlyWhenAsked", func(t *testing.T) {
		sel := []catalog.Selection{{Name: "o0", Value: "2"}, {Name: "o1", Value: "1"}, {Name: "Material", Value: "x"}}
		if v := catalog.VariantBySelectedOptions(vs, sel, m); v != nil {
			t.Fatalf("got %+v", v)
		}
		if v := catalog.VariantBySelectedOptions(vs, sel, catalog.MatchOptions{IgnoreUnknown: true}); v != vs[7] {
			t.Fatalf("got %+v", v)
		}
	})
	t.Run("CaseInsensitive", func(t *testing.T) {
		sel := []catalog.Selection{{Name: "O0", Value: "2"}, {Name: "O1", Value: "1"}}
		if v := catalog.VariantBySelectedOptions(vs, sel, catalog.MatchOptions{CaseInsensitive: true}); v != vs[7] {
			t.Fatalf("got %+v", v)
		}
	})
	t.Run("AdjacentDifferInOneOption", func(t *testing.T) {
		sel := []catalog.Selection{{Name: "o0", Value: "1"}, {Name: "o1", Value: "1"}}
		if got := catalog.AdjacentVariants(vs, sel, m); len(got) != 4 {
			t.Fatalf("got %d adjacent", len(got))
		}
	})
}
