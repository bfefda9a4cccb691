package server_test

import (
	"encoding/json"
	"testing"
)

// TestNestedConnectionsBatch proves Collection.products under a list of
// collections and Product.collections under a list of products cost one
// statement per edge per page, not one per parent: the statement count is
// the same for 1 and for 5 collections (and for 2 and 12 products), and the
// batched pages hold exactly what each collection's own page holds.
func TestNestedConnectionsBatch(t *testing.T) {
	e := newEnv(t, 120)
	count := func(shop, q string, vars map[string]any, into any) int64 {
		t.Helper()
		before := e.db.AppStats.Statements()
		e.query(t, shop, q, vars, into)
		return e.db.AppStats.Statements() - before
	}
	const colls = `query($n: Int!) { collections(first: $n, sortKey: TITLE) { nodes { handle
		products(first: 4, sortKey: TITLE) { nodes { handle variants(first: 2) { nodes { sku } } featuredImage { url } }
			pageInfo { hasNextPage endCursor } } } } }`
	type page struct {
		Nodes []struct {
			Handle   string
			Variants struct{ Nodes []struct{ Sku string } }
		}
		PageInfo struct {
			HasNextPage bool
			EndCursor   *string
		}
	}
	var one, five struct {
		Collections struct {
			Nodes []struct {
				Handle   string
				Products page
			}
		}
	}
	for _, shop := range []string{"bench-1", "apparel"} {
		count(shop, colls, map[string]any{"n": 1}, &one) // warm the shop cache
		n1 := count(shop, colls, map[string]any{"n": 1}, &one)
		n5 := count(shop, colls, map[string]any{"n": 5}, &five)
		if len(five.Collections.Nodes) < 3 {
			t.Fatalf("%s: want several collections, got %d", shop, len(five.Collections.Nodes))
		}
		if n1 != n5 || n1 > 4 {
			t.Fatalf("%s: collections{products}: %d statements for one collection, %d for %d", shop, n1, n5, len(five.Collections.Nodes))
		}
		// Each batched page equals the collection's own page.
		for _, c := range five.Collections.Nodes {
			var own struct{ Collection struct{ Products page } }
			e.query(t, shop, `query($h: String!) { collection(handle: $h) { products(first: 4, sortKey: TITLE) { nodes { handle variants(first: 2) { nodes { sku } } featuredImage { url } } pageInfo { hasNextPage endCursor } } } }`,
				map[string]any{"h": c.Handle}, &own)
			a, _ := json.Marshal(c.Products)
			b, _ := json.Marshal(own.Collection.Products)
			if string(a) != string(b) {
				t.Fatalf("%s/%s: batched page %s, own page %s", shop, c.Handle, a, b)
			}
			if len(c.Products.Nodes) == 0 || len(c.Products.Nodes[0].Variants.Nodes) == 0 {
				t.Fatalf("%s/%s: empty page %s", shop, c.Handle, a)
			}
		}
	}

	// Product.collections under a list of products: primed with the page
	// (one statement for the links, one for the collections).
	const prods = `query($n: Int!) { products(first: $n, sortKey: TITLE) { nodes { handle
		collections(first: 3) { nodes { handle title } } } } }`
	var few, many struct {
		Products struct {
			Nodes []struct {
				Collections struct{ Nodes []struct{ Handle string } }
			}
		}
	}
	count("apparel", prods, map[string]any{"n": 2}, &few)
	n2 := count("apparel", prods, map[string]any{"n": 2}, &few)
	n12 := count("apparel", prods, map[string]any{"n": 12}, &many)
	linked := 0
	for _, p := range many.Products.Nodes {
		linked += len(p.Collections.Nodes)
	}
	if linked < 3 {
		t.Fatalf("want products in collections, got %d links", linked)
	}
	if n2 != n12 {
		t.Fatalf("products{collections}: %d statements for 2 products, %d for 12", n2, n12)
	}
}
