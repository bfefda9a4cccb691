package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"cartograph/graph"
	"cartograph/graph/generated"

	"github.com/vektah/gqlparser/v2"
)

// storefrontPath is the Shopify Storefront API path storefronts post to.
const storefrontPath = "/api/2025-01/graphql.json"

// readDocs returns the documents under testdata/storefronts/<app>, by name.
func readDocs(t *testing.T, app string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "storefronts", app, "*.graphql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no documents for %s: %v", app, err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".graphql")] = string(b)
	}
	return out
}

// TestStorefrontDocumentsValidate: every document Next.js Commerce's
// Shopify provider and Hydrogen's skeleton and cart handler send validates
// against our schema.
func TestStorefrontDocumentsValidate(t *testing.T) {
	schema := generated.NewExecutableSchema(generated.Config{Resolvers: &graph.Resolver{}}).Schema()
	for _, app := range []string{"nextjs-commerce", "hydrogen"} {
		docs := readDocs(t, app)
		names := make([]string, 0, len(docs))
		for n := range docs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			t.Run(app+"/"+n, func(t *testing.T) {
				if _, errs := gqlparser.LoadQueryWithRules(schema, docs[n], nil); len(errs) > 0 {
					t.Fatalf("invalid: %v", errs)
				}
			})
		}
	}
}

// sfCall posts doc with vars at the Shopify path and decodes data into out;
// any GraphQL error fails the test.
func (e *env) sfCall(t *testing.T, h map[string]string, doc string, vars map[string]any, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": doc, "variables": vars})
	r := e.raw(t, storefrontPath, h, body)
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("status %d errors %+v", r.Status, r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatalf("decode %s: %v", r.Data, err)
		}
	}
}

type sfLine struct {
	ID       string
	Quantity int
	Merch    struct {
		ID string
	} `json:"merchandise"`
}

type sfCart struct {
	ID            string
	TotalQuantity int
	Lines         struct {
		Edges []struct{ Node sfLine }
		Nodes []sfLine
	}
}

func (c sfCart) lines() []sfLine {
	if len(c.Lines.Nodes) > 0 {
		return c.Lines.Nodes
	}
	out := []sfLine{}
	for _, e := range c.Lines.Edges {
		out = append(out, e.Node)
	}
	return out
}

