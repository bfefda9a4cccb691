package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// hostileDocs are the documents `make bench` replays in its under-attack
// phase (.ci/bench.sh), by name.
func hostileDocs() map[string]string {
	rep := strings.Repeat
	var aliases, schemas strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&aliases, "a%d: products(first: 250) { nodes { id } } ", i)
	}
	for i := range 2000 {
		fmt.Fprintf(&schemas, "s%d: __schema { types { fields { name } } } ", i)
	}
	var frags strings.Builder
	frags.WriteString("{ products(first: 1) { nodes { ...F0 } } }\n")
	for i := range 30 {
		fmt.Fprintf(&frags, "fragment F%d on Product { ...F%d ...F%d ...F%d }\n", i, i+1, i+1, i+1)
	}
	frags.WriteString("fragment F30 on Product { id }")
	return map[string]string{
		"fanout":    "{ products(first: 250) { nodes { " + rep("variants(first: 250) { nodes { product { ", 3) + "id" + rep(" } } }", 3) + " } } }",
		"aliases":   "{ " + aliases.String() + "}",
		"typename":  "{ " + rep("__typename ", 50000) + "}",
		"schema":    "{ " + schemas.String() + "}",
		"fragments": frags.String(),
		"deep":      "{ products(first: 1) { nodes { " + rep("variants(first: 1) { nodes { product { ", 160) + "id" + rep(" } } }", 160) + " } } }",
	}
}

// BenchmarkHostileDocuments measures the server's own cost of refusing
// each hostile document (in process, no network).
func BenchmarkHostileDocuments(b *testing.B) {
	e := newEnvWith(&testing.T{}, 0, strictCost)
	h := e.app
	for name, doc := range hostileDocs() {
		body, _ := json.Marshal(map[string]any{"query": doc})
		b.Run(fmt.Sprintf("%s-%dKB", name, len(body)>>10), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Shop-Handle", "apparel")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code < 400 {
					b.Fatalf("%s: status %d: %.200s", name, w.Code, w.Body.String())
				}
			}
		})
	}
}
