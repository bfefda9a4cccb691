// Package graphiql serves Cartograph's in-browser GraphQL IDE at GET / with
// every file it needs from the binary itself: no CDN, so it works offline.
//
// The third-party files (GraphiQL's and React's prebuilt UMD bundles) are
// installed from the npm registry at build time by `make assets` (pinned by
// web/package-lock.json) into dist/, which is gitignored and embedded here.
// A binary built without them still compiles and serves a page that says how
// to get them, instead of a page that never finishes loading.
//
// Routes (the caller mounts the handler on both):
//
//	GET /                      the page (Content-Security-Policy: 'self' only)
//	GET /graphiql/assets/NAME  scripts, styles, favicon; ?v=HASH URLs are immutable
//	GET /favicon.ico           the favicon, if the caller mounts it too
package graphiql

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"
)

// AssetPrefix is the URL path under which the handler serves its files.
const AssetPrefix = "/graphiql/assets/"

// ExampleQuery is the default document: a storefront listing that works on
// the demo shops.
const ExampleQuery = `# The first three products of the shop named in the
# X-Shop-Handle header (Headers, below). Ctrl-Enter runs it.
{
  products(first: 3, sortKey: TITLE) {
    edges {
      node {
        title
        handle
        priceRange {
          minVariantPrice {
            amount
            currencyCode
          }
        }
      }
    }
  }
}
`

// Options configure the page. The zero value serves Cartograph's endpoint.
type Options struct {
	// Endpoint is the GraphQL URL the IDE posts to ("/graphql"). An absolute
	// URL on another origin is added to the page's connect-src.
	Endpoint string
	// Title is the page title ("Cartograph GraphiQL").
	Title string
	// DefaultQuery fills the editor on a first visit (ExampleQuery).
	DefaultQuery string
	// DefaultHeaders is a JSON object of request headers shown in the headers
	// editor and sent with every request, e.g. {"X-Shop-Handle": "apparel"};
	// empty for none. See HeadersJSON.
	DefaultHeaders string
	// Assets replaces the embedded dist/ directory (tests); nil uses it.
	Assets fs.FS
}

//go:embed dist
var distFS embed.FS

//go:embed static
var staticFS embed.FS

