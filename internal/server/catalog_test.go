package server_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
)

// listingQuery is the exact document `make bench` measures.
const listingQuery = `query Listing($first: Int!, $after: String) {
  products(first: $first, after: $after, sortKey: CREATED_AT) {
    edges { cursor node {
      id handle title availableForSale tags
      priceRange { minVariantPrice { amount currencyCode } maxVariantPrice { amount currencyCode } }
      featuredImage { url altText width height }
      variants(first: 10) { edges { node { id title sku availableForSale quantityAvailable
        selectedOptions { name value } price { amount currencyCode } } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}`

// fullQuery selects every nested edge a product has, to prove the statement
// count does not grow with the page size.
const fullQuery = `query Full($first: Int!) {
  products(first: $first, sortKey: TITLE) {
    nodes { id title }
    edges { cursor node {
      id handle title description descriptionHtml availableForSale totalInventory tags productType vendor
      createdAt updatedAt seo { title description }
      options { id name values }
      priceRange { minVariantPrice { amount currencyCode } maxVariantPrice { amount currencyCode } }
      compareAtPriceRange { minVariantPrice { amount } maxVariantPrice { amount } }
      featuredImage { url altText width height }
      images(first: 5) { edges { cursor node { url altText } } pageInfo { hasNextPage } }
      collections(first: 5) { edges { node { id handle title } } }
      variants(first: 10) { edges { cursor node { id title sku availableForSale quantityAvailable
        selectedOptions { name value } price { amount currencyCode } compareAtPrice { amount }
        image { url } product { id handle } } } }
    } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`

type listing struct {
	Products struct {
		Edges []struct {
			Cursor string
			Node   struct {
				ID, Handle, Title string
				AvailableForSale  bool
				Tags              []string
				PriceRange        struct {
					MinVariantPrice struct{ Amount, CurrencyCode string }
					MaxVariantPrice struct{ Amount, CurrencyCode string }
				}
				FeaturedImage *struct{ URL string }
				Variants      struct {
					Edges []struct {
						Node struct {
							ID, Title, Sku    string
							AvailableForSale  bool
							QuantityAvailable int
							SelectedOptions   []struct{ Name, Value string }
							Price             struct{ Amount, CurrencyCode string }
						}
					}
				}
			}
		}
		PageInfo struct {
			HasNextPage     bool
			HasPreviousPage bool
			EndCursor       *string
			StartCursor     *string
		}
	}
}