// TestNextjsCommerceDocumentsRun replays Next.js Commerce's documents with
// the variables it sends against the seeded demo shop: layout menus, pages,
// collections, search, a product page and the whole cart flow.
func TestNextjsCommerceDocumentsRun(t *testing.T) {
	e := newEnv(t, 0)
	h := e.storefront(t, "apparel")
	docs := readDocs(t, "nextjs-commerce")
	tee := e.stock(t, "apparel", "merino-crew-tee", 30)
	beanie := e.stock(t, "apparel", "cashmere-beanie", 30)
	ran := map[string]bool{}
	run := func(name string, vars map[string]any, out any) {
		t.Helper()
		ran[name] = true
		t.Run(name, func(t *testing.T) { e.sfCall(t, h, docs[name], vars, out) })
	}

	for _, m := range []string{"next-js-frontend-header-menu", "next-js-frontend-footer-menu"} {
		var menu struct {
			Menu *struct{ Items []struct{ Title, URL string } }
		}
		run("getMenu", map[string]any{"handle": m}, &menu)
		if menu.Menu == nil || len(menu.Menu.Items) == 0 {
			t.Fatalf("menu %s: %+v", m, menu)
		}
	}
	var page struct{ PageByHandle *struct{ Title, Body string } }
	run("getPage", map[string]any{"handle": "about"}, &page)
	if page.PageByHandle == nil || page.PageByHandle.Body == "" {
		t.Fatalf("about page: %+v", page)
	}
	run("getPages", nil, nil)
	run("getCollections", nil, nil)
	run("getCollection", map[string]any{"handle": "tops"}, nil)
	run("getCollectionProducts", map[string]any{"handle": "hidden-homepage-featured-items", "sortKey": "COLLECTION_DEFAULT", "reverse": false}, nil)
	run("getCollectionProducts", map[string]any{"handle": "tops", "sortKey": "BEST_SELLING", "reverse": false}, nil)
	run("getProducts", map[string]any{"sortKey": "RELEVANCE", "reverse": false, "query": "tee"}, nil)
	var prod struct{ Product *struct{ ID string } }
	run("getProduct", map[string]any{"handle": "merino-crew-tee"}, &prod)
	if prod.Product == nil {
		t.Fatal("no product")
	}
	run("getProductRecommendations", map[string]any{"productId": prod.Product.ID}, nil)

	var created struct{ CartCreate struct{ Cart sfCart } }
	run("createCart", map[string]any{"lineItems": []map[string]any{{"merchandiseId": tee, "quantity": 1}}}, &created)
	cartID := created.CartCreate.Cart.ID
	var added struct{ CartLinesAdd struct{ Cart sfCart } }
	run("addToCart", map[string]any{"cartId": cartID, "lines": []map[string]any{{"merchandiseId": beanie, "quantity": 1}}}, &added)
	ls := added.CartLinesAdd.Cart.lines()
	if len(ls) != 2 {
		t.Fatalf("lines after add: %+v", ls)
	}
	// Next.js Commerce's quantity buttons send the line's merchandiseId too.
	var edited struct{ CartLinesUpdate struct{ Cart sfCart } }
	run("editCartItems", map[string]any{"cartId": cartID, "lines": []map[string]any{{"id": ls[0].ID, "merchandiseId": ls[0].Merch.ID, "quantity": 3}}}, &edited)
	if got := edited.CartLinesUpdate.Cart.TotalQuantity; got != 4 {
		t.Fatalf("total after update = %d, want 4", got)
	}
	var removed struct{ CartLinesRemove struct{ Cart sfCart } }
	run("removeFromCart", map[string]any{"cartId": cartID, "lineIds": []string{ls[1].ID}}, &removed)
	if got := removed.CartLinesRemove.Cart.TotalQuantity; got != 3 {
		t.Fatalf("total after remove = %d, want 3", got)
	}
	var got struct{ Cart *sfCart }
	run("getCart", map[string]any{"cartId": cartID}, &got)
	if got.Cart == nil || got.Cart.TotalQuantity != 3 {
		t.Fatalf("getCart: %+v", got.Cart)
	}
	for n := range docs {
		if !ran[n] {
			t.Errorf("document %s was not run", n)
		}
	}
}

