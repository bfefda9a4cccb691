package server_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestBadInput(t *testing.T) {
	e := newEnv(t, 0)
	shop := map[string]string{"X-Shop-Handle": "apparel"}

	t.Run("UnknownProductIsNull", func(t *testing.T) {
		r := e.do(t, shop, `{ byHandle: product(handle: "no-such-thing") { id }
			byID: product(id: "gid://cartograph/Product/01a20084-0000-7000-8000-000000000000") { id }
			node(id: "gid://cartograph/Product/01a20084-0000-7000-8000-000000000000") { id }
			unknownType: node(id: "gid://cartograph/Nope/01a20084-0000-7000-8000-000000000000") { id } }`, nil)
		if len(r.Errors) != 0 || string(r.Data) != `{"byHandle":null,"byID":null,"node":null,"unknownType":null}` {
			t.Fatalf("want nulls without errors, got %s %+v", r.Data, r.Errors)
		}
	})

	bad := []struct {
		name, query string
		vars        map[string]any
		field       string
	}{
		{"ErrMalformedGlobalID", `{ product(id: "123") { id } }`, nil, "id"},
		{"ErrMalformedNodeID", `{ node(id: "gid://cartograph/Product/not-a-uuid") { id } }`, nil, "id"},
		{"ErrWrongTypeOfID", `{ product(id: "gid://cartograph/Collection/01a20084-0000-7000-8000-000000000000") { id } }`, nil, "id"},
		{"ErrMalformedCursor", `{ products(first: 5, after: "garbage!") { edges { cursor } } }`, nil, "after"},
		{"ErrCursorOfAnotherSortKey", `query($c: String) { products(first: 5, after: $c, sortKey: TITLE) { edges { cursor } } }`,
			map[string]any{"c": base64.RawURLEncoding.EncodeToString([]byte("CREATED_AT\x1f01a20084-0000-7000-8000-000000000000\x1f2026-01-01"))}, "after"},
		{"ErrCursorWithBadValue", `query($c: String) { products(first: 5, after: $c, sortKey: PRICE) { edges { cursor } } }`,
			map[string]any{"c": base64.RawURLEncoding.EncodeToString([]byte("PRICE\x1f01a20084-0000-7000-8000-000000000000\x1f1; DROP TABLE x"))}, "after"},
		{"ErrFirstTooLarge", `{ products(first: 251) { edges { cursor } } }`, nil, "first"},
		{"ErrFirstNegative", `{ products(first: -1) { edges { cursor } } }`, nil, "first"},
		{"ErrFirstAndLast", `{ products(first: 5, last: 5) { edges { cursor } } }`, nil, "first"},
		{"ErrNeitherFirstNorLast", `{ products { edges { cursor } } }`, nil, "first"},
		{"ErrNestedFirstTooLarge", `{ product(handle: "merino-crew-tee") { variants(first: 1000) { edges { cursor } } } }`, nil, "first"},
		{"ErrNestedBadCursor", `{ product(handle: "merino-crew-tee") { images(first: 2, after: "eA") { edges { cursor } } } }`, nil, "after"},
		{"ErrUnsupportedQueryOperator", `{ products(first: 5, query: "tag:a OR tag:b") { edges { cursor } } }`, nil, "query"},
		{"ErrUnknownQueryField", `{ products(first: 5, query: "colour:red") { edges { cursor } } }`, nil, "query"},
		{"ErrBadPrice", `{ products(first: 5, query: "variants.price:>1.999") { edges { cursor } } }`, nil, "query"},
		{"ErrIDAndHandle", `{ product(id: "gid://cartograph/Product/01a20084-0000-7000-8000-000000000000", handle: "x") { id } }`, nil, "id"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, shop, c.query, c.vars)
			if r.code() != "BAD_USER_INPUT" {
				t.Fatalf("want BAD_USER_INPUT, got status %d errors %+v", r.Status, r.Errors)
			}
			if f, _ := r.Errors[0].Extensions["field"].(string); f != c.field {
				t.Fatalf("want field %q, got %q (%s)", c.field, f, r.Errors[0].Message)
			}
		})
	}

	t.Run("ErrValidationIsCodedToo", func(t *testing.T) {
		r := e.do(t, shop, `{ products(first: 5) { edges { nope } } }`, nil)
		if r.Status != http.StatusBadRequest && r.Status != http.StatusOK || len(r.Errors) == 0 || r.code() == "" {
			t.Fatalf("validation error: status %d %+v", r.Status, r.Errors)
		}
	})

	t.Run("ErrMalformedJSONIs400", func(t *testing.T) {
		r := e.raw(t, "/graphql", shop, []byte(`{"query": "{ shop { name } }"`))
		if r.Status != http.StatusBadRequest || len(r.Errors) == 0 {
			t.Fatalf("want 400 with errors, got %d %+v", r.Status, r.Errors)
		}
	})

	t.Run("ErrMissingQueryIs400", func(t *testing.T) {
		r := e.raw(t, "/graphql", shop, []byte(`{"variables": {}}`))
		if r.Status != http.StatusBadRequest || len(r.Errors) == 0 {
			t.Fatalf("want 400 with errors, got %d %+v", r.Status, r.Errors)
		}
	})

	t.Run("ErrUnknownShop", func(t *testing.T) {
		r := e.do(t, map[string]string{"X-Shop-Handle": "no-such-shop"}, `{ shop { name } }`, nil)
		if r.Status != http.StatusNotFound || r.code() != "SHOP_NOT_FOUND" || r.Data != nil {
			t.Fatalf("want 404 SHOP_NOT_FOUND, got %d %+v", r.Status, r.Errors)
		}
		r = e.do(t, map[string]string{"Host": "unknown.example.com"}, `{ shop { name } }`, nil)
		if r.Status != http.StatusNotFound || r.code() != "SHOP_NOT_FOUND" {
			t.Fatalf("unknown host: want 404 SHOP_NOT_FOUND, got %d %+v", r.Status, r.Errors)
		}
	})

	t.Run("ErrBodyTooLarge", func(t *testing.T) {
		big := `{"query": "{ shop { name } }", "variables": {"x": "` + strings.Repeat("a", 2<<20) + `"}}`
		r := e.raw(t, "/graphql", shop, []byte(big))
		if r.Status != http.StatusRequestEntityTooLarge && r.Status != http.StatusBadRequest {
			t.Fatalf("want 413/400, got %d", r.Status)
		}
	})

	// Public callers get MAX_BODY_BYTES_PUBLIC (128 KiB), staff and secret
	// keys MAX_BODY_BYTES (1 MiB): exactly the limit passes, one byte more
	// is 413.
	t.Run("BodyLimitByCaller", func(t *testing.T) {
		sized := func(n int) []byte {
			head, tail := `{"query": "{ shop { name } }", "variables": {"x": "`, `"}}`
			return []byte(head + strings.Repeat("a", n-len(head)-len(tail)) + tail)
		}
		staff := e.staff(t, "apparel")
		for _, c := range []struct {
			name    string
			headers map[string]string
			limit   int
		}{{"anonymous", shop, 128 << 10}, {"staff", staff, 1 << 20}} {
			if r := e.raw(t, "/graphql", c.headers, sized(c.limit)); r.Status != http.StatusOK {
				t.Fatalf("%s: %d bytes: status %d %+v", c.name, c.limit, r.Status, r.Errors)
			}
			if r := e.raw(t, "/graphql", c.headers, sized(c.limit+1)); r.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%s: %d bytes: status %d, want 413", c.name, c.limit+1, r.Status)
			}
		}
		// Without a credential that could be trusted, an over-long declared
		// body is refused before authentication: an unknown shop is 413, not
		// SHOP_NOT_FOUND (no lookup was made), and a pk_ key is not looked up
		// either. A credential that could be staff's is authenticated first.
		big := sized(128<<10 + 1)
		for _, h := range []map[string]string{
			{"X-Shop-Handle": "no-such-shop-" + t.Name()},
			{"X-Shop-Handle": "no-such-shop", "X-Api-Key": "pk_not_a_key"},
			{"X-Shop-Handle": "no-such-shop", "X-Shopify-Storefront-Access-Token": "pk_not_a_key"},
		} {
			if r := e.raw(t, "/graphql", h, big); r.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%v: status %d %+v, want 413 before authentication", h, r.Status, r.Errors)
			}
		}
		for _, h := range []map[string]string{
			{"X-Shop-Handle": "apparel", "X-Api-Key": "sk_not_a_key"},
			{"X-Shop-Handle": "apparel", "Authorization": "Bearer not.a.jwt"},
		} {
			if r := e.raw(t, "/graphql", h, big); r.Status != http.StatusUnauthorized {
				t.Fatalf("%v: status %d %+v, want 401 (authenticated before the caller's limit applies)", h, r.Status, r.Errors)
			}
		}
		if r := e.raw(t, "/graphql", staff, sized(1<<20+1)); r.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("staff over the private limit: status %d", r.Status)
		}
	})
}

