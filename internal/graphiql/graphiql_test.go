package graphiql_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"cartograph/internal/graphiql"

	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

const shopHeaders = `{"X-Shop-Handle": "apparel"}`

// requireBrowser is set by `make test`: the browser test must run there,
// so anything missing is a failure instead of a skip.
var requireBrowser = os.Getenv("CARTOGRAPH_REQUIRE_BROWSER") != ""

// mount mounts h the way internal/server does.
func mount(h http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", h)
	mux.Handle("GET /graphiql/", h)
	return mux
}

func get(t *testing.T, h http.Handler, target string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// builtPage returns the page of the embedded build, skipping (or failing
// under make test) when `make assets` has not run.
func builtPage(t *testing.T, h http.Handler) string {
	t.Helper()
	page := body(t, get(t, h, "/"))
	if !strings.Contains(page, "graphiql.min.js") {
		if requireBrowser {
			t.Fatal("internal/graphiql/dist has no GraphiQL build: run `make assets`")
		}
		t.Skip("no GraphiQL build in internal/graphiql/dist (run `make assets`)")
	}
	return page
}

var assetURL = regexp.MustCompile(`(?:src|href)="(/graphiql/assets/[^"]+)"`)

func TestHandler(t *testing.T) {
	h := mount(graphiql.Handler(graphiql.Options{DefaultHeaders: shopHeaders}))

	t.Run("PageIsSelfContained", func(t *testing.T) {
		resp := get(t, h, "/")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("GET / = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self';", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "http") || strings.Contains(csp, "*") {
			t.Errorf("CSP %q allows another host", csp)
		}
		if r := get(t, h, "/", "If-None-Match", resp.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
			t.Errorf("GET / If-None-Match its ETag = %d, want 304", r.StatusCode)
		}
		page := builtPage(t, h)
		if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "//cdn") {
			t.Errorf("page refers to another host:\n%s", page)
		}
		if !strings.Contains(page, `data-default-headers="{
  &#34;X-Shop-Handle&#34;: &#34;apparel&#34;
}"`) || !strings.Contains(page, "products(first: 3, sortKey: TITLE)") {
			t.Errorf("page lacks the default headers or query:\n%s", page)
		}
	})

	t.Run("AssetsAreImmutableAndTyped", func(t *testing.T) {
		page := builtPage(t, h)
		want := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
		urls := assetURL.FindAllStringSubmatch(page, -1)
		if len(urls) != 7 { // favicon, 2 stylesheets, React, ReactDOM, GraphiQL, init
			t.Fatalf("page links %d assets, want 7:\n%s", len(urls), page)
		}
		for _, m := range urls {
			u := strings.ReplaceAll(m[1], "&amp;", "&")
			resp := get(t, h, u)
			ext := u[strings.LastIndex(strings.Split(u, "?")[0], "."):strings.Index(u, "?")]
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != want[ext] ||
				resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("GET %s = %d %v", u, resp.StatusCode, resp.Header)
			}
			etag := resp.Header.Get("ETag")
			if r := get(t, h, u, "If-None-Match", etag); etag == "" || r.StatusCode != http.StatusNotModified {
				t.Errorf("GET %s If-None-Match %s = %d, want 304", u, etag, r.StatusCode)
			}
		}
	})

	t.Run("LargeAssetsAreGzipped", func(t *testing.T) {
		page := builtPage(t, h)
		u := regexp.MustCompile(`/graphiql/assets/graphiql\.min\.js\?v=\w+`).FindString(page)
		plain := body(t, get(t, h, u))
		resp := get(t, h, u, "Accept-Encoding", "br, gzip")
		if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" {
			t.Fatalf("headers %v", resp.Header)
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, []byte(plain)) {
			t.Fatalf("gzipped body differs from the plain one (err %v)", err)
		}
	})

	t.Run("UnversionedAssetIsRevalidated", func(t *testing.T) {
		// /favicon.ico is answered when mounted; internal/server links the SVG instead.
		raw := graphiql.Handler(graphiql.Options{})
		for _, u := range []string{"/graphiql/assets/favicon.svg", "/graphiql/assets/favicon.svg?v=stale", "/favicon.ico"} {
			resp := get(t, raw, u)
			if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("Content-Type") != "image/svg+xml" {
				t.Errorf("GET %s = %d %v", u, resp.StatusCode, resp.Header)
			}
		}
		if svg := body(t, get(t, raw, "/favicon.ico")); !strings.HasPrefix(svg, "<svg") {
			t.Errorf("favicon is %q", svg)
		}
	})

	t.Run("UnknownPathsAre404", func(t *testing.T) {
		raw := graphiql.Handler(graphiql.Options{})
		for _, u := range []string{"/graphiql/assets/README.txt", "/graphiql/assets/../graphiql.go", "/graphiql/assets/%2e%2e/graphiql.go", "/graphiql/assets/", "/graphiql/", "/graphiql/assets/.stamp", "/index.html"} {
			if resp := get(t, raw, u); resp.StatusCode != 404 {
				t.Errorf("GET %s = %d, want 404", u, resp.StatusCode)
			}
		}
	})

	t.Run("WithoutAssetsThePageSaysMakeAssets", func(t *testing.T) {
		bare := mount(graphiql.Handler(graphiql.Options{Assets: fstest.MapFS{"README.txt": {Data: []byte("x")}}}))
		resp := get(t, bare, "/")
		page := body(t, resp)
		if resp.StatusCode != 200 || !strings.Contains(page, "<code>make assets</code>") || !strings.Contains(page, "<code>/graphql</code>") {
			t.Fatalf("GET / = %d:\n%s", resp.StatusCode, page)
		}
		if strings.Contains(page, "<script") || strings.Contains(page, "Loading") {
			t.Fatalf("the page without assets would still try to load GraphiQL:\n%s", page)
		}
		if r := get(t, bare, "/graphiql/assets/favicon.svg"); r.StatusCode != 200 {
			t.Errorf("favicon without assets = %d", r.StatusCode)
		}
	})
}

func TestHeadersJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]string
		want string
	}{
		{"EmptyShopIsNoHeaders", map[string]string{"X-Shop-Handle": ""}, ""},
		{"NilIsNoHeaders", nil, ""},
		{"ShopHeader", map[string]string{"X-Shop-Handle": `ap"parel`}, "{\n  \"X-Shop-Handle\": \"ap\\\"parel\"\n}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := graphiql.HeadersJSON(tc.in); got != tc.want {
				t.Fatalf("HeadersJSON(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// stubEndpoint answers GraphiQL's introspection with the introspection of
// `type Query { hello: String }` (built by gqlgen's introspection package
// over a gqlparser schema) and `{ hello }` with {"data":{"hello":"world"}}.
type stubEndpoint struct {
	schema []byte
	mu     sync.Mutex
	hello  []http.Header // request headers of each `{ hello }`
}

func newStubEndpoint(t *testing.T) *stubEndpoint {
	schema, err := gqlparser.LoadSchema(&ast.Source{Name: "stub.graphqls", Input: "type Query { hello: String }"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"data": map[string]any{"__schema": schemaJSON(introspection.WrapSchema(schema))}})
	if err != nil {
		t.Fatal(err)
	}
	return &stubEndpoint{schema: b}
}

func (s *stubEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct{ Query string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.Method != http.MethodPost {
		http.Error(w, "want a JSON POST", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch q := strings.Join(strings.Fields(req.Query), " "); {
	case strings.Contains(q, "__schema"):
		_, _ = w.Write(s.schema)
	case q == "{ hello }":
		s.mu.Lock()
		s.hello = append(s.hello, r.Header.Clone())
		s.mu.Unlock()
		_, _ = w.Write([]byte(`{"data":{"hello":"world"}}`))
	default:
		_, _ = w.Write([]byte(`{"errors":[{"message":"the stub only answers { hello }"}]}`))
	}
}

func schemaJSON(s *introspection.Schema) map[string]any {
	types := []any{}
	for _, t := range s.Types() {
		types = append(types, fullType(&t))
	}
	directives := []any{}
	for _, d := range s.Directives() {
		directives = append(directives, map[string]any{
			"name": d.Name, "description": d.Description(), "isRepeatable": d.IsRepeatable,
			"locations": d.Locations, "args": inputValues(d.Args),
		})
	}
	return map[string]any{
		"description": s.Description(), "queryType": named(s.QueryType()), "mutationType": named(s.MutationType()),
		"subscriptionType": named(s.SubscriptionType()), "types": types, "directives": directives,
	}
}

func named(t *introspection.Type) any {
	if t == nil {
		return nil
	}
	return map[string]any{"name": t.Name()}
}

func typeRef(t *introspection.Type) any {
	if t == nil {
		return nil
	}
	return map[string]any{"kind": t.Kind(), "name": t.Name(), "ofType": typeRef(t.OfType())}
}

func inputValues(in []introspection.InputValue) []any {
	out := []any{}
	for _, v := range in {
		out = append(out, map[string]any{
			"name": v.Name, "description": v.Description(), "type": typeRef(v.Type), "defaultValue": v.DefaultValue,
			"isDeprecated": v.IsDeprecated(), "deprecationReason": v.DeprecationReason(),
		})
	}
	return out
}

// fullType follows the spec: lists that do not apply to a kind are null.
func fullType(t *introspection.Type) map[string]any {
	m := map[string]any{
		"kind": t.Kind(), "name": t.Name(), "description": t.Description(), "specifiedByURL": t.SpecifiedByURL(),
		"isOneOf": t.IsOneOf(), "fields": nil, "inputFields": nil, "interfaces": nil, "enumValues": nil, "possibleTypes": nil,
	}
	refs := func(ts []introspection.Type) []any {
		out := []any{}
		for i := range ts {
			out = append(out, typeRef(&ts[i]))
		}
		return out
	}
	switch t.Kind() {
	case "OBJECT", "INTERFACE":
		fields := []any{}
		for _, f := range t.Fields(true) {
			fields = append(fields, map[string]any{
				"name": f.Name, "description": f.Description(), "args": inputValues(f.Args), "type": typeRef(f.Type),
				"isDeprecated": f.IsDeprecated(), "deprecationReason": f.DeprecationReason(),
			})
		}
		m["fields"], m["interfaces"] = fields, refs(t.Interfaces())
		if t.Kind() == "INTERFACE" {
			m["possibleTypes"] = refs(t.PossibleTypes())
		}
	case "UNION":
		m["possibleTypes"] = refs(t.PossibleTypes())
	case "INPUT_OBJECT":
		m["inputFields"] = inputValues(t.InputFields())
	case "ENUM":
		values := []any{}
		for _, v := range t.EnumValues(true) {
			values = append(values, map[string]any{
				"name": v.Name, "description": v.Description(), "isDeprecated": v.IsDeprecated(), "deprecationReason": v.DeprecationReason(),
			})
		}
		m["enumValues"] = values
	}
	return m
}

// TestBrowser loads the page in Debian's headless Chromium (playwright-core,
// web/browser_test.mjs) against the real handler and a stub endpoint.
func TestBrowser(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	var missing []string
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium+" (apt-get install -y chromium)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node")
	}
	if _, err := os.Stat("web/node_modules/playwright-core/package.json"); err != nil {
		missing = append(missing, "internal/graphiql/web/node_modules (make assets)")
	}
	if len(missing) > 0 {
		if requireBrowser {
			t.Fatalf("CARTOGRAPH_REQUIRE_BROWSER is set but the browser test cannot run; missing: %s", strings.Join(missing, ", "))
		}
		t.Skipf("browser test skipped; missing: %s (make test installs them and requires this test)", strings.Join(missing, ", "))
	}

	gi := graphiql.Handler(graphiql.Options{DefaultHeaders: shopHeaders})
	builtPage(t, mount(gi))
	stub := newStubEndpoint(t)
	mux := mount(gi)
	mux.Handle("/graphql", stub)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // the script gives up after 20 s itself
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "web/browser_test.mjs", srv.URL)
	cmd.Env = append(os.Environ(),
		"EXPECT_QUERY="+graphiql.ExampleQuery,
		"EXPECT_HEADERS="+graphiql.HeadersJSON(map[string]string{"X-Shop-Handle": "apparel"}))
	out, err := cmd.CombinedOutput()
	t.Logf("node web/browser_test.mjs (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("browser test: %v", err)
	}

	stub.mu.Lock()
	defer stub.mu.Unlock()
	if len(stub.hello) != 1 {
		t.Fatalf("the stub answered { hello } %d times, want 1", len(stub.hello))
	}
	if got := stub.hello[0].Get("X-Shop-Handle"); got != "apparel" {
		t.Errorf("the run request carried X-Shop-Handle %q, want the default header's apparel", got)
	}
}
