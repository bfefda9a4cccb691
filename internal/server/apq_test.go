package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

// TestPersistedQueriesSharedByInstances: a document registered through one
// gateway is served by hash alone through another.
func TestPersistedQueriesSharedByInstances(t *testing.T) {
	a := newEnv(t, 0)
	b := newServerOn(t, a)
	// A fresh document each run: Redis outlives test runs.
	doc := `{ shop { name } } # ` + t.Name() + " " + a.db.Name
	sum := sha256.Sum256([]byte(doc))
	hash := hex.EncodeToString(sum[:])
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	hashOnly, _ := json.Marshal(map[string]any{"extensions": ext})

	t.Run("ErrUnknownHashBeforeRegistration", func(t *testing.T) {
		r := costPost(t, b.srv.URL, hashOnly, nil)
		if len(r.Errors) == 0 || !strings.Contains(string(r.raw), "PersistedQueryNotFound") {
			t.Fatalf("unknown hash: %s", r.raw)
		}
	})
	full, _ := json.Marshal(map[string]any{"query": doc, "extensions": ext})
	if r := costPost(t, a.srv.URL, full, nil); r.status != 200 || len(r.Errors) > 0 {
		t.Fatalf("register on A: %s", r.raw)
	}
	t.Run("HashAloneServedByTheOtherInstance", func(t *testing.T) {
		r := costPost(t, b.srv.URL, hashOnly, nil)
		if r.status != 200 || len(r.Errors) > 0 || !strings.Contains(string(r.Data), "Northwind") {
			t.Fatalf("hash on B: %s", r.raw)
		}
	})
	t.Run("ErrHashMismatchRefused", func(t *testing.T) {
		bad, _ := json.Marshal(map[string]any{"query": "{ shop { id } }", "extensions": ext})
		if r := costPost(t, b.srv.URL, bad, nil); len(r.Errors) == 0 {
			t.Fatalf("a document under another document's hash was accepted: %s", r.raw)
		}
	})
}
