package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// stock sets a variant's stock: onHand[i] in the shop's i-th warehouse by
// priority, nothing reserved. It returns the variant's global id.
func (e *env) stock(t *testing.T, shop, productHandle string, onHand ...int) string {
	t.Helper()
	ctx := context.Background()
	var vid string
	err := e.db.Pool.QueryRow(ctx, `SELECT v.id::text FROM variants v JOIN products p ON p.shop_id = v.shop_id AND p.id = v.product_id
		JOIN shops s ON s.id = p.shop_id WHERE s.handle = $1 AND p.handle = $2 ORDER BY v.position LIMIT 1`, shop, productHandle).Scan(&vid)
	if err != nil {
		t.Fatalf("variant of %s/%s: %v", shop, productHandle, err)
	}
	rows, err := e.db.Pool.Query(ctx, `SELECT w.id::text FROM warehouses w JOIN shops s ON s.id = w.shop_id WHERE s.handle = $1 ORDER BY w.priority, w.id`, shop)
	if err != nil {
		t.Fatal(err)
	}
	var whs []string
	for rows.Next() {
		var w string
		_ = rows.Scan(&w)
		whs = append(whs, w)
	}
	rows.Close()
	for i, w := range whs {
		n := 0
		if i < len(onHand) {
			n = onHand[i]
		}
		if _, err := e.db.Pool.Exec(ctx, `UPDATE inventory_levels SET on_hand = $1, reserved = 0 WHERE variant_id = $2 AND warehouse_id = $3`, n, vid, w); err != nil {
			t.Fatal(err)
		}
	}
	return "gid://cartograph/ProductVariant/" + vid
}

// levels returns a variant's total on_hand and reserved.
func (e *env) levels(t *testing.T, variantGID string) (onHand, reserved int) {
	t.Helper()
	id := strings.TrimPrefix(variantGID, "gid://cartograph/ProductVariant/")
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT sum(on_hand), sum(reserved) FROM inventory_levels WHERE variant_id = $1`, id).Scan(&onHand, &reserved); err != nil {
		t.Fatal(err)
	}
	return
}

func (e *env) storefront(t *testing.T, shop string) map[string]string {
	t.Helper()
	_, pk := e.createKey(t, shop, "PUBLIC", "")
	return map[string]string{"X-Shopify-Storefront-Access-Token": pk}
}

func (e *env) staff(t *testing.T, shop string) map[string]string {
	return map[string]string{"X-Shop-Handle": shop, "Authorization": "Bearer " + e.staffToken(t, shop)}
}

// mustData decodes r's data or fails on any error.
func mustData(t *testing.T, r *gqlResponse, into any) {
	t.Helper()
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		t.Fatalf("status %d errors %+v", r.Status, r.Errors)
	}
	if into != nil {
		if err := json.Unmarshal(r.Data, into); err != nil {
			t.Fatalf("decode %s: %v", r.Data, err)
		}
	}
}

func (e *env) newCart(t *testing.T, h map[string]string, variant string, qty int) string {
	t.Helper()
	var out struct {
		CartCreate struct {
			Cart       *struct{ ID string }
			UserErrors []gqlError
		}
	}
	mustData(t, e.do(t, h, `mutation($v: ID!, $q: Int) { cartCreate(input: {lines: [{merchandiseId: $v, quantity: $q}]}) { cart { id } userErrors { field message code } } }`,
		map[string]any{"v": variant, "q": qty}), &out)
	if out.CartCreate.Cart == nil {
		t.Fatalf("cartCreate: %+v", out.CartCreate.UserErrors)
	}
	return out.CartCreate.Cart.ID
}

type checkoutOut struct {
	CheckoutBegin struct {
		Order *struct {
			ID, Name, Status string
			TotalPrice       struct{ Amount, CurrencyCode string }
		}
		Payment *struct {
			Provider     string
			ClientSecret *string
		}
		UserErrors []struct {
			Field   []string
			Message string
			Code    string
		}
	}
}

const checkoutMutation = `mutation($c: ID!, $k: String!, $email: String!) { checkoutBegin(input: {cartId: $c, email: $email, idempotencyKey: $k,
	shippingAddress: {firstName: "Ada", lastName: "Lovelace", address1: "12 St James's Square", city: "London", zip: "SW1Y 4JH", country: "GB"}}) {
	order { id name status totalPrice { amount currencyCode } } payment { provider clientSecret } userErrors { field message code } } }`

func (e *env) checkout(t *testing.T, h map[string]string, cartID, key string) (*gqlResponse, checkoutOut) {
	t.Helper()
	r := e.do(t, h, checkoutMutation, map[string]any{"c": cartID, "k": key, "email": "ada@example.com"})
	var out checkoutOut
	if r.Data != nil {
		_ = json.Unmarshal(r.Data, &out)
	}
	return r, out
}

// intentOf returns the order's payment intent id and shop id.
func (e *env) intentOf(t *testing.T, orderGID string) (intent, shopID, orderID string) {
	t.Helper()
	orderID = strings.TrimPrefix(orderGID, "gid://cartograph/Order/")
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT coalesce(payment_intent_id, ''), shop_id::text FROM orders WHERE id = $1`, orderID).Scan(&intent, &shopID); err != nil {
		t.Fatal(err)
	}
	return
}

// stripeEvent builds an event payload as Stripe sends it.
func stripeEvent(id, typ, intent, shopID, orderID string) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": stripe.APIVersion, "type": typ, "created": time.Now().Unix(), "livemode": false,
		"data": map[string]any{"object": map[string]any{
			"id": intent, "object": "payment_intent", "amount": 1000, "currency": "usd", "status": "succeeded",
			"metadata": map[string]string{"order_id": orderID, "shop_id": shopID},
		}},
	})
	return b
}

// deliver posts payload to /webhooks/stripe signed with secret at ts.
func (e *env) deliver(t *testing.T, payload []byte, secret string, ts time.Time, tamper bool) int {
	t.Helper()
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: ts})
	body := sp.Payload
	if tamper {
		body = bytes.Replace(body, []byte(`"livemode":false`), []byte(`"livemode":true `), 1)
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/stripe", bytes.NewReader(body))
	req.Header.Set("Stripe-Signature", sp.Header)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (e *env) orderStatus(t *testing.T, orderGID string) string {
	t.Helper()
	var s string
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT status::text FROM orders WHERE id = $1`, strings.TrimPrefix(orderGID, "gid://cartograph/Order/")).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

var _ = fmt.Sprint
