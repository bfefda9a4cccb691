// Package adminui serves Cartograph's built-in admin pages: the live-stock
// page at /admin/stock (also /admin/inventory). They are static HTML, CSS
// and a small vanilla JS module of our own, embedded in the binary; the
// page talks to the same GraphQL endpoint as any client (staffLogin,
// inventoryLevels, and the inventoryChanged subscription over
// graphql-transport-ws with a client written here). No third-party code, no
// CDN. Anyone may load the page; everything it shows comes through the API
// with the staff credentials typed into it.
package adminui

import (
	"embed"
	"net/http"
)

//go:embed static
var static embed.FS

// csp allows only the page's own scripts, styles and connections
// (websockets to the same host included).
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the live-stock page and its assets. Mount it at
// "GET /admin/" (it answers /admin/stock, /admin/inventory, /admin/stock.js
// and /admin/stock.css; anything else is 404).
func Handler() http.Handler {
	files := map[string]struct{ name, typ string }{
		"/admin/stock":     {"static/stock.html", "text/html; charset=utf-8"},
		"/admin/inventory": {"static/stock.html", "text/html; charset=utf-8"},
		"/admin/stock.js":  {"static/stock.js", "text/javascript; charset=utf-8"},
		"/admin/stock.css": {"static/stock.css", "text/css; charset=utf-8"},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		b, err := static.ReadFile(f.name)
		if err != nil {
			http.Error(w, "missing asset", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.typ)
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(b)
	})
}
