package server

import (
	"net/http"
	"strings"
)

// corsAllowHeaders are the request headers a browser storefront may send.
const corsAllowHeaders = "Authorization, Content-Type, Accept, X-Shopify-Storefront-Access-Token, X-Shop-Handle, X-Api-Key, X-Request-Id"

// withCORS answers preflights and adds CORS headers for the configured
// origins (ALLOWED_ORIGINS). An exact origin in the list is echoed with
// Access-Control-Allow-Credentials (session cookies may travel); "*"
// admits any origin without credentials, which is what a browser
// storefront with a public pk_ key needs and is safe because a pk_ key is
// public anyway. Responses always vary by Origin. With no origins
// configured no CORS headers are sent (same-origin only).
func withCORS(origins []string, next http.Handler) http.Handler {
	exact := map[string]bool{}
	anyOrigin := false
	for _, o := range origins {
		if o == "*" {
			anyOrigin = true
		} else {
			exact[strings.TrimRight(strings.ToLower(o), "/")] = true
		}
	}
	if len(exact) == 0 && !anyOrigin {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		allowed, creds := false, false
		if origin != "" {
			if exact[strings.ToLower(origin)] {
				allowed, creds = true, true
			} else if anyOrigin {
				allowed = true
			}
		}
		if allowed {
			if creds {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Credentials", "true")
			} else {
				h.Set("Access-Control-Allow-Origin", "*")
			}
			h.Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if allowed {
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