// thirdParty are the files `make assets` copies into dist/; the page needs
// all of them.
var thirdParty = []string{"react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "graphiql.min.css"}

// HeadersJSON returns headers as the JSON object DefaultHeaders expects,
// leaving out empty values; "" when none remain.
func HeadersJSON(headers map[string]string) string {
	h := make(map[string]string, len(headers))
	for k, v := range headers {
		if v != "" {
			h[k] = v
		}
	}
	if len(h) == 0 {
		return ""
	}
	b, _ := json.MarshalIndent(h, "", "  ") // map[string]string cannot fail
	return string(b)
}

type asset struct {
	name        string
	contentType string
	body        []byte
	hash        string // first 16 hex digits of the SHA-256 of body

	gzipOnce sync.Once
	gzipped  []byte // nil when compression does not pay
}

type handler struct {
	page    []byte
	etag    string // of page: identical on every instance running this build
	csp     string
	assets  map[string]*asset
	favicon *asset
}

// Handler returns the handler for the page, its assets and the favicon (see
// the package comment for the routes to mount). Anything else is 404.
func Handler(opts Options) http.Handler {
	if opts.Endpoint == "" {
		opts.Endpoint = "/graphql"
	}
	if opts.Title == "" {
		opts.Title = "Cartograph GraphiQL"
	}
	if opts.DefaultQuery == "" {
		opts.DefaultQuery = ExampleQuery
	}
	if opts.DefaultHeaders != "" {
		var buf bytes.Buffer
		if json.Indent(&buf, []byte(opts.DefaultHeaders), "", "  ") == nil {
			opts.DefaultHeaders = buf.String()
		}
	}
	dist := opts.Assets
	if dist == nil {
		dist, _ = fs.Sub(distFS, "dist") // a literal, existing directory
	}
	static, _ := fs.Sub(staticFS, "static")

	h := &handler{assets: map[string]*asset{}}
	load := func(fsys fs.FS, name string) *asset {
		b, err := fs.ReadFile(fsys, name)
		if err != nil || len(b) == 0 {
			return nil
		}
		sum := sha256.Sum256(b)
		a := &asset{name: name, contentType: contentType(name), body: b, hash: hex.EncodeToString(sum[:8])}
		h.assets[name] = a
		return a
	}
	for _, name := range []string{"favicon.svg", "init.js", "page.css"} {
		load(static, name)
	}
	h.favicon = h.assets["favicon.svg"]
	complete := true
	for _, name := range thirdParty {
		complete = load(dist, name) != nil && complete
	}
	load(dist, "THIRD_PARTY_LICENSES.txt")

	h.csp = "default-src 'none'; script-src 'self'; " +
		// GraphiQL and CodeMirror set style attributes and inject <style>.
		"style-src 'self' 'unsafe-inline'; " +
		// GraphiQL's stylesheet carries its fonts and icons as data: URLs.
		"font-src 'self' data:; img-src 'self' data:; " +
		"connect-src 'self'" + endpointOrigin(opts.Endpoint) + "; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

	href := func(name string) string { return AssetPrefix + name + "?v=" + h.assets[name].hash }
	data := map[string]any{
		"Title": opts.Title, "Endpoint": opts.Endpoint, "DefaultQuery": opts.DefaultQuery,
		"DefaultHeaders": opts.DefaultHeaders, "Complete": complete,
		"Favicon": href("favicon.svg"), "PageCSS": href("page.css"),
	}
	if complete {
		data["GraphiQLCSS"], data["InitJS"] = href("graphiql.min.css"), href("init.js")
		data["Scripts"] = []string{href("react.production.min.js"), href("react-dom.production.min.js"), href("graphiql.min.js")}
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		panic("graphiql: page template: " + err.Error()) // a bug in this package
	}
	h.page = buf.Bytes()
	sum := sha256.Sum256(h.page)
	h.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch p := r.URL.Path; {
	case p == "/":
		hd := w.Header()
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Cache-Control", "no-cache")
		hd.Set("Content-Security-Policy", h.csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("ETag", h.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.page))
	case p == "/favicon.ico" && h.favicon != nil:
		h.serveAsset(w, r, h.favicon, false)
	case strings.HasPrefix(p, AssetPrefix):
		a := h.assets[strings.TrimPrefix(p, AssetPrefix)]
		if a == nil {
			http.NotFound(w, r)
			return
		}
		h.serveAsset(w, r, a, r.URL.Query().Get("v") == a.hash)
	default:
		http.NotFound(w, r)
	}
}

// serveAsset answers with a's bytes, gzipped when the client accepts it.
// Versioned URLs (the page links ?v=HASH) never change, so they are cached
// for a year; any other URL is revalidated by ETag.
func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, a *asset, versioned bool) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Vary", "Accept-Encoding")
	if versioned {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	body, etag := a.body, `"`+a.hash+`"`
	if gz := a.gzip(); gz != nil && acceptsGzip(r) {
		body, etag = gz, `"`+a.hash+`-gz"`
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// gzip compresses a once, on first use (GraphiQL's bundle shrinks ~4×).
func (a *asset) gzip() []byte {
	a.gzipOnce.Do(func() {
		if len(a.body) < 1024 {
			return
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // a valid level
		_, _ = zw.Write(a.body)
		_ = zw.Close()
		if buf.Len() < len(a.body)*9/10 {
			a.gzipped = buf.Bytes()
		}
	})
	return a.gzipped
}

func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, enc := range strings.Split(v, ",") {
			name, q, _ := strings.Cut(strings.TrimSpace(enc), ";")
			if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
				return true
			}
		}
	}
	return false
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	default:
		return "text/plain; charset=utf-8"
	}
}

// endpointOrigin is " <origin>" for an absolute endpoint URL, else "".
func endpointOrigin(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	return " " + u.Scheme + "://" + u.Host
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="icon" type="image/svg+xml" href="{{.Favicon}}">
{{- if .Complete}}
<link rel="stylesheet" href="{{.GraphiQLCSS}}">
{{- end}}
<link rel="stylesheet" href="{{.PageCSS}}">
</head>
<body>
{{- if .Complete}}
<div id="graphiql" data-endpoint="{{.Endpoint}}" data-default-query="{{.DefaultQuery}}" data-default-headers="{{.DefaultHeaders}}">Loading GraphiQL…</div>
<noscript><p class="cartograph-message">GraphiQL needs JavaScript. The GraphQL endpoint answers at <code>{{.Endpoint}}</code>.</p></noscript>
{{- range .Scripts}}
<script src="{{.}}"></script>
{{- end}}
<script src="{{.InitJS}}"></script>
{{- else}}
<div class="cartograph-message">
<h1>{{.Title}}: GraphiQL is not built in</h1>
<p>This binary was built without GraphiQL's files, so the in-browser IDE is not available.
To get it, run <code>make assets</code> (it needs npm; <code>make run</code> and <code>make build</code> run it for you) and rebuild.</p>
<p>The GraphQL endpoint works regardless: POST queries to <code>{{.Endpoint}}</code>{{if .DefaultHeaders}} with the headers <code>{{.DefaultHeaders}}</code>{{end}}.</p>
</div>
{{- end}}
</body>
</html>
`))
