package server_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// -update rewrites the golden files of TestResponsesMatchGoldens (only do
// that for an intended API change, and review the diff).
var updateGoldens = flag.Bool("update", false, "rewrite testdata/golden/*.json")

// The read-path documents whose responses must stay byte-identical while the
// executor and the marshalling underneath them are optimised: the bench
// listing and product documents, a collection page and a cart.
const goldenCollectionQuery = `query C($h: String!) {
  collection(handle: $h) { id handle title description
    products(first: 6, sortKey: TITLE) { edges { cursor node { id handle title availableForSale
      priceRange { minVariantPrice { amount currencyCode } } featuredImage { url altText }
      variants(first: 2) { nodes { id sku price { amount currencyCode } } } } }
      pageInfo { hasNextPage endCursor } } }
  collections(first: 10, sortKey: TITLE) { nodes { handle products(first: 3) { nodes { handle } } } }
}`

const goldenCartCreate = `mutation($v: ID!, $w: ID!) { cartCreate(input: {lines: [{merchandiseId: $v, quantity: 2}, {merchandiseId: $w, quantity: 1}]}) { cart { id } userErrors { code message } } }`

// ids are random (UUIDv7) and timestamps are "now" in every fresh test
// database; they are replaced by numbered placeholders, in order of first
// appearance, before comparing, and so is the cost bucket's level. Everything else — field order, escaping,
// number and money formatting, nulls, whitespace — must match byte for byte.
var (
	uuidRE   = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	cursorRE = regexp.MustCompile(`"(cursor|endCursor|startCursor)":"[^"]*"`)
	// The cost bucket refills with time and is shared through Redis.
	bucketRE = regexp.MustCompile(`"currentlyAvailable":[0-9.eE+-]+`)
)

func normalizeGolden(b []byte, secrets ...string) []byte {
	s := string(b)
	for i, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, fmt.Sprintf("<secret%d>", i+1))
		}
	}
	seen := map[string]string{}
	s = uuidRE.ReplaceAllStringFunc(s, func(m string) string {
		if _, ok := seen[m]; !ok {
			seen[m] = fmt.Sprintf("<uuid%d>", len(seen)+1)
		}
		return seen[m]
	})
	curs := map[string]string{}
	s = cursorRE.ReplaceAllStringFunc(s, func(m string) string {
		k, v, _ := strings.Cut(m, ":")
		if _, ok := curs[v]; !ok {
			curs[v] = fmt.Sprintf(`"<cursor%d>"`, len(curs)+1)
		}
		return k + ":" + curs[v]
	})
	s = bucketRE.ReplaceAllString(s, `"currentlyAvailable":"<bucket>"`)
	return []byte(s)
}

// rawPost returns the response body exactly as the server wrote it.
func (e *env) rawPost(t *testing.T, headers map[string]string, query string, vars map[string]any) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d err %v: %s", resp.StatusCode, err, b)
	}
	return b
}

func benchDoc(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", ".ci", "bench", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestResponsesMatchGoldens proves the listing, product, collection and
// cart responses are byte-identical to the ones recorded before the read
// path was optimised (testdata/golden, recorded from the unmodified tree).
func TestResponsesMatchGoldens(t *testing.T) {
	e := newEnv(t, 60)
	bench := map[string]string{"X-Shop-Handle": "bench-1"}
	apparel := map[string]string{"X-Shop-Handle": "apparel"}

	// A cart in the demo shop, over two variants of a known product.
	var p struct {
		Product struct {
			Variants struct{ Nodes []struct{ ID string } }
		}
	}
	e.query(t, "apparel", `{ product(handle: "merino-crew-tee") { variants(first: 2) { nodes { id } } } }`, nil, &p)
	if len(p.Product.Variants.Nodes) < 2 {
		t.Fatalf("want 2 variants, got %+v", p)
	}
	pk := e.storefront(t, "apparel")
	var c struct {
		CartCreate struct{ Cart struct{ ID string } }
	}
	r := e.do(t, pk, goldenCartCreate, map[string]any{"v": p.Product.Variants.Nodes[0].ID, "w": p.Product.Variants.Nodes[1].ID})
	if err := json.Unmarshal(r.Data, &c); err != nil || len(r.Errors) > 0 {
		t.Fatalf("cartCreate: %s %+v", r.Data, r.Errors)
	}
	cartID := c.CartCreate.Cart.ID
	token := strings.TrimPrefix(cartID, "gid://cartograph/Cart/")
	if token == "" || token == cartID {
		t.Fatalf("unexpected cart id %q", cartID)
	}

	cases := []struct {
		name    string
		headers map[string]string
		query   string
		vars    map[string]any
	}{
		{"listing", bench, benchDoc(t, "listing.graphql"), map[string]any{"first": 24}},
		{"listing-demo", apparel, benchDoc(t, "listing.graphql"), map[string]any{"first": 24}},
		{"product", bench, benchDoc(t, "product.graphql"), map[string]any{"h": "product-7"}},
		{"product-demo", apparel, benchDoc(t, "product.graphql"), map[string]any{"h": "merino-crew-tee"}},
		{"collection", apparel, goldenCollectionQuery, map[string]any{"h": "outerwear"}},
		{"cart", pk, benchDoc(t, "cart-read.graphql"), map[string]any{"c": cartID}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := normalizeGolden(e.rawPost(t, tc.headers, tc.query, tc.vars), token)
			path := filepath.Join("testdata", "golden", tc.name+".json")
			if *updateGoldens {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (record with -update)", err)
			}
			if !bytes.Equal(got, want) {
				i := 0
				for i < len(got) && i < len(want) && got[i] == want[i] {
					i++
				}
				lo := max(0, i-80)
				t.Fatalf("response differs from %s at byte %d:\n got: …%s…\nwant: …%s…", path, i,
					got[lo:min(len(got), i+80)], want[lo:min(len(want), i+80)])
			}
		})
	}
}
