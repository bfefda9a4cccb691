package cost_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"cartograph/internal/cost"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// hostileDoc repeats an aliased selection until the document is size bytes.
func hostileDoc(size int, sel string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, " a%d: %s", i, sel)
	}
	b.WriteString(" }")
	return b.String()
}

func BenchmarkRequested(b *testing.B) {
	s := realSchema(b)
	m := newModel(b, s)
	docs := []struct {
		name, query string
		validate    bool
	}{
		{"Listing", listingQuery, true},
		{"ListingWithFragments", `query { products(first: 24) { edges { node { ...Card } } pageInfo { hasNextPage } } }
			fragment Card on Product { id title priceRange { ...Range } featuredImage { url } variants(first: 5) { nodes { ...V } } }
			fragment Range on ProductPriceRange { minVariantPrice { amount } maxVariantPrice { amount } }
			fragment V on ProductVariant { id price { amount currencyCode } }`, true},
		{"Hostile100KBAliasedSchema", hostileDoc(100<<10, `__schema { types { fields { name } } }`), true},
		{"Hostile100KBAliasedListing", hostileDoc(100<<10, `products(first: 250) { nodes { variants(first: 250) { nodes { id } } } }`), false},
	}
	for _, d := range docs {
		var doc *ast.QueryDocument
		var op *ast.OperationDefinition
		if d.validate {
			doc, op = parse(b, s, d.query)
		} else {
			doc, op = parseOnly(b, d.query)
		}
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(d.query)))
			var n int
			for b.Loop() {
				var err error
				if n, err = m.Requested(doc, op, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "cost")
		})
	}
}

func BenchmarkTrack(b *testing.B) {
	s := realSchema(b)
	m := newModel(b, s)
	doc, op := parse(b, s, `{ products(first: 24, query: "shirt") { nodes { id variants(first: 5) { nodes { id } } } pageInfo { hasNextPage } } }`)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := m.Track(doc, op, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// The field interceptor's cost per field: a free leaf returns after one
// lookup; a list is measured and added atomically.
func BenchmarkFieldAccounting(b *testing.B) {
	s := realSchema(b)
	m := newModel(b, s)
	doc, op := parse(b, s, listingQuery)
	_, tr, err := m.Track(doc, op, nil)
	if err != nil {
		b.Fatal(err)
	}
	products := op.SelectionSet[0].(*ast.Field)
	edges := products.SelectionSet[0].(*ast.Field)
	node := edges.SelectionSet[1].(*ast.Field)
	title := node.SelectionSet[2].(*ast.Field)
	ext := cost.NewExtension(cost.ExtensionConfig{Model: m})
	next := func(context.Context) (any, error) { return "x", nil }
	leafCtx := graphql.WithFieldContext(context.Background(), &graphql.FieldContext{Field: graphql.CollectedField{Field: title}})
	list := make([]*struct{}, 24)

	b.Run("InterceptLeaf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = ext.InterceptField(leafCtx, next)
		}
	})
	b.Run("TrackerList", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tr.Resolved(edges, list)
		}
	})
}