// TestHydrogenDocumentsRun replays the Hydrogen skeleton's route documents
// and its cart handler's documents, as Hydrogen sends them (@inContext
// variables, the cart id rebuilt as gid://shopify/Cart/<token>, a private
// token from the server).
func TestHydrogenDocumentsRun(t *testing.T) {
	e := newEnv(t, 0)
	_, sk := e.createKey(t, "apparel", "SECRET", "")
	h := map[string]string{"Shopify-Storefront-Private-Token": sk}
	docs := readDocs(t, "hydrogen")
	tee := e.stock(t, "apparel", "merino-crew-tee", 30)
	beanie := e.stock(t, "apparel", "cashmere-beanie", 30)
	ctx := map[string]any{"country": "US", "language": "EN"}
	with := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range ctx {
			out[k] = v
		}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	ran := map[string]bool{}
	run := func(name string, vars map[string]any, out any) {
		t.Helper()
		ran[name] = true
		t.Run(name, func(t *testing.T) { e.sfCall(t, h, docs[name], with(vars), out) })
	}

	var header struct {
		Shop struct{ Name string }
		Menu *struct {
			Items []struct {
				Title, Type string
				URL         *string
				Items       []struct{ Title string }
			}
		}
	}
	run("Header", map[string]any{"headerMenuHandle": "main-menu"}, &header)
	if header.Shop.Name == "" || header.Menu == nil || len(header.Menu.Items) == 0 {
		t.Fatalf("header: %+v", header)
	}
	var footer struct {
		Menu *struct{ Items []struct{ Title string } }
	}
	run("Footer", map[string]any{"footerMenuHandle": "footer"}, &footer)
	if footer.Menu == nil || len(footer.Menu.Items) == 0 {
		t.Fatalf("footer: %+v", footer)
	}
	run("FeaturedCollection", nil, nil)
	run("RecommendedProducts", nil, nil)
	run("StoreCollections", map[string]any{"first": 4}, nil)
	run("Collection", map[string]any{"handle": "tops", "first": 8}, nil)
	run("Catalog", map[string]any{"first": 8}, nil)
	var pg struct{ Page *struct{ Title string } }
	run("Page", map[string]any{"handle": "about"}, &pg)
	if pg.Page == nil {
		t.Fatal("no about page")
	}
	var pols struct {
		Shop struct{ PrivacyPolicy, TermsOfService *struct{ Handle string } }
	}
	run("Policies", nil, &pols)
	if pols.Shop.PrivacyPolicy == nil || pols.Shop.TermsOfService == nil {
		t.Fatalf("policies: %+v", pols)
	}
	run("Policy", map[string]any{"privacyPolicy": true, "refundPolicy": false, "shippingPolicy": false, "termsOfService": false}, nil)
	run("Blogs", map[string]any{"first": 10}, nil)
	run("Blog", map[string]any{"blogHandle": "news", "first": 6}, nil)
	run("Article", map[string]any{"blogHandle": "news", "articleHandle": "hello"}, nil)
	var product struct {
		Product *struct {
			EncodedVariantExistence         string
			SelectedOrFirstAvailableVariant *struct {
				ID              string
				SelectedOptions []struct{ Name, Value string }
			}
			AdjacentVariants []struct{ ID string }
			Options          []struct {
				Name         string
				OptionValues []struct {
					Name                   string
					FirstSelectableVariant *struct{ ID string }
				}
			}
		}
	}
	run("Product", map[string]any{"handle": "merino-crew-tee", "selectedOptions": []any{}}, &product)
	p := product.Product
	if p == nil || p.SelectedOrFirstAvailableVariant == nil || !strings.HasPrefix(p.EncodedVariantExistence, "v1_") || len(p.Options) == 0 || len(p.Options[0].OptionValues) == 0 {
		t.Fatalf("product: %+v", p)
	}
	sel := []map[string]any{}
	for _, o := range p.SelectedOrFirstAvailableVariant.SelectedOptions {
		sel = append(sel, map[string]any{"name": o.Name, "value": o.Value})
	}
	run("Product", map[string]any{"handle": "merino-crew-tee", "selectedOptions": sel}, &product)

	// The cart handler.
	var created struct {
		CartCreate struct {
			Cart       *sfCart
			UserErrors []gqlError
		}
	}
	run("cart-cartCreate", map[string]any{"input": map[string]any{"lines": []map[string]any{{"merchandiseId": tee, "quantity": 1}}}}, &created)
	if created.CartCreate.Cart == nil {
		t.Fatalf("cartCreate: %+v", created.CartCreate.UserErrors)
	}
	// Hydrogen keeps the last path segment in its cookie and sends back
	// gid://shopify/Cart/<that>.
	id := created.CartCreate.Cart.ID
	cartID := "gid://shopify/Cart/" + id[strings.LastIndex(id, "/")+1:]
	run("cart-cartLinesAdd", map[string]any{"cartId": cartID, "lines": []map[string]any{{"merchandiseId": beanie, "quantity": 2}}}, nil)
	var q struct{ Cart *sfCart }
	run("cart-CartQuerySkeleton", map[string]any{"cartId": cartID}, &q)
	if q.Cart == nil || q.Cart.TotalQuantity != 3 || len(q.Cart.lines()) != 2 {
		t.Fatalf("cart: %+v", q.Cart)
	}
	line := q.Cart.lines()[0]
	run("cart-cartLinesUpdate", map[string]any{"cartId": cartID, "lines": []map[string]any{{"id": line.ID, "quantity": line.Quantity + 1}}}, nil)
	run("cart-cartNoteUpdate", map[string]any{"cartId": cartID, "note": "Gift wrap, please"}, nil)
	run("cart-cartAttributesUpdate", map[string]any{"cartId": cartID, "attributes": []map[string]any{{"key": "source", "value": "hydrogen"}}}, nil)
	run("cart-cartDiscountCodesUpdate", map[string]any{"cartId": cartID, "discountCodes": []string{"WELCOME10"}}, nil)
	run("cart-cartBuyerIdentityUpdate", map[string]any{"cartId": cartID, "buyerIdentity": map[string]any{"email": "ada@example.com"}}, nil)
	var gift struct {
		CartGiftCardCodesUpdate struct{ UserErrors []struct{ Code string } }
	}
	run("cart-cartGiftCardCodesUpdate", map[string]any{"cartId": cartID, "giftCardCodes": []string{"GIFT-1234"}}, &gift)
	if len(gift.CartGiftCardCodesUpdate.UserErrors) != 1 {
		t.Fatalf("gift card: %+v", gift)
	}
	run("cart-cartGiftCardCodesAdd", map[string]any{"cartId": cartID, "giftCardCodes": []string{"GIFT-1234"}}, nil)
	run("cart-cartGiftCardCodesRemove", map[string]any{"cartId": cartID, "appliedGiftCardIds": []string{"gid://shopify/AppliedGiftCard/1"}}, nil)
	var full struct {
		Cart *struct {
			Note          *string
			TotalQuantity int
			Attributes    []struct{ Key, Value string }
			DiscountCodes []struct {
				Code       string
				Applicable bool
			}
			BuyerIdentity struct{ Email *string }
		}
	}
	run("cart-CartQueryDefault", map[string]any{"cartId": cartID + "?key=abc"}, &full)
	c := full.Cart
	if c == nil || c.Note == nil || *c.Note != "Gift wrap, please" || c.TotalQuantity != 4 || len(c.Attributes) != 1 ||
		len(c.DiscountCodes) != 1 || c.DiscountCodes[0].Applicable || c.BuyerIdentity.Email == nil {
		t.Fatalf("cart after updates: %+v", c)
	}
	run("cart-cartLinesRemove", map[string]any{"cartId": cartID, "lineIds": []string{line.ID}}, nil)
	for n := range docs {
		if !ran[n] {
			t.Errorf("document %s was not run", n)
		}
	}
}