func TestListing(t *testing.T) {
	e := newEnv(t, 60)
	t.Run("DemoShopsHaveNestedVariantsAndStock", func(t *testing.T) {
		for shop, cur := range map[string]string{"apparel": "USD", "electronics": "EUR"} {
			var l listing
			e.query(t, shop, listingQuery, map[string]any{"first": 24}, &l)
			if n := len(l.Products.Edges); n < 10 {
				t.Fatalf("%s: want >= 10 products, got %d", shop, n)
			}
			sawOut, sawIn := false, false
			for _, ed := range l.Products.Edges {
				n := ed.Node
				if n.PriceRange.MinVariantPrice.CurrencyCode != cur || !strings.Contains(n.PriceRange.MinVariantPrice.Amount, ".") {
					t.Fatalf("%s: bad price %+v", shop, n.PriceRange)
				}
				if len(n.Variants.Edges) == 0 || n.FeaturedImage == nil {
					t.Fatalf("%s: product %s lacks variants or image", shop, n.Handle)
				}
				anyAvail := false
				for _, v := range n.Variants.Edges {
					if v.Node.AvailableForSale != (v.Node.QuantityAvailable > 0) {
						t.Fatalf("availableForSale disagrees with quantity: %+v", v.Node)
					}
					anyAvail = anyAvail || v.Node.AvailableForSale
					if v.Node.AvailableForSale {
						sawIn = true
					} else {
						sawOut = true
					}
				}
				if len(n.Variants.Edges) < 10 && anyAvail != n.AvailableForSale {
					t.Fatalf("product availableForSale %v but variants say %v", n.AvailableForSale, anyAvail)
				}
			}
			if !sawIn || !sawOut {
				t.Fatalf("%s: want both in-stock and out-of-stock variants (in=%v out=%v)", shop, sawIn, sawOut)
			}
		}
	})

	t.Run("ShopsAreIsolated", func(t *testing.T) {
		var a, b listing
		e.query(t, "apparel", listingQuery, map[string]any{"first": 100}, &a)
		e.query(t, "electronics", listingQuery, map[string]any{"first": 100}, &b)
		ids := map[string]bool{}
		for _, ed := range a.Products.Edges {
			ids[ed.Node.ID] = true
		}
		for _, ed := range b.Products.Edges {
			if ids[ed.Node.ID] {
				t.Fatalf("product %s visible in both shops", ed.Node.ID)
			}
		}
		// Another shop's product, by id and by node, is simply not there.
		other := b.Products.Edges[0].Node
		var r struct {
			Product *struct{ ID string }
			Node    *struct{ ID string }
		}
		e.query(t, "apparel", `query($id: ID!) { product(id: $id) { id } node(id: $id) { id } }`, map[string]any{"id": other.ID}, &r)
		if r.Product != nil || r.Node != nil {
			t.Fatalf("apparel can see electronics product %s: %+v", other.ID, r)
		}
		// Another shop's variant too.
		var rv struct{ Node *struct{ ID string } }
		e.query(t, "apparel", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": other.Variants.Edges[0].Node.ID}, &rv)
		if rv.Node != nil {
			t.Fatalf("apparel can see electronics variant")
		}
	})

	t.Run("DraftAndArchivedAreInvisible", func(t *testing.T) {
		for _, h := range []string{"recycled-fleece-pullover", "summer-linen-shorts-2023"} {
			var r struct{ Product *struct{ ID string } }
			e.query(t, "apparel", `query($h: String!) { product(handle: $h) { id } }`, map[string]any{"h": h}, &r)
			if r.Product != nil {
				t.Fatalf("non-active product %s is visible", h)
			}
		}
		var l listing
		e.query(t, "apparel", listingQuery, map[string]any{"first": 250}, &l)
		for _, ed := range l.Products.Edges {
			if ed.Node.Handle == "recycled-fleece-pullover" || ed.Node.Handle == "summer-linen-shorts-2023" {
				t.Fatalf("non-active product %s listed", ed.Node.Handle)
			}
		}
	})

	t.Run("ForwardPaginationVisitsEveryProductOnce", func(t *testing.T) {
		for _, sortKey := range []string{"ID", "CREATED_AT", "TITLE", "PRICE", "UPDATED_AT", "PRODUCT_TYPE", "VENDOR"} {
			for _, reverse := range []bool{false, true} {
				q := fmt.Sprintf(`query($after: String) { products(first: 7, after: $after, sortKey: %s, reverse: %v) {
					edges { cursor node { id title priceRange { minVariantPrice { amount } } } } pageInfo { hasNextPage hasPreviousPage endCursor } } }`, sortKey, reverse)
				seen := map[string]bool{}
				var order []string
				var after any
				for pages := 0; ; pages++ {
					if pages > 20 {
						t.Fatalf("%s: pagination does not end", sortKey)
					}
					var l listing
					e.query(t, "bench-1", q, map[string]any{"after": after}, &l)
					for _, ed := range l.Products.Edges {
						if seen[ed.Node.ID] {
							t.Fatalf("%s reverse=%v: %s seen twice", sortKey, reverse, ed.Node.ID)
						}
						seen[ed.Node.ID] = true
						order = append(order, ed.Node.Title)
					}
					if pages > 0 && !l.Products.PageInfo.HasPreviousPage {
						t.Fatalf("%s: hasPreviousPage false after a cursor", sortKey)
					}
					if !l.Products.PageInfo.HasNextPage {
						break
					}
					after = *l.Products.PageInfo.EndCursor
				}
				if len(seen) != 60 {
					t.Fatalf("%s reverse=%v: saw %d products, want 60", sortKey, reverse, len(seen))
				}
				if sortKey == "TITLE" {
					sorted := sort.SliceIsSorted(order, func(i, j int) bool { return order[i] < order[j] })
					if reverse {
						sorted = sort.SliceIsSorted(order, func(i, j int) bool { return order[i] > order[j] })
					}
					if !sorted {
						t.Fatalf("TITLE reverse=%v not sorted: %v", reverse, order[:10])
					}
				}
			}
		}
	})

	t.Run("BackwardPaginationMirrorsForward", func(t *testing.T) {
		var all listing
		e.query(t, "bench-1", `{ products(first: 60, sortKey: CREATED_AT) { edges { cursor node { id } } } }`, nil, &all)
		var back listing
		before := all.Products.Edges[30].Cursor
		e.query(t, "bench-1", `query($b: String) { products(last: 5, before: $b, sortKey: CREATED_AT) { edges { node { id } } pageInfo { hasNextPage hasPreviousPage } } }`, map[string]any{"b": before}, &back)
		if len(back.Products.Edges) != 5 {
			t.Fatalf("want 5, got %d", len(back.Products.Edges))
		}
		for i, ed := range back.Products.Edges {
			if ed.Node.ID != all.Products.Edges[25+i].Node.ID {
				t.Fatalf("backward page item %d = %s, want %s", i, ed.Node.ID, all.Products.Edges[25+i].Node.ID)
			}
		}
		if !back.Products.PageInfo.HasPreviousPage || !back.Products.PageInfo.HasNextPage {
			t.Fatalf("pageInfo wrong: %+v", back.Products.PageInfo)
		}
	})

	t.Run("QueryFilters", func(t *testing.T) {
		cases := []struct {
			name, query string
			check       func(handles []string) bool
		}{
			{"Tag", "tag:merino", func(h []string) bool { return len(h) == 1 && h[0] == "merino-crew-tee" }},
			{"TitleWord", "chelsea", func(h []string) bool { return len(h) == 1 && h[0] == "leather-chelsea-boots" }},
			{"ProductType", "product_type:Footwear", func(h []string) bool { return len(h) == 1 && h[0] == "leather-chelsea-boots" }},
			{"PriceAtLeast", "variants.price:>=200", func(h []string) bool { return len(h) == 1 && h[0] == "leather-chelsea-boots" }},
			{"Combined", "tag:tee product_type:Footwear", func(h []string) bool { return len(h) == 0 }},
			{"SQLLookingStringIsJustAString", "title:'; DROP TABLE products; --", func(h []string) bool { return len(h) == 0 }},
			{"LikeWildcardIsLiteral", "%", func(h []string) bool { return len(h) == 0 }},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var l listing
				e.query(t, "apparel", `query($q: String) { products(first: 50, query: $q) { edges { node { handle } } } }`, map[string]any{"q": c.query}, &l)
				var hs []string
				for _, ed := range l.Products.Edges {
					hs = append(hs, ed.Node.Handle)
				}
				if !c.check(hs) {
					t.Fatalf("query %q returned %v", c.query, hs)
				}
			})
		}
		var n int
		if err := e.db.Pool.QueryRow(t.Context(), "SELECT count(*) FROM products").Scan(&n); err != nil || n == 0 {
			t.Fatalf("products table damaged: %d %v", n, err)
		}
	})

	t.Run("StatementCountIsConstantInPageSize", func(t *testing.T) {
		count := func(first int) int64 {
			sets := e.db.AppStats.TenantSettings()
			before := e.db.AppStats.Statements()
			defer func() {
				// Every statement ran under row-level security: each had
				// its shop setting pipelined in front of it.
				if got := e.db.AppStats.TenantSettings() - sets; got != e.db.AppStats.Statements()-before {
					t.Fatalf("%d statements but %d tenant settings", e.db.AppStats.Statements()-before, got)
				}
			}()
			var l listing
			e.query(t, "bench-1", fullQuery, map[string]any{"first": first}, &l)
			if len(l.Products.Edges) != first {
				t.Fatalf("want %d products, got %d", first, len(l.Products.Edges))
			}
			return e.db.AppStats.Statements() - before
		}
		count(5) // warm the shop cache
		five, fifty := count(5), count(50)
		if five != fifty {
			t.Fatalf("products(first: 5) ran %d statements, products(first: 50) ran %d", five, fifty)
		}
		// page + variants + images + options + collection ids + collections.
		if five != 6 {
			t.Fatalf("want 6 statements for the full product page, got %d", five)
		}
		listing := func(first int) int64 {
			before := e.db.AppStats.Statements()
			e.query(t, "bench-1", listingQuery, map[string]any{"first": first}, nil)
			return e.db.AppStats.Statements() - before
		}
		if a, b := listing(5), listing(50); a != 3 || b != 3 {
			t.Fatalf("bench listing: want 3 statements (page, variants, images), got %d and %d", a, b)
		}
	})
}

