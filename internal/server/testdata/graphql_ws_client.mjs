// The npm graphql-ws client (installed by `make assets` into
// internal/graphiql/web, never committed) against a live gateway, run by
// TestGraphQLWsNpmClient: node --experimental-websocket
// graphql_ws_client.mjs, with BASE, SHOP, TOKEN, VARIANT, WAREHOUSE, AVAIL
// (the level's available quantity) and NPM_DIR in the environment.
// 1. subscribes to inventoryChanged, adjusts stock over HTTP, receives it;
// 2. disposes the client, makes 3 more changes, subscribes again with
//    since = the last sequence seen and receives exactly those 3, in order;
// 3. no credentials: close 4401, fatal; bad credentials: close 4403,
//    retried only within retryAttempts.
import { createRequire } from 'node:module';

const require = createRequire(`${process.env.NPM_DIR}/package.json`);
const { createClient } = require('graphql-ws');
const { BASE, SHOP, TOKEN, VARIANT, WAREHOUSE } = process.env;
let avail = Number(process.env.AVAIL);
const url = `${BASE.replace(/^http/, 'ws')}/graphql`;
const fail = (msg) => { console.error(`graphql-ws client test: ${msg}`); process.exit(1); };
setTimeout(() => fail('timed out after 60 s'), 60_000).unref();

const SUB = `subscription($v: [ID!], $since: Int) { inventoryChanged(variantIds: $v, since: $since) { sequence delta available } }`;
const ADJUST = `mutation($v: ID!, $w: ID!, $d: Int!, $from: Int!, $k: String!) {
  inventoryAdjustQuantities(input: {name: "available", reason: "correction", changes: [{inventoryItemId: $v, locationId: $w, delta: $d, changeFromQuantity: $from}]}, idempotencyKey: $k) {
  userErrors { message } } }`;

async function adjust(d) {
  const res = await fetch(`${BASE}/graphql`, { method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}`, 'X-Shop-Handle': SHOP },
    body: JSON.stringify({ query: ADJUST, variables: { v: VARIANT, w: WAREHOUSE, d, from: avail, k: `npm-${Date.now()}-${Math.random()}` } }) });
  const body = await res.json();
  if (body.errors?.length || body.data.inventoryAdjustQuantities.userErrors.length) fail(`adjust: ${JSON.stringify(body)}`);
  avail += d;
}

function client(token, events) {
  return createClient({ url, webSocketImpl: WebSocket, retryAttempts: 3, lazy: false,
    connectionParams: { Authorization: `Bearer ${token}`, 'X-Shop-Handle': SHOP },
    on: events });
}

// take reads n events of a subscription, then stops it.
async function take(c, variables, n, onSubscribed) {
  const it = c.iterate({ query: SUB, variables });
  const got = [];
  const first = it.next();
  await new Promise((r) => setTimeout(r, 300)); // the subscribe reached the server
  if (onSubscribed) await onSubscribed();
  for (let r = await first; ; r = await it.next()) {
    if (r.done) fail(`subscription ended after ${got.length} events`);
    if (r.value.errors) fail(`subscription error: ${JSON.stringify(r.value.errors)}`);
    got.push(r.value.data.inventoryChanged);
    if (got.length === n) break;
  }
  await it.return();
  return got;
}

// 1. live
const c1 = client(TOKEN, {});
const [live] = await take(c1, { v: [VARIANT] }, 1, () => adjust(2));
if (live.delta !== 2 || live.available !== avail) fail(`live event ${JSON.stringify(live)}, want delta 2 available ${avail}`);
await c1.dispose();

// 2. resume with since
for (const d of [1, 1, 1]) await adjust(d);
const c2 = client(TOKEN, {});
const replay = await take(c2, { v: [VARIANT], since: live.sequence }, 3);
replay.forEach((e, i) => {
  if (e.sequence !== live.sequence + i + 1 || e.available !== avail - 2 + i) fail(`replayed ${i}: ${JSON.stringify(e)}`);
});
await c2.dispose();

// 3. refusals. graphql-ws treats 4401 as fatal (one attempt) and retries
// 4403 with its randomised exponential back-off up to retryAttempts (here
// 1: two attempts, never a tight loop as with 1000).
async function refused(params, retryAttempts) {
  let connecting = 0;
  let code = 0;
  const c = createClient({ url, webSocketImpl: WebSocket, retryAttempts, lazy: false, connectionParams: params,
    on: { connecting: () => { connecting++; }, closed: (ev) => { code = ev.code; } } });
  await new Promise((resolve) => {
    c.subscribe({ query: SUB, variables: {} }, { next: () => fail('refused credentials got an event'), error: resolve, complete: resolve });
  });
  await new Promise((r) => setTimeout(r, 300));
  await c.dispose();
  return { code, connecting };
}
const noCreds = await refused({ 'X-Shop-Handle': SHOP }, 3);
if (noCreds.code !== 4401 || noCreds.connecting !== 1) fail(`no credentials: ${JSON.stringify(noCreds)} (want 4401, 1 attempt)`);
const bad = await refused({ Authorization: 'Bearer not-a-token', 'X-Shop-Handle': SHOP }, 1);
if (bad.code !== 4403 || bad.connecting !== 2) fail(`bad credentials: ${JSON.stringify(bad)} (want 4403, 2 attempts)`);
const closedWith = bad.code;
console.log(JSON.stringify({ live, replayed: replay.length, refused: closedWith }));
process.exit(0);