const cartLinesDoc = `query($id: ID!) { cart(id: $id) { id totalQuantity lines(first: 10) { nodes { id quantity merchandise { ... on ProductVariant { id } } } } } }`

// TestCartLineIDs: line ids are unique per cart (two carts holding the same
// variant never share a line id, so normalized client caches keep each
// cart's quantity) and stable across updates; another cart's line id is
// refused.
func TestCartLineIDs(t *testing.T) {
	e := newEnv(t, 0)
	h := e.storefront(t, "apparel")
	tee := e.stock(t, "apparel", "merino-crew-tee", 30)
	a, b := e.newCart(t, h, tee, 1), e.newCart(t, h, tee, 2)
	lineOf := func(cartID string) sfLine {
		t.Helper()
		var out struct{ Cart *sfCart }
		mustData(t, e.do(t, h, cartLinesDoc, map[string]any{"id": cartID}), &out)
		if out.Cart == nil || len(out.Cart.Lines.Nodes) != 1 {
			t.Fatalf("cart %s: %+v", cartID, out.Cart)
		}
		return out.Cart.Lines.Nodes[0]
	}
	la, lb := lineOf(a), lineOf(b)
	t.Run("UniquePerCart", func(t *testing.T) {
		if la.ID == lb.ID || la.Merch.ID != lb.Merch.ID {
			t.Fatalf("lines %+v and %+v", la, lb)
		}
	})
	t.Run("StableAcrossUpdates", func(t *testing.T) {
		var out struct{ CartLinesUpdate struct{ Cart sfCart } }
		mustData(t, e.do(t, h, `mutation($c: ID!, $l: ID!) { cartLinesUpdate(cartId: $c, lines: [{id: $l, quantity: 5}]) { cart { totalQuantity lines(first: 5) { nodes { id quantity } } } } }`,
			map[string]any{"c": a, "l": la.ID}), &out)
		ls := out.CartLinesUpdate.Cart.Lines.Nodes
		if len(ls) != 1 || ls[0].ID != la.ID || ls[0].Quantity != 5 {
			t.Fatalf("after update: %+v", ls)
		}
		if lb2 := lineOf(b); lb2.Quantity != 2 || lb2.ID != lb.ID {
			t.Fatalf("other cart changed: %+v", lb2)
		}
	})
	t.Run("OtherCartsLineRefused", func(t *testing.T) {
		var out struct {
			CartLinesRemove struct {
				Cart       *sfCart
				UserErrors []struct{ Code string }
			}
		}
		mustData(t, e.do(t, h, `mutation($c: ID!, $l: ID!) { cartLinesRemove(cartId: $c, lineIds: [$l]) { cart { id } userErrors { code field message } } }`,
			map[string]any{"c": a, "l": lb.ID}), &out)
		if len(out.CartLinesRemove.UserErrors) != 1 || out.CartLinesRemove.UserErrors[0].Code != "INVALID" {
			t.Fatalf("got %+v", out.CartLinesRemove)
		}
		if lineOf(a).Quantity != 5 {
			t.Fatal("cart a changed")
		}
	})
	t.Run("MerchandiseIDSwapsVariant", func(t *testing.T) {
		other := e.stock(t, "apparel", "cashmere-beanie", 30)
		var out struct{ CartLinesUpdate struct{ Cart sfCart } }
		mustData(t, e.do(t, h, `mutation($c: ID!, $l: ID!, $m: ID!) { cartLinesUpdate(cartId: $c, lines: [{id: $l, merchandiseId: $m, quantity: 2}]) { cart { totalQuantity lines(first: 5) { nodes { id quantity merchandise { ... on ProductVariant { id } } } } } } }`,
			map[string]any{"c": b, "l": lb.ID, "m": other}), &out)
		ls := out.CartLinesUpdate.Cart.Lines.Nodes
		if len(ls) != 1 || ls[0].Merch.ID != other || ls[0].Quantity != 2 {
			t.Fatalf("after swap: %+v", ls)
		}
	})
}

