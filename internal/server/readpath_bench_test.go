package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// readPath is a gateway over a seeded database driven in-process through
// its real HTTP handler (auth, loaders, cost, gqlgen executor, JSON
// writer), without a network: what the benchmark and the allocation guard
// measure is the server's own per-request work plus pgx.
type readPath struct {
	h      http.Handler
	stats  func() int64
	bodies map[string][]byte
}

func newReadPath(tb testing.TB) *readPath {
	tb.Helper()
	db := newBareEnv(tb, 60)
	_, app := startServer(tb, db, nil, nil)
	rp := &readPath{h: app, stats: db.AppStats.Statements, bodies: map[string][]byte{}}
	for name, req := range map[string]struct {
		doc  string
		vars map[string]any
	}{
		"listing": {"listing.graphql", map[string]any{"first": 24}},
		"product": {"product.graphql", map[string]any{"h": "product-7"}},
	} {
		b, _ := json.Marshal(map[string]any{"query": benchDoc(tb, req.doc), "variables": req.vars})
		rp.bodies[name] = b
	}
	return rp
}

// do runs one request and returns the response body.
func (rp *readPath) do(tb testing.TB, name string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(rp.bodies[name]))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shop-Handle", "bench-1")
	req.RemoteAddr = "127.0.0.1:50000"
	w := httptest.NewRecorder()
	rp.h.ServeHTTP(w, req)
	if w.Code != http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"errors"`)) {
		tb.Fatalf("%s: status %d: %.300s", name, w.Code, w.Body.String())
	}
	return w
}

func benchRead(b *testing.B, name string) {
	rp := newReadPath(b)
	for range 20 {
		rp.do(b, name)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rp.do(b, name)
	}
}

// BenchmarkListing is .ci/bench/listing.graphql (24 products × 4 variants)
// on the bench shop: go test -run '^$' -bench Listing -benchmem ./internal/server/
func BenchmarkListing(b *testing.B) { benchRead(b, "listing") }

// BenchmarkProduct is .ci/bench/product.graphql (one product by handle).
func BenchmarkProduct(b *testing.B) { benchRead(b, "product") }