func TestHTTPSurface(t *testing.T) {
	e := newEnv(t, 0)
	shopName := func(t *testing.T, headers map[string]string, path string) string {
		t.Helper()
		r := e.raw(t, path, headers, []byte(`{"query": "{ shop { name } }"}`))
		if r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Fatalf("%s %v: status %d %+v", path, headers, r.Status, r.Errors)
		}
		return string(r.Data)
	}
	t.Run("ShopByCustomDomain", func(t *testing.T) {
		if got := shopName(t, map[string]string{"Host": "electronics.localhost:8080"}, "/graphql"); !strings.Contains(got, "Voltline") {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("ShopBySubdomainOfBaseDomain", func(t *testing.T) {
		if got := shopName(t, map[string]string{"Host": "apparel.shops.test"}, "/graphql"); !strings.Contains(got, "Northwind") {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("ShopifyStyleEndpoint", func(t *testing.T) {
		if got := shopName(t, map[string]string{"X-Shop-Handle": "apparel"}, "/api/2024-07/graphql.json"); !strings.Contains(got, "Northwind") {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("GETQuery", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?query="+url.QueryEscape("{ shop { name } }"), nil)
		req.Header.Set("X-Shop-Handle", "apparel")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "Northwind") {
			t.Fatalf("GET: %d %s", resp.StatusCode, b)
		}
		// GraphQL-over-HTTP: without Accept (or with */*) the answer is application/json.
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("content type %q", ct)
		}
	})
	t.Run("AcceptChoosesTheMediaType", func(t *testing.T) {
		for accept, want := range map[string]string{"": "application/json", "*/*": "application/json",
			"application/json": "application/json", "application/graphql-response+json": "application/graphql-response+json"} {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				var req *http.Request
				if method == http.MethodGet {
					req, _ = http.NewRequest(method, e.srv.URL+"/graphql?query="+url.QueryEscape("{ shop { name } }"), nil)
				} else {
					req, _ = http.NewRequest(method, e.srv.URL+"/graphql", strings.NewReader(`{"query":"{ shop { name } }"}`))
					req.Header.Set("Content-Type", "application/json")
				}
				req.Header.Set("X-Shop-Handle", "apparel")
				if accept != "" {
					req.Header.Set("Accept", accept)
				}
				resp, err := e.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, want) {
					t.Errorf("%s Accept %q: content type %q, want %q", method, accept, ct, want)
				}
			}
		}
	})
	t.Run("GETMutationRefused", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?query="+url.QueryEscape("mutation { x }"), nil)
		req.Header.Set("X-Shop-Handle", "apparel")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("GET mutation accepted: %d", resp.StatusCode)
		}
	})
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/": 200} {
		t.Run("Endpoint"+path, func(t *testing.T) {
			resp, err := e.srv.Client().Get(e.srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("%s: %d", path, resp.StatusCode)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Fatalf("%s: no request id", path)
			}
		})
	}
}