// TestCartIDForms: a cart is found by Cartograph's id and by Shopify's
// gid://shopify/Cart/<token>, each with or without ?key=; malformed ids in
// either form are BAD_USER_INPUT.
func TestCartIDForms(t *testing.T) {
	e := newEnv(t, 0)
	h := e.storefront(t, "apparel")
	tee := e.stock(t, "apparel", "merino-crew-tee", 30)
	id := e.newCart(t, h, tee, 2)
	tok := id[strings.LastIndex(id, "/")+1:]
	for name, form := range map[string]string{
		"Own": id, "OwnWithKey": id + "?key=0123abcd", "Shopify": "gid://shopify/Cart/" + tok, "ShopifyWithKey": "gid://shopify/Cart/" + tok + "?key=0123abcd",
	} {
		t.Run(name, func(t *testing.T) {
			var out struct{ Cart *sfCart }
			mustData(t, e.do(t, h, cartLinesDoc, map[string]any{"id": form}), &out)
			if out.Cart == nil || out.Cart.TotalQuantity != 2 {
				t.Fatalf("cart by %s: %+v", form, out.Cart)
			}
		})
	}
	for name, bad := range map[string]string{
		"ShopifyShortToken": "gid://shopify/Cart/abc", "ShopifyNotHex": "gid://shopify/Cart/" + strings.Repeat("z", 32),
		"ShopifyBadSuffix": "gid://shopify/Cart/" + tok + "?cart=1", "OtherType": "gid://shopify/Product/" + tok, "OwnShort": "gid://cartograph/Cart/12",
	} {
		t.Run("ErrBadUserInput"+name, func(t *testing.T) {
			if r := e.do(t, h, cartLinesDoc, map[string]any{"id": bad}); r.code() != "BAD_USER_INPUT" {
				t.Fatalf("%s: status %d %+v", bad, r.Status, r.Errors)
			}
			r := e.do(t, h, `mutation($c: ID!) { cartNoteUpdate(cartId: $c, note: "x") { cart { id } } }`, map[string]any{"c": bad})
			if r.code() != "BAD_USER_INPUT" {
				t.Fatalf("mutation %s: status %d %+v", bad, r.Status, r.Errors)
			}
		})
	}
}

