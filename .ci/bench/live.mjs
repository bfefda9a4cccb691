// `make bench` live mode (.ci/bench.sh live): subscription fan-out.
// node --experimental-websocket live.mjs, environment:
//   BASE, SHOP, EMAIL, PASSWORD  the gateway and a staff owner of SHOP
//   SUBS [1000]  websocket subscribers (inventoryChanged of one variant)
//   RATE [50]    stock changes per second (inventoryAdjustQuantities, serialized: CAS)
//   SECONDS [20] duration of the change phase
//   SERVER_PID   to read the gateway's RSS before and after connecting
// Latency = subscriber receive time − the change's ledger timestamp (`at`,
// written in the committing transaction; same machine clock). Missed =
// expected (changes × subscribers) − delivered. Baseline in the same run:
// one client polling inventoryLevels every second; its staleness per change
// is first-seen time − the mutation's response time.
import fs from 'node:fs';

const { BASE, SHOP, EMAIL, PASSWORD } = process.env;
const SUBS = Number(process.env.SUBS ?? 1000);
const RATE = Number(process.env.RATE ?? 50);
const SECONDS = Number(process.env.SECONDS ?? 20);
const headers = { 'Content-Type': 'application/json', 'X-Shop-Handle': SHOP };
const rssKB = () => {
  try { return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${process.env.SERVER_PID}/status`, 'utf8'))[1]); } catch { return NaN; }
};
async function gql(query, variables) {
  const res = await fetch(`${BASE}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const b = await res.json();
  if (b.errors?.length) throw new Error(JSON.stringify(b.errors));
  return b.data;
}
const pct = (a, p) => (a.length ? a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))] : NaN);

const login = await gql(`mutation($e: String!, $p: String!) { staffLogin(input: {email: $e, password: $p}) { accessToken } }`, { e: EMAIL, p: PASSWORD });
headers.Authorization = `Bearer ${login.staffLogin.accessToken}`;
const lv = await gql(`{ inventoryLevels(first: 1) { nodes { available inventoryItemId locationId } } }`);
const { inventoryItemId: v, locationId: w } = lv.inventoryLevels.nodes[0];
let avail = lv.inventoryLevels.nodes[0].available;

// Subscribers.
const rss0 = rssKB();
const url = `${BASE.replace(/^http/, 'ws')}/graphql`;
const received = []; // per subscriber: Map sequence → latency ms
const sockets = [];
const SUB = `subscription($v: [ID!]) { inventoryChanged(variantIds: $v) { sequence at } }`;
function open(i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'graphql-transport-ws');
    const got = new Map();
    received[i] = got;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: headers.Authorization, 'X-Shop-Handle': SHOP } }));
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === 'connection_ack') {
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUB, variables: { v: [v] } } }));
        resolve();
      } else if (m.type === 'next') {
        const c = m.payload?.data?.inventoryChanged;
        if (c) got.set(c.sequence, Date.now() - Date.parse(c.at));
      } else if (m.type === 'ping') ws.send('{"type":"pong"}');
    };
    ws.onerror = () => reject(new Error(`subscriber ${i}: websocket error`));
    ws.onclose = (ev) => { if (!closing) console.error(`subscriber ${i} closed ${ev.code} ${ev.reason}`); };
    sockets.push(ws);
  });
}
let closing = false;
const t0 = Date.now();
for (let i = 0; i < SUBS; i += 50) {
  await Promise.all(Array.from({ length: Math.min(50, SUBS - i) }, (_, k) => open(i + k)));
}
await new Promise((r) => setTimeout(r, 1000));
const rss1 = rssKB();
const connectMs = Date.now() - t0;

// Baseline poller.
const polled = []; // [time, available] per poll
let polling = true;
(async () => {
  while (polling) {
    const started = Date.now();
    try {
      const d = await gql(`query($v: [ID!]) { inventoryLevels(first: 5, variantIds: $v) { nodes { available locationId } } }`, { v: [v] });
      const n = d.inventoryLevels.nodes.find((x) => x.locationId === w);
      if (n) polled.push([Date.now(), `${n.available}`]);
    } catch { /* counted as stale */ }
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - started))));
  }
})();

// Changes at RATE per second, serialized (each is compare-and-swap).
const expected = [];
const pollStale = [];
const ADJ = `mutation($v: ID!, $w: ID!, $d: Int!, $from: Int!, $k: String!) {
  inventoryAdjustQuantities(input: {name: "available", reason: "correction", changes: [{inventoryItemId: $v, locationId: $w, delta: $d, changeFromQuantity: $from}]}, idempotencyKey: $k) {
  inventoryAdjustmentGroup { changes { sequence available } } userErrors { message } } }`;
const total = RATE * SECONDS;
const start = Date.now();
let late = 0;
const mutationDone = [];
for (let i = 0; i < total; i++) {
  const due = start + (i * 1000) / RATE;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait)); else late++;
  const d = i % 2 === 0 ? 1 : -1;
  const out = await gql(ADJ, { v, w, d, from: avail, k: `bench-live-${start}-${i}` });
  const p = out.inventoryAdjustQuantities;
  if (p.userErrors.length) throw new Error(JSON.stringify(p.userErrors));
  avail += d;
  expected.push(p.inventoryAdjustmentGroup.changes[0].sequence);
  mutationDone.push([`${avail}`, Date.now()]);
}
const changeSecs = (Date.now() - start) / 1000;
await new Promise((r) => setTimeout(r, 3000)); // drain
polling = false;
closing = true;
for (const s of sockets) s.close(1000, 'done');

const lat = [];
let delivered = 0;
for (const got of received) {
  for (const seq of expected) {
    const l = got.get(seq);
    if (l !== undefined) { delivered++; lat.push(l); }
  }
}
lat.sort((a, b) => a - b);
// Polling baseline: a change is observed when a poll made before the next
// change shows its resulting value; staleness is that poll's time minus the
// change's. Changes faster than the poll interval are never observed.
for (let i = 0; i < mutationDone.length; i++) {
  const [val, at] = mutationDone[i];
  const next = mutationDone[i + 1]?.[1] ?? Infinity;
  const hit = polled.find(([t, a]) => t >= at && t < next && a === val);
  if (hit) pollStale.push(hit[0] - at);
}
pollStale.sort((a, b) => a - b);
const res = {
  subscribers: SUBS, changes: expected.length, changesPerSec: +(expected.length / changeSecs).toFixed(1), lateTicks: late,
  expected: expected.length * SUBS, delivered, missed: expected.length * SUBS - delivered,
  p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99), max: lat.at(-1),
  connectSeconds: +(connectMs / 1000).toFixed(1), rssIdleKBPerSub: +((rss1 - rss0) / SUBS).toFixed(1),
  pollingBaseline: { observed: pollStale.length, of: mutationDone.length, p50: pct(pollStale, 50), p95: pct(pollStale, 95) },
};
console.log(JSON.stringify(res));
process.exit(0);
