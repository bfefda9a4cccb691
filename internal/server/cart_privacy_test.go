package server_test

import (
	"strings"
	"testing"
)

// TestCartBuyerIdentityIsPrivate: a cart id is a bearer secret for the
// cart's lines, not for who the buyer is: public-key callers holding it
// do not see the buyer's email or customer; the buyer (as a logged-in
// customer) does.
func TestCartBuyerIdentityIsPrivate(t *testing.T) {
	e := newEnv(t, 0)
	h := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "merino-crew-tee", 5, 0)
	cartID := e.newCart(t, h, v, 1)
	const q = `mutation($c: ID!) { cartBuyerIdentityUpdate(cartId: $c, buyerIdentity: {email: "private@example.com"}) { cart { buyerIdentity { email customer { id } } } } }`
	r := e.do(t, h, q, map[string]any{"c": cartID})
	if len(r.Errors) > 0 || strings.Contains(string(r.Data), "private@example.com") {
		t.Fatalf("a pk_ caller read the buyer's email back: %s %+v", r.Data, r.Errors)
	}
	read := e.do(t, h, `query($c: ID!) { cart(id: $c) { buyerIdentity { email } } }`, map[string]any{"c": cartID})
	if strings.Contains(string(read.Data), "private@example.com") {
		t.Fatalf("anyone holding the cart id reads the email: %s", read.Data)
	}
}