// TestPrivateTokenHeader: Shopify-Storefront-Private-Token takes a secret
// key of the shop; a public key there, or another shop's secret key, is 401.
func TestPrivateTokenHeader(t *testing.T) {
	e := newEnv(t, 0)
	_, sk := e.createKey(t, "apparel", "SECRET", "")
	_, pk := e.createKey(t, "apparel", "PUBLIC", "")
	_, otherSK := e.createKey(t, "electronics", "SECRET", "")
	const q = `{ shop { name } }`
	t.Run("SecretKeyServes", func(t *testing.T) {
		var out struct{ Shop struct{ Name string } }
		mustData(t, e.do(t, map[string]string{"Shopify-Storefront-Private-Token": sk}, q, nil), &out)
		if out.Shop.Name == "" {
			t.Fatal("no shop")
		}
	})
	t.Run("ErrUnauthenticatedPublicKey", func(t *testing.T) {
		if r := e.do(t, map[string]string{"Shopify-Storefront-Private-Token": pk}, q, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("status %d %+v", r.Status, r.Errors)
		}
	})
	t.Run("ErrUnauthenticatedOtherShopsKey", func(t *testing.T) {
		if r := e.do(t, map[string]string{"Shopify-Storefront-Private-Token": otherSK, "X-Shop-Handle": "apparel"}, q, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("status %d %+v", r.Status, r.Errors)
		}
	})
}

// TestInContext: @inContext selects a country and language the shop sells
// in; others fall back to the shop's defaults.
func TestInContext(t *testing.T) {
	e := newEnv(t, 0)
	h := e.storefront(t, "electronics")
	const q = `query($c: CountryCode, $l: LanguageCode) @inContext(country: $c, language: $l) { localization { country { isoCode currency { isoCode } } language { isoCode } availableCountries { isoCode } } }`
	tests := []struct{ name, country, language, wantCountry, wantLanguage string }{
		{"Supported", "FR", "DE", "FR", "DE"},
		{"UnsupportedFallsBack", "JP", "JA", "DE", "EN"},
		{"OmittedIsDefault", "", "", "DE", "EN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]any{}
			if tc.country != "" {
				vars["c"], vars["l"] = tc.country, tc.language
			}
			var out struct {
				Localization struct {
					Country struct {
						IsoCode  string
						Currency struct{ IsoCode string }
					}
					Language struct{ IsoCode string }
				}
			}
			mustData(t, e.do(t, h, q, vars), &out)
			l := out.Localization
			if l.Country.IsoCode != tc.wantCountry || l.Language.IsoCode != tc.wantLanguage || l.Country.Currency.IsoCode != "EUR" {
				t.Fatalf("got %+v", l)
			}
		})
	}
	t.Run("ErrUnknownEnumValue", func(t *testing.T) {
		if r := e.do(t, h, q, map[string]any{"c": "XX"}); len(r.Errors) == 0 {
			t.Fatal("XX accepted")
		}
	})
}

