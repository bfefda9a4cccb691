package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"cartograph/internal/config"
)

func TestPublicResponseCache(t *testing.T) {
	e := newEnvWith(t, 0, func(c *config.Config) { c.PublicCacheTTL = time.Minute })
	h := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "cashmere-beanie", 7, 0)
	const q = `query($h: String!) { product(handle: $h) { title variants(first: 1) { nodes { id quantityAvailable } } } }`
	read := func() (qty int, statements int64) {
		before := e.db.AppStats.Statements()
		var out struct {
			Product struct {
				Variants struct {
					Nodes []struct{ QuantityAvailable int }
				}
			}
		}
		mustData(t, e.do(t, h, q, map[string]any{"h": "cashmere-beanie"}), &out)
		return out.Product.Variants.Nodes[0].QuantityAvailable, e.db.AppStats.Statements() - before
	}
	qty, n := read()
	if qty != 7 || n == 0 {
		t.Fatalf("first read: qty %d, %d statements", qty, n)
	}
	if qty, n = read(); qty != 7 || n != 0 {
		t.Fatalf("second read should be a cache hit: qty %d, %d statements", qty, n)
	}
	t.Run("StockMovementInvalidatesAtOnce", func(t *testing.T) {
		if _, out := e.checkout(t, h, e.newCart(t, h, v, 3), "cache-1"); out.CheckoutBegin.Order == nil {
			t.Fatalf("checkout: %+v", out)
		}
		if qty, n := read(); qty != 4 || n == 0 {
			t.Fatalf("after reserving 3: qty %d (want 4), %d statements", qty, n)
		}
	})
	t.Run("VariablesAreHashed", func(t *testing.T) {
		var out struct{ Product *struct{ Title string } }
		mustData(t, e.do(t, h, q, map[string]any{"h": "merino-crew-tee"}), &out)
		if out.Product == nil || out.Product.Title != "Merino Crew Tee" {
			t.Fatalf("another handle got %+v", out)
		}
	})
	t.Run("ShopsDoNotShareEntries", func(t *testing.T) {
		r := e.do(t, map[string]string{"X-Shop-Handle": "electronics"}, q, map[string]any{"h": "cashmere-beanie"})
		if string(r.Data) != `{"product":null}` {
			t.Fatalf("electronics got apparel's cached product: %s", r.Data)
		}
	})
	t.Run("CustomersAreNotServedFromCache", func(t *testing.T) {
		e.register(t, "apparel", "cache@example.com", "password-cache-1")
		tok, _ := e.customerLogin(t, "apparel", "cache@example.com", "password-cache-1")
		before := e.db.AppStats.Statements()
		r := e.do(t, map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + tok}, q, map[string]any{"h": "cashmere-beanie"})
		var out map[string]any
		if err := json.Unmarshal(r.Data, &out); err != nil || e.db.AppStats.Statements() == before {
			t.Fatalf("customer read was served from the cache (%v)", err)
		}
	})
}
