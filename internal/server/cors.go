package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"cartograph/internal/documents"
	"cartograph/internal/shop"
)

// corsAllowHeaders are the request headers a browser storefront may send.
const corsAllowHeaders = "Authorization, Content-Type, Accept, X-Shopify-Storefront-Access-Token, X-Shop-Handle, X-Api-Key, X-Request-Id"

// shopOrigins decides per-shop origins: hostShop names the shop of the
// request's Host (nil: none), allows reads the shop's cached policy.
type shopOrigins struct {
	hostShop func(context.Context, *http.Request) *shop.Shop
	allows   func(ctx context.Context, sh *shop.Shop, origin string) bool
}

// corsFor builds shopOrigins from the gateway's host resolution and the
// shops' API policies.
func corsFor(hostShop func(context.Context, *http.Request) *shop.Shop, docs *documents.Service) *shopOrigins {
	return &shopOrigins{hostShop: hostShop, allows: func(ctx context.Context, sh *shop.Shop, origin string) bool {
		ok, err := docs.AllowsOrigin(ctx, sh.ID, origin)
		return err == nil && ok
	}}
}

type corsVerdictKey struct{}

// corsVerdict is withCORS's decision for a request's Origin, for the
// websocket upgrade (which has no preflight and whose response headers a
// browser does not check): allow is the Allow-Origin value ("" refused),
// creds whether credentials (cookies) may be used.
type corsVerdict struct {
	allow string
	creds bool
}

// originVerdict decides a websocket upgrade's Origin: no Origin (not a
// browser) or the request's own host (same origin) may use everything;
// otherwise withCORS's verdict. ok false: refuse the upgrade.
func originVerdict(r *http.Request) (ok, cookies bool) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true, true
	}
	if u, err := url.Parse(origin); err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) {
		return true, true
	}
	v, _ := r.Context().Value(corsVerdictKey{}).(corsVerdict)
	return v.allow != "", v.creds
}

// withCORS answers preflights and adds CORS headers. Two sources of
// allowed origins:
//   - the gateway's ALLOWED_ORIGINS: an exact origin is echoed with
//     Access-Control-Allow-Credentials (session cookies may travel; the
//     operator vouches for it); "*" admits any origin without credentials,
//     which is what a browser storefront with a public pk_ key needs.
//   - a shop's ApiPolicy.allowedOrigins, when the request's Host names the
//     shop (custom domain or <handle>.<BASE_DOMAIN>). A preflight carries
//     no key, token or shop header, so the Host is the only shop it can
//     name; the same rule applies to the actual request so the two always
//     agree. Never with credentials: a tenant cannot make browsers send
//     the gateway's cookies to an origin it chose.
//
// Responses always vary by Origin. A request without Origin costs nothing;
// a shop's origins are read from the per-instance policy cache.
func withCORS(origins []string, per *shopOrigins, next http.Handler) http.Handler {
	exact := map[string]bool{}
	anyOrigin := false
	for _, o := range origins {
		if o == "*" {
			anyOrigin = true
		} else {
			exact[strings.TrimRight(strings.ToLower(o), "/")] = true
		}
	}
	if len(exact) == 0 && !anyOrigin && per == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		allow := "" // the Access-Control-Allow-Origin value
		creds := false
		switch {
		case origin == "":
		case exact[strings.ToLower(origin)]:
			allow, creds = origin, true
		case anyOrigin:
			allow = "*"
		case per != nil && origin != "null":
			if sh := per.hostShop(r.Context(), r); sh != nil && per.allows(r.Context(), sh, origin) {
				allow = origin
			}
		}
		if origin != "" {
			r = r.WithContext(context.WithValue(r.Context(), corsVerdictKey{}, corsVerdict{allow: allow, creds: creds}))
		}
		if allow != "" {
			h.Set("Access-Control-Allow-Origin", allow)
			if creds {
				h.Set("Access-Control-Allow-Credentials", "true")
			}
			h.Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if allow != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
