package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"cartograph/internal/config"
	"cartograph/internal/relay"

	"github.com/google/uuid"
)

func TestCartLineBound(t *testing.T) {
	e := newEnvWith(t, 0, func(c *config.Config) { c.CartMaxLines = 5 })
	rows, err := e.db.Pool.Query(context.Background(), `SELECT v.id FROM variants v JOIN products p ON p.shop_id = v.shop_id AND p.id = v.product_id
		JOIN shops s ON s.id = v.shop_id WHERE s.handle = 'apparel' AND p.status = 'active' LIMIT 6`)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, relay.GlobalID("ProductVariant", id))
	}
	rows.Close()
	if len(ids) < 6 {
		t.Fatalf("need 6 variants, have %d", len(ids))
	}
	h := e.storefront(t, "apparel")
	lines := func(ids []string) []map[string]any {
		var out []map[string]any
		for _, id := range ids {
			out = append(out, map[string]any{"merchandiseId": id, "quantity": 1})
		}
		return out
	}
	const create = `mutation($l: [CartLineInput!]!) { cartCreate(input: {lines: $l}) { cart { id lines(first: 10) { nodes { id } } } userErrors { code message } } }`
	var ok struct {
		CartCreate struct {
			Cart       *struct{ ID string }
			UserErrors []gqlError
		}
	}
	mustData(t, e.do(t, h, create, map[string]any{"l": lines(ids[:5])}), &ok)
	if ok.CartCreate.Cart == nil {
		t.Fatalf("5 lines (the bound) refused: %+v", ok.CartCreate.UserErrors)
	}
	t.Run("NPlusOneRefusedOnCreate", func(t *testing.T) {
		var out struct {
			CartCreate struct {
				Cart       *struct{ ID string }
				UserErrors []gqlError
			}
		}
		mustData(t, e.do(t, h, create, map[string]any{"l": lines(ids[:6])}), &out)
		if out.CartCreate.Cart != nil || len(out.CartCreate.UserErrors) == 0 {
			t.Fatalf("6 lines accepted: %+v", out)
		}
	})
	t.Run("NPlusOneRefusedOnAddNothingChanged", func(t *testing.T) {
		var out struct {
			CartLinesAdd struct {
				Cart       *struct{ ID string }
				UserErrors []gqlError
			}
		}
		mustData(t, e.do(t, h, `mutation($c: ID!, $l: [CartLineInput!]!) { cartLinesAdd(cartId: $c, lines: $l) { cart { id } userErrors { code message } } }`,
			map[string]any{"c": ok.CartCreate.Cart.ID, "l": lines(ids[5:6])}), &out)
		if len(out.CartLinesAdd.UserErrors) == 0 {
			t.Fatalf("sixth line accepted: %+v", out)
		}
		var got struct {
			Cart struct {
				Lines struct{ Nodes []struct{ ID string } }
			}
		}
		mustData(t, e.do(t, h, `query($c: ID!) { cart(id: $c) { lines(first: 10) { nodes { id } } } }`, map[string]any{"c": ok.CartCreate.Cart.ID}), &got)
		if n := len(got.Cart.Lines.Nodes); n != 5 {
			t.Fatalf("cart has %d lines after a refused add, want 5", n)
		}
	})
}

func TestStringInputEncoding(t *testing.T) {
	e := newEnv(t, 0)
	h := map[string]string{"X-Shop-Handle": "apparel"}
	const q = `query($h: String!) { product(handle: $h) { title } }`
	t.Run("NULInVariable", func(t *testing.T) {
		r := e.do(t, h, q, map[string]any{"h": "cashmere\x00beanie"})
		if r.code() != "BAD_USER_INPUT" {
			t.Fatalf("status %d %+v", r.Status, r.Errors)
		}
	})
	t.Run("NULInDocumentLiteral", func(t *testing.T) {
		r := e.do(t, h, `{ product(handle: "a\u0000b") { title } }`, nil)
		if r.code() != "BAD_USER_INPUT" {
			t.Fatalf("status %d %+v", r.Status, r.Errors)
		}
	})
	t.Run("InvalidUTF8Body", func(t *testing.T) {
		r := e.raw(t, "/graphql", h, []byte("{\"query\":\"{ product(handle: \\\"\xff\xfe\\\") { title } }\"}"))
		if r.code() != "BAD_USER_INPUT" || r.Status != http.StatusBadRequest {
			t.Fatalf("status %d %+v", r.Status, r.Errors)
		}
	})
	t.Run("ValidUnicodeStillWorks", func(t *testing.T) {
		r := e.do(t, h, q, map[string]any{"h": "caf\u00e9-" + strings.Repeat("\u00fc", 3)})
		if r.code() != "" {
			t.Fatalf("status %d %+v", r.Status, r.Errors)
		}
	})
}

func TestPublicKeyIdempotencyIsPerCart(t *testing.T) {
	e := newEnv(t, 0)
	h := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "cashmere-beanie", 10, 0)
	_, a := e.checkout(t, h, e.newCart(t, h, v, 1), "order-1")
	_, b := e.checkout(t, h, e.newCart(t, h, v, 1), "order-1")
	if a.CheckoutBegin.Order == nil || b.CheckoutBegin.Order == nil {
		t.Fatalf("checkouts: %+v / %+v", a, b)
	}
	if a.CheckoutBegin.Order.ID == b.CheckoutBegin.Order.ID {
		t.Fatal("two shoppers of one pk_ key sending the same idempotency key got the same order")
	}
	cart := e.newCart(t, h, v, 1)
	_, c1 := e.checkout(t, h, cart, "order-2")
	_, c2 := e.checkout(t, h, cart, "order-2")
	if c1.CheckoutBegin.Order == nil || c2.CheckoutBegin.Order == nil || c1.CheckoutBegin.Order.ID != c2.CheckoutBegin.Order.ID {
		t.Fatalf("a replay on the same cart must return the same order: %+v / %+v", c1, c2)
	}
}
