// Storefront client libraries against Cartograph, run by
// TestStorefrontClientLibraries (make test) with the packages `make assets`
// installs in ./clients. Environment: ENDPOINT (the Shopify-path GraphQL
// URL), TOKEN (a public storefront key). Checks, each failing loudly:
//  1. Hydrogen's cart id: Hydrogen keeps only the token part of Cart.id in
//     its cookie and sends back gid://shopify/Cart/<token>; the cart read
//     with that id is the same cart.
//  2. encodedVariantExistence/Availability decoded by hydrogen-react's own
//     decodeEncodedVariant give exactly the products' variants.
//  3. Apollo Client's normalized cache (InMemoryCache): two carts holding
//     the same variant keep their own quantities, before and after one of
//     them changes (line ids are unique per cart).
import {createRequire} from 'node:module';
import path from 'node:path';
import assert from 'node:assert/strict';

const require = createRequire(path.join(import.meta.dirname, 'clients', 'package.json'));
const {decodeEncodedVariant} = require('@shopify/hydrogen-react');
const {ApolloClient, InMemoryCache, HttpLink, gql} = require('@apollo/client');

const {ENDPOINT, TOKEN} = process.env;
const headers = {'Content-Type': 'application/json', 'X-Shopify-Storefront-Access-Token': TOKEN};
async function raw(query, variables) {
  const res = await fetch(ENDPOINT, {method: 'POST', headers, body: JSON.stringify({query, variables})});
  const b = await res.json();
  if (b.errors?.length) throw new Error(`${query.slice(0, 60)}…: ${JSON.stringify(b.errors)}`);
  return b.data;
}

// 2. Encoded variants.
const {products} = await raw(`{ products(first: 20) { nodes { handle encodedVariantExistence encodedVariantAvailability
  options { name optionValues { name } } variants(first: 250) { nodes { id availableForSale selectedOptions { name value } } } } } }`);
assert.ok(products.nodes.length > 0, 'no products');
let tuples = 0;
for (const p of products.nodes) {
  const index = (v) => p.options.map((o) => o.optionValues.findIndex((x) => x.name === v.selectedOptions.find((s) => s.name === o.name)?.value));
  const key = (t) => t.join(',');
  const exist = p.variants.nodes.map((v) => key(index(v))).sort();
  const avail = p.variants.nodes.filter((v) => v.availableForSale).map((v) => key(index(v))).sort();
  assert.deepEqual(decodeEncodedVariant(p.encodedVariantExistence).map(key).sort(), exist, `${p.handle}: existence`);
  assert.deepEqual(decodeEncodedVariant(p.encodedVariantAvailability).map(key).sort(), avail, `${p.handle}: availability`);
  tuples += exist.length;
}
const variant = products.nodes.flatMap((p) => p.variants.nodes).find((v) => v.availableForSale);
assert.ok(variant, 'no available variant');

// 3. Apollo Client's normalized cache.
const client = new ApolloClient({link: new HttpLink({uri: ENDPOINT, headers}), cache: new InMemoryCache()});
const CART = gql`fragment CartParts on Cart { id totalQuantity lines(first: 10) { nodes { id quantity merchandise { ... on ProductVariant { id } } } } }`;
const CREATE = gql`mutation Create($lines: [CartLineInput!]) { cartCreate(input: {lines: $lines}) { cart { ...CartParts } userErrors { message } } } ${CART}`;
const UPDATE = gql`mutation Update($id: ID!, $lines: [CartLineUpdateInput!]!) { cartLinesUpdate(cartId: $id, lines: $lines) { cart { ...CartParts } userErrors { message } } } ${CART}`;
const READ = gql`query Read($id: ID!) { cart(id: $id) { ...CartParts } } ${CART}`;
const create = async (quantity) => {
  const {data} = await client.mutate({mutation: CREATE, variables: {lines: [{merchandiseId: variant.id, quantity}]}});
  assert.deepEqual(data.cartCreate.userErrors, []);
  return data.cartCreate.cart;
};
const a = await create(1);
const b = await create(3);
assert.notEqual(a.lines.nodes[0].id, b.lines.nodes[0].id, 'two carts share a line id');
const cached = (cart) => client.readQuery({query: READ, variables: {id: cart.id}})?.cart?.lines.nodes[0].quantity;
// The mutations normalized both carts; reading them back from the cache:
const ra = await client.query({query: READ, variables: {id: a.id}});
const rb = await client.query({query: READ, variables: {id: b.id}});
assert.equal(ra.data.cart.lines.nodes[0].quantity, 1);
assert.equal(rb.data.cart.lines.nodes[0].quantity, 3);
assert.equal(cached(a), 1, 'cart A in the cache');
assert.equal(cached(b), 3, 'cart B in the cache');
const {data: upd} = await client.mutate({mutation: UPDATE, variables: {id: a.id, lines: [{id: a.lines.nodes[0].id, quantity: 2}]}});
assert.deepEqual(upd.cartLinesUpdate.userErrors, []);
assert.equal(cached(a), 2, 'cart A after its update');
assert.equal(cached(b), 3, 'cart B changed by an update of cart A');

// 1. Hydrogen's cart id: the cookie holds the part after the last "/".
const cookie = a.id.split('/').pop();
const hydrogenId = `gid://shopify/Cart/${cookie}`;
const viaHydrogen = await raw(`query($id: ID!) { cart(id: $id) { id totalQuantity lines(first: 10) { nodes { id quantity } } } }`, {id: hydrogenId});
assert.ok(viaHydrogen.cart, `cart ${hydrogenId} not found`);
assert.equal(viaHydrogen.cart.totalQuantity, 2);
assert.equal(viaHydrogen.cart.lines.nodes[0].id, a.lines.nodes[0].id);
const added = await raw(`mutation($id: ID!, $v: ID!) { cartLinesAdd(cartId: $id, lines: [{merchandiseId: $v, quantity: 1}]) { cart { totalQuantity } userErrors { message } } }`, {id: hydrogenId, v: variant.id});
assert.deepEqual(added.cartLinesAdd.userErrors, []);
assert.equal(added.cartLinesAdd.cart.totalQuantity, 3);

console.log(JSON.stringify({products: products.nodes.length, decodedTuples: tuples, cartIds: [a.id, hydrogenId], apollo: 'two carts kept their own quantities'}));