func TestProductDetailAndCollections(t *testing.T) {
	e := newEnv(t, 0)
	const q = `query($h: String!) { product(handle: $h) {
		id handle title description(truncateAt: 20) descriptionHtml totalInventory availableForSale
		options { name values }
		variants(first: 50) { edges { node { id title price { amount currencyCode } compareAtPrice { amount } image { url } product { handle } } } }
		images(first: 2) { edges { cursor node { url } } pageInfo { hasNextPage endCursor } }
		collections(first: 10) { nodes { handle } }
	} }`
	var r struct {
		Product *struct {
			ID, Handle, Title, Description, DescriptionHTML string
			TotalInventory                                  int
			AvailableForSale                                bool
			Options                                         []struct {
				Name   string
				Values []string
			}
			Variants struct {
				Edges []struct {
					Node struct {
						ID, Title string
						Price     struct{ Amount, CurrencyCode string }
						Product   struct{ Handle string }
					}
				}
			}
			Images struct {
				Edges    []struct{ Cursor string }
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
			}
			Collections struct{ Nodes []struct{ Handle string } }
		}
	}
	e.query(t, "apparel", q, map[string]any{"h": "merino-crew-tee"}, &r)
	p := r.Product
	if p == nil || p.Handle != "merino-crew-tee" {
		t.Fatalf("product not found: %+v", r)
	}
	if !strings.HasSuffix(p.Description, "…") || len([]rune(p.Description)) != 21 {
		t.Fatalf("truncateAt not applied: %q", p.Description)
	}
	// 4 sizes x 3 colours.
	if len(p.Variants.Edges) != 12 || len(p.Options) != 2 {
		t.Fatalf("want 12 variants and 2 options, got %d and %d", len(p.Variants.Edges), len(p.Options))
	}
	for _, v := range p.Variants.Edges {
		if v.Node.Product.Handle != p.Handle || v.Node.Price.CurrencyCode != "USD" {
			t.Fatalf("variant wiring wrong: %+v", v.Node)
		}
	}
	if len(p.Images.Edges) != 2 || !p.Images.PageInfo.HasNextPage {
		t.Fatalf("image page wrong: %+v", p.Images)
	}
	if len(p.Collections.Nodes) == 0 {
		t.Fatalf("merino tee should be in a collection")
	}
	var stock int
	if err := e.db.Pool.QueryRow(t.Context(), `SELECT coalesce(sum(il.on_hand - il.reserved),0) FROM inventory_levels il
		JOIN variants v ON v.shop_id = il.shop_id AND v.id = il.variant_id
		JOIN products p ON p.shop_id = v.shop_id AND p.id = v.product_id WHERE p.handle = 'merino-crew-tee'`).Scan(&stock); err != nil {
		t.Fatal(err)
	}
	if p.TotalInventory != stock {
		t.Fatalf("totalInventory %d, database says %d", p.TotalInventory, stock)
	}

	t.Run("NextImagePage", func(t *testing.T) {
		var r2 struct {
			Product struct {
				Images struct {
					Edges []struct{ Node struct{ URL string } }
				}
			}
		}
		e.query(t, "apparel", `query($h: String!, $a: String) { product(handle: $h) { images(first: 5, after: $a) { edges { node { url } } } } }`,
			map[string]any{"h": "merino-crew-tee", "a": p.Images.PageInfo.EndCursor}, &r2)
		if len(r2.Product.Images.Edges) != 1 {
			t.Fatalf("merino tee has 3 images; after the first 2 want 1, got %d", len(r2.Product.Images.Edges))
		}
	})

	t.Run("ByIDAndNodeAgree", func(t *testing.T) {
		var r2 struct {
			Product struct{ Handle string }
			Node    struct {
				Typename string `json:"__typename"`
				Handle   string
			}
		}
		e.query(t, "apparel", `query($id: ID!) { product(id: $id) { handle } node(id: $id) { __typename ... on Product { handle } } }`, map[string]any{"id": p.ID}, &r2)
		if r2.Product.Handle != p.Handle || r2.Node.Handle != p.Handle || r2.Node.Typename != "Product" {
			t.Fatalf("by id: %+v", r2)
		}
	})

	t.Run("CollectionProductsInManualOrder", func(t *testing.T) {
		var c struct {
			Collection *struct {
				Title    string
				Products struct {
					Edges []struct{ Node struct{ Handle string } }
				}
			}
			Collections struct {
				Edges []struct{ Node struct{ Handle string } }
			}
		}
		e.query(t, "apparel", `{ collection(handle: "outerwear") { title products(first: 10) { edges { node { handle } } } }
			collections(first: 10, sortKey: TITLE) { edges { node { handle } } } }`, nil, &c)
		if c.Collection == nil || len(c.Collection.Products.Edges) == 0 {
			t.Fatalf("outerwear collection empty: %+v", c)
		}
		var pos []int
		rows, err := e.db.Pool.Query(t.Context(), `SELECT p.handle FROM collection_products cp JOIN collections c ON c.shop_id=cp.shop_id AND c.id=cp.collection_id
			JOIN products p ON p.shop_id=cp.shop_id AND p.id=cp.product_id WHERE c.handle='outerwear' AND p.status='active' AND c.shop_id=(SELECT id FROM shops WHERE handle='apparel') ORDER BY cp.position`)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for rows.Next() {
			var h string
			_ = rows.Scan(&h)
			want = append(want, h)
		}
		rows.Close()
		_ = pos
		if len(want) != len(c.Collection.Products.Edges) {
			t.Fatalf("want %v", want)
		}
		for i, ed := range c.Collection.Products.Edges {
			if ed.Node.Handle != want[i] {
				t.Fatalf("position %d: got %s want %s", i, ed.Node.Handle, want[i])
			}
		}
		var nColl int
		if err := e.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM collections WHERE shop_id=(SELECT id FROM shops WHERE handle='apparel')`).Scan(&nColl); err != nil {
			t.Fatal(err)
		}
		// The demo seeds 4 browsable collections plus the two hidden-homepage-* ones Next.js Commerce reads.
		if nColl != 6 || len(c.Collections.Edges) != nColl {
			t.Fatalf("want all %d apparel collections (6 seeded), got %d", nColl, len(c.Collections.Edges))
		}
	})

	t.Run("Recommendations", func(t *testing.T) {
		var rec struct {
			ProductRecommendations []struct {
				Handle           string
				AvailableForSale bool
			}
		}
		e.query(t, "apparel", `query($id: ID!) { productRecommendations(productId: $id) { handle availableForSale } }`, map[string]any{"id": p.ID}, &rec)
		if len(rec.ProductRecommendations) == 0 {
			t.Fatal("no recommendations for merino tee")
		}
		for _, x := range rec.ProductRecommendations {
			if x.Handle == p.Handle || !x.AvailableForSale {
				t.Fatalf("bad recommendation %+v", x)
			}
		}
	})

	t.Run("Shop", func(t *testing.T) {
		var s struct {
			Shop struct {
				Name            string
				PrimaryDomain   struct{ Host string }
				PaymentSettings struct{ CurrencyCode string }
			}
		}
		e.query(t, "electronics", `{ shop { id name primaryDomain { host } paymentSettings { currencyCode } } }`, nil, &s)
		if s.Shop.Name != "Voltline Electronics" || s.Shop.PaymentSettings.CurrencyCode != "EUR" || s.Shop.PrimaryDomain.Host != "electronics.localhost" {
			t.Fatalf("shop: %+v", s)
		}
	})
	_ = http.StatusOK
}
