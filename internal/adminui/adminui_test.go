package adminui_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"cartograph/internal/adminui"
)

func TestHandler(t *testing.T) {
	h := adminui.Handler()
	for _, tc := range []struct {
		path, typ, contains string
		status              int
	}{
		{"/admin/stock", "text/html", `src="/admin/stock.js"`, 200},
		{"/admin/inventory", "text/html", `<table id="stock"`, 200},
		{"/admin/stock.js", "text/javascript", "graphql-transport-ws", 200},
		{"/admin/stock.css", "text/css", "tr.low", 200},
		{"/admin/../etc/passwd", "", "", 404},
		{"/admin/static/stock.html", "", "", 404},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/admin/"), func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.typ) {
				t.Fatalf("content type %q", ct)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
				t.Fatalf("CSP %q", csp)
			}
			if !strings.Contains(rec.Body.String(), tc.contains) {
				t.Fatalf("body lacks %q", tc.contains)
			}
		})
	}
	// Nothing third-party and nothing fetched from elsewhere.
	for _, path := range []string{"/admin/stock", "/admin/stock.js"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if b := rec.Body.String(); strings.Contains(b, "http://") || strings.Contains(b, "https://") || strings.Contains(b, "innerHTML") {
			t.Fatalf("%s references another origin or writes innerHTML", path)
		}
	}
}
