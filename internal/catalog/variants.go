package catalog

import (
	"slices"
	"strconv"
	"strings"

	"cartograph/internal/relay"

	"github.com/google/uuid"
)

// OptionValue is one value of a product option with the first variant a
// buyer can select for it (ProductOptionValue).
type OptionValue struct {
	ID                     uuid.UUID
	Name                   string
	FirstSelectableVariant *Variant
}

// NodeID is the option value's global id.
func (v *OptionValue) NodeID() string { return relay.GlobalID("ProductOptionValue", v.ID) }

// AppendNodeID appends NodeID's text to dst.
func (v *OptionValue) AppendNodeID(dst []byte) []byte {
	return relay.AppendGlobalID(dst, "ProductOptionValue", v.ID)
}

// IsNode marks OptionValue as a Node.
func (*OptionValue) IsNode() {}

// OptionValues lists o's values in order; each one's variant is the first
// available variant having it, else the first variant having it.
func OptionValues(o *Option, vs []*Variant) []*OptionValue {
	out := make([]*OptionValue, 0, len(o.Values))
	for _, name := range o.Values {
		ov := &OptionValue{ID: uuid.NewSHA1(o.ID, []byte(name)), Name: name}
		for _, v := range vs {
			if optionValue(v, o.Name) != name {
				continue
			}
			if ov.FirstSelectableVariant == nil {
				ov.FirstSelectableVariant = v
			}
			if v.Available > 0 {
				ov.FirstSelectableVariant = v
				break
			}
		}
		out = append(out, ov)
	}
	return out
}

func optionValue(v *Variant, name string) string {
	for i, n := range v.OptionNames {
		if n == name && i < len(v.OptionValues) {
			return v.OptionValues[i]
		}
	}
	return ""
}

// Selection is a buyer's option choice (SelectedOptionInput).
type Selection struct {
	Name, Value string
}

// MatchOptions are the selection flags Shopify's variant lookups take.
type MatchOptions struct {
	IgnoreUnknown   bool
	CaseInsensitive bool
}

func eq(a, b string, ci bool) bool {
	if ci {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// normalize keeps the selections naming one of the product's options (all
// of them when ignoreUnknown is false; ok is false if one is unknown).
func normalize(vs []*Variant, sel []Selection, m MatchOptions) ([]Selection, bool) {
	if len(vs) == 0 {
		return nil, false
	}
	out := sel[:0:0]
	for _, s := range sel {
		known := false
		for _, n := range vs[0].OptionNames {
			if eq(n, s.Name, m.CaseInsensitive) {
				known = true
				out = append(out, Selection{Name: n, Value: s.Value})
				break
			}
		}
		if !known && !m.IgnoreUnknown {
			return nil, false
		}
	}
	return out, true
}

func matches(v *Variant, sel []Selection, ci bool) bool {
	for _, s := range sel {
		if !eq(optionValue(v, s.Name), s.Value, ci) {
			return false
		}
	}
	return true
}

// VariantBySelectedOptions returns the variant having every selected
// option (all of the product's options must be given), or nil.
func VariantBySelectedOptions(vs []*Variant, sel []Selection, m MatchOptions) *Variant {
	sel, ok := normalize(vs, sel, m)
	if !ok || len(sel) == 0 || len(sel) < len(vs[0].OptionNames) {
		return nil
	}
	for _, v := range vs {
		if matches(v, sel, m.CaseInsensitive) {
			return v
		}
	}
	return nil
}

// SelectedOrFirstAvailable returns the variant matching sel, else the
// first available variant, else the first variant (nil without variants).
func SelectedOrFirstAvailable(vs []*Variant, sel []Selection, m MatchOptions) *Variant {
	if v := VariantBySelectedOptions(vs, sel, m); v != nil {
		return v
	}
	for _, v := range vs {
		if v.Available > 0 {
			return v
		}
	}
	if len(vs) > 0 {
		return vs[0]
	}
	return nil
}

// AdjacentVariants returns the variants differing from the selected (or
// first available) variant in exactly one option, in variant order.
func AdjacentVariants(vs []*Variant, sel []Selection, m MatchOptions) []*Variant {
	cur := SelectedOrFirstAvailable(vs, sel, m)
	out := []*Variant{}
	if cur == nil {
		return out
	}
	for _, v := range vs {
		diff := 0
		for i := range v.OptionValues {
			if i >= len(cur.OptionValues) || v.OptionValues[i] != cur.OptionValues[i] {
				diff++
			}
		}
		if diff == 1 {
			out = append(out, v)
		}
	}
	return out
}

// EncodeVariants encodes the option-value combinations of the variants
// kept by keep in Shopify's v1 encoding (encodedVariantExistence /
// encodedVariantAvailability): each variant is the tuple of its option
// values' indexes in opts; tuples form a trie written as "index:" prefixes
// closed by ",", with the last option's indexes as runs ("0-2") separated
// by spaces. Decoded by @shopify/hydrogen-react's decodeEncodedVariant.
func EncodeVariants(opts []*Option, vs []*Variant, keep func(*Variant) bool) string {
	type node struct {
		keys  []int
		child map[int]*node
	}
	newNode := func() *node { return &node{child: map[int]*node{}} }
	root := newNode()
	for _, v := range vs {
		if keep != nil && !keep(v) {
			continue
		}
		tuple := make([]int, 0, len(opts))
		for _, o := range opts {
			val := optionValue(v, o.Name)
			for i, ov := range o.Values {
				if ov == val {
					tuple = append(tuple, i)
					break
				}
			}
		}
		if len(opts) == 0 || len(tuple) != len(opts) {
			continue
		}
		n := root
		for _, idx := range tuple {
			c, seen := n.child[idx]
			if !seen {
				c = newNode()
				n.child[idx] = c
				n.keys = append(n.keys, idx)
			}
			n = c
		}
	}
	var b strings.Builder
	var write func(n *node, depth int)
	write = func(n *node, depth int) {
		keys := append([]int(nil), n.keys...)
		slices.Sort(keys)
		if depth == len(opts)-1 {
			for i := 0; i < len(keys); {
				j := i
				for j+1 < len(keys) && keys[j+1] == keys[j]+1 {
					j++
				}
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(strconv.Itoa(keys[i]))
				if j > i {
					b.WriteByte('-')
					b.WriteString(strconv.Itoa(keys[j]))
				}
				i = j + 1
			}
			return
		}
		for _, k := range keys {
			b.WriteString(strconv.Itoa(k))
			b.WriteByte(':')
			write(n.child[k], depth+1)
			b.WriteByte(',')
		}
	}
	if len(root.keys) == 0 {
		return ""
	}
	write(root, 0)
	return "v1_" + b.String()
}