// TestEncodedVariantsDecodeWithHydrogenReact: every demo product's
// encodedVariantExistence and encodedVariantAvailability, decoded by
// @shopify/hydrogen-react's decodeEncodedVariant (Node), give exactly the
// option-value index tuples of its variants (available ones for the
// latter). The package is installed by `make assets` in
// testdata/storefronts/clients; required under `make test`
// (CARTOGRAPH_REQUIRE_BROWSER=1), skipped elsewhere when missing.
func TestEncodedVariantsDecodeWithHydrogenReact(t *testing.T) {
	dir, _ := filepath.Abs(filepath.Join("testdata", "storefronts", "clients"))
	node, err := exec.LookPath("node")
	if _, serr := os.Stat(filepath.Join(dir, "node_modules", "@shopify", "hydrogen-react")); err != nil || serr != nil {
		if os.Getenv("CARTOGRAPH_REQUIRE_BROWSER") != "" {
			t.Fatalf("CARTOGRAPH_REQUIRE_BROWSER is set but node or @shopify/hydrogen-react (make assets) is missing in %s", dir)
		}
		t.Skipf("node or @shopify/hydrogen-react not installed in %s (make assets)", dir)
	}
	e := newEnv(t, 0)
	for _, shop := range []string{"apparel", "electronics"} {
		_, _ = e.db.Pool.Exec(context.Background(), `UPDATE inventory_levels l SET on_hand = 0 FROM variants v, shops s
			WHERE v.id = l.variant_id AND s.id = v.shop_id AND s.handle = $1 AND v.position % 3 = 1`, shop)
		var out struct {
			Products struct {
				Nodes []struct {
					Handle                     string
					EncodedVariantExistence    string
					EncodedVariantAvailability string
					Options                    []struct {
						Name   string
						Values []string
					}
					Variants struct {
						Nodes []struct {
							AvailableForSale bool
							SelectedOptions  []struct{ Name, Value string }
						}
					}
				}
			}
		}
		e.query(t, shop, `{ products(first: 50) { nodes { handle encodedVariantExistence encodedVariantAvailability options { name values }
			variants(first: 250) { nodes { availableForSale selectedOptions { name value } } } } } }`, nil, &out)
		var encoded []string
		for _, p := range out.Products.Nodes {
			encoded = append(encoded, p.EncodedVariantExistence, p.EncodedVariantAvailability)
		}
		in, _ := json.Marshal(encoded)
		cmd := exec.Command(node, filepath.Join("testdata", "storefronts", "decode.mjs"))
		cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
		cmd.Stdin = bytes.NewReader(in)
		res, err := cmd.Output()
		if err != nil {
			t.Fatalf("node: %v", err)
		}
		var decoded [][][]int
		if err := json.Unmarshal(res, &decoded); err != nil {
			t.Fatalf("decode %s: %v", res, err)
		}
		sold := 0
		for i, p := range out.Products.Nodes {
			var exist, avail []string
			for _, v := range p.Variants.Nodes {
				var idx []string
				for _, o := range p.Options {
					for _, so := range v.SelectedOptions {
						if so.Name == o.Name {
							idx = append(idx, strconv.Itoa(slices.Index(o.Values, so.Value)))
						}
					}
				}
				exist = append(exist, strings.Join(idx, ","))
				if v.AvailableForSale {
					avail = append(avail, strings.Join(idx, ","))
				} else {
					sold++
				}
			}
			for j, want := range [][]string{exist, avail} {
				var got []string
				for _, tuple := range decoded[2*i+j] {
					s := make([]string, len(tuple))
					for k, x := range tuple {
						s[k] = strconv.Itoa(x)
					}
					got = append(got, strings.Join(s, ","))
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("%s/%s field %d (%q): decoded %v, want %v", shop, p.Handle, j, encoded[2*i+j], got, want)
				}
			}
		}
		if len(out.Products.Nodes) == 0 || sold == 0 {
			t.Fatalf("%s: %d products, %d sold-out variants: nothing proven", shop, len(out.Products.Nodes), sold)
		}
	}
}

// TestStorefrontClientLibraries runs testdata/storefronts/clients.mjs: the
// Hydrogen cart id, hydrogen-react's decoder on the encoded variant fields
// and Apollo Client's normalized cache, against a seeded gateway over real
// HTTP at the Shopify path. Required under `make test`
// (CARTOGRAPH_REQUIRE_BROWSER=1; `make assets` installs the packages),
// skipped elsewhere when node or the packages are missing.
func TestStorefrontClientLibraries(t *testing.T) {
	node, err := exec.LookPath("node")
	_, err2 := os.Stat(filepath.Join("testdata", "storefronts", "clients", "node_modules", "@apollo", "client"))
	if err != nil || err2 != nil {
		if os.Getenv("CARTOGRAPH_REQUIRE_BROWSER") != "" {
			t.Fatal("CARTOGRAPH_REQUIRE_BROWSER is set but node or the storefront client packages (make assets) are missing")
		}
		t.Skip("node or the storefront client packages are missing (make assets)")
	}
	e := newEnv(t, 0)
	pk := e.storefront(t, "apparel")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--no-warnings", filepath.Join("testdata", "storefronts", "clients.mjs"))
	cmd.Env = append(os.Environ(), "ENDPOINT="+e.srv.URL+storefrontPath, "TOKEN="+pk["X-Shopify-Storefront-Access-Token"])
	out, err := cmd.CombinedOutput()
	t.Logf("node clients.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("storefront client libraries: %v", err)
	}
}
