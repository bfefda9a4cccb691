#!/usr/bin/env bash
# The offline purchase from README "Buy something": public key → cart →
# checkout (manual payment) → staff marks paid → fulfil. Needs `make run`
# running (127.0.0.1:8080) and jq.
set -euo pipefail
API=http://127.0.0.1:8080/graphql
gql() { curl -s "$API" -H 'Content-Type: application/json' "$@"; }
PK=$(./bin/cartograph keys create --shop apparel --kind public | tail -n 1)
VARIANT=$(gql -H "X-Shopify-Storefront-Access-Token: $PK" \
  -d '{"query":"{ product(handle: \"merino-crew-tee\") { variants(first: 1) { nodes { id title } } } }"}' | jq -r '.data.product.variants.nodes[0].id')
CART=$(gql -H "X-Shopify-Storefront-Access-Token: $PK" \
  -d "{\"query\":\"mutation { cartCreate(input: {lines: [{merchandiseId: \\\"$VARIANT\\\", quantity: 2}]}) { cart { id cost { totalAmount { amount currencyCode } } } userErrors { message } } }\"}" | jq -r '.data.cartCreate.cart.id')
ORDER=$(gql -H "X-Shopify-Storefront-Access-Token: $PK" \
  -d "{\"query\":\"mutation { checkoutBegin(input: {cartId: \\\"$CART\\\", email: \\\"ada@example.com\\\", idempotencyKey: \\\"demo-$RANDOM\\\", deliveryOptionHandle: \\\"international\\\", shippingAddress: {firstName: \\\"Ada\\\", lastName: \\\"Lovelace\\\", address1: \\\"12 St James's Square\\\", city: \\\"London\\\", zip: \\\"SW1Y 4JH\\\", country: \\\"GB\\\"}}) { order { id name status totalPrice { amount currencyCode } totalTax { amount } totalShippingPrice { amount } } payment { provider } userErrors { code message } } }\"}")
echo "$ORDER"
ORDER_ID=$(echo "$ORDER" | jq -r '.data.checkoutBegin.order.id')
STAFF=$(gql -H 'X-Shop-Handle: apparel' \
  -d '{"query":"mutation { staffLogin(input: {email: \"owner@apparel.example\", password: \"cartograph-demo\"}) { accessToken } }"}' | jq -r '.data.staffLogin.accessToken')
gql -H 'X-Shop-Handle: apparel' -H "Authorization: Bearer $STAFF" \
  -d "{\"query\":\"mutation { orderMarkPaid(id: \\\"$ORDER_ID\\\", note: \\\"bank transfer received\\\") { order { status } userErrors { code message } } }\"}"; echo
gql -H 'X-Shop-Handle: apparel' -H "Authorization: Bearer $STAFF" \
  -d "{\"query\":\"mutation { orderFulfill(id: \\\"$ORDER_ID\\\") { order { name status events { toStatus actor note } } userErrors { code message } } }\"}"; echo
