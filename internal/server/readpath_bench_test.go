package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"cartograph/internal/config"
)

// readPath is a gateway over a seeded database driven in-process through
// its real HTTP handler (auth, loaders, cost, gqlgen executor, JSON
// writer), without a network: what the benchmark and the allocation guard
// measure is the server's own per-request work plus pgx.
type readPath struct {
	h      http.Handler
	stats  func() int64
	bodies map[string][]byte
	w      reusedWriter
}

func newReadPath(tb testing.TB) *readPath { return newReadPathWith(tb, nil) }

func newReadPathWith(tb testing.TB, tune func(*config.Config)) *readPath {
	tb.Helper()
	db := newBareEnv(tb, 60)
	_, app := startServer(tb, db, nil, tune)
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

// do runs one request and returns the response body (valid until the
// next call). The response is written to one reused writer, so what is
// counted is the server's work, not a recorder growing a fresh buffer.
func (rp *readPath) do(tb testing.TB, name string) []byte {
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(rp.bodies[name]))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shop-Handle", "bench-1")
	req.RemoteAddr = "127.0.0.1:50000"
	w := &rp.w
	w.reset()
	rp.h.ServeHTTP(w, req)
	if w.code != http.StatusOK || bytes.Contains(w.body.Bytes(), []byte(`"errors"`)) {
		tb.Fatalf("%s: status %d: %.300s", name, w.code, w.body.String())
	}
	return w.body.Bytes()
}

// reusedWriter is an http.ResponseWriter kept across requests.
type reusedWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *reusedWriter) reset() {
	if w.header == nil {
		w.header = http.Header{}
	}
	clear(w.header)
	w.code = 0
	w.body.Reset()
}

func (w *reusedWriter) Header() http.Header { return w.header }

func (w *reusedWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *reusedWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.body.Write(p)
}

func benchRead(b *testing.B, name string) { benchReadWith(b, name, nil) }

func benchReadWith(b *testing.B, name string, tune func(*config.Config)) {
	rp := newReadPathWith(b, tune)
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

// BenchmarkListingNoCost is the listing without document limits and query
// cost (the rate-limit check then makes its own round trip): the
// baseline of the cost machinery's overhead, run beside BenchmarkListing.
func BenchmarkListingNoCost(b *testing.B) {
	benchReadWith(b, "listing", func(c *config.Config) { c.BenchNoCost = true })
}

// Allocation ceilings of the read path, a little above what it reaches
// (allocation counts are deterministic, timings are not): a change that
// allocates more per request fails here instead of in `make bench`. The
// race detector makes sync.Pool drop items at random, so -race runs get
// their own, looser ceilings.
// The statement count per request is exact: the listing is its page, its
// variants and its images (three statements), the product one more for
// its options.
var readPathCeilings = map[string]struct {
	plain, race float64
	statements  int64
}{
	"listing": {1_300, 1_380, 3},
	"product": {780, 800, 4},
}

func TestReadPathAllocationCeiling(t *testing.T) {
	rp := newReadPath(t)
	for _, name := range []string{"listing", "product"} {
		for range 10 {
			rp.do(t, name)
		}
		before := rp.stats()
		rp.do(t, name)
		stmts := rp.stats() - before
		allocs := testing.AllocsPerRun(30, func() { rp.do(t, name) })
		ceiling := readPathCeilings[name].plain
		if raceEnabled {
			ceiling = readPathCeilings[name].race
		}
		t.Logf("%s: %.0f allocs/request (ceiling %.0f), %d statements/request", name, allocs, ceiling, stmts)
		if allocs > ceiling {
			t.Errorf("%s: %.0f allocations per request, ceiling %.0f", name, allocs, ceiling)
		}
		if want := readPathCeilings[name].statements; stmts != want {
			t.Errorf("%s: %d SQL statements per request, want %d", name, stmts, want)
		}
	}
}
