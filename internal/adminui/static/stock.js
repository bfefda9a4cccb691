// Cartograph's live-stock page: signs a staff member in (staffLogin, or a
// pasted access token), lists the shop's stock levels (inventoryLevels) and
// keeps them current from the inventoryChanged subscription over
// graphql-transport-ws, spoken by the small client below. The subscription
// opens before the levels are read, and every event carries absolute
// quantities in sequence order, so the table converges on the current
// stock even when a change lands while the page loads. On a dropped
// connection it reconnects with `since` (the last sequence it saw) and
// misses nothing; on 4401/4403 (bad or expired credentials) it asks to sign
// in again. Everything untrusted is written with textContent.

const $ = (sel) => document.querySelector(sel);
const endpoint = '/graphql';
const state = { shop: '', token: '', ws: null, lastSeq: null, rows: new Map(), thresholds: new Map(), retry: 0, stopped: false };

const LEVELS = `query($after: String) { inventoryLevels(first: 250, after: $after) {
  pageInfo { hasNextPage endCursor }
  nodes { onHand reserved available lowStockThreshold inventoryItemId locationId
    variant { id title sku product { title } } warehouse { id name } } } }`;
const CHANGES = `subscription($since: Int) { inventoryChanged(since: $since) {
  sequence onHand reserved available inventoryItemId locationId
  variant { id title sku product { title } } warehouse { id name } } }`;

function status(text, st) {
  const el = $('#status');
  el.textContent = text;
  el.dataset.state = st;
}

async function gql(query, variables, token) {
  const headers = { 'Content-Type': 'application/json', 'X-Shop-Handle': state.shop };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(endpoint, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  if (body.errors?.length) {
    const e = new Error(body.errors[0].message);
    e.code = body.errors[0].extensions?.code;
    throw e;
  }
  return body.data;
}

function keyOf(variantId, warehouseId) { return `${variantId}|${warehouseId}`; }

function cell(text, cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  td.textContent = text;
  return td;
}

// upsert sets a row's quantities (creating the row when new).
function upsert(n, fromEvent) {
  const key = keyOf(n.inventoryItemId, n.locationId);
  let row = state.rows.get(key);
  if (!row) {
    const tr = document.createElement('tr');
    tr.dataset.variant = n.inventoryItemId;
    tr.dataset.warehouse = n.locationId;
    // A variant the catalog no longer shows (e.g. of an unpublished
    // product) still has stock: name it by its id.
    const fallback = n.variant ? '' : `(unlisted variant ${n.inventoryItemId.split('/').pop()})`;
    tr.append(cell(n.variant?.product?.title ?? '—'), cell(n.variant?.title ?? fallback), cell(n.variant?.sku ?? ''),
      cell(n.warehouse?.name ?? n.locationId), cell('', 'n onhand'), cell('', 'n reserved'), cell('', 'n available'), cell('', 'n threshold'));
    row = { tr, onHand: 0, reserved: 0, available: 0, variant: n.inventoryItemId };
    state.rows.set(key, row);
    insertSorted(tr);
  }
  for (const [f, cls] of [['onHand', 'onhand'], ['reserved', 'reserved'], ['available', 'available']]) {
    if (row[f] !== n[f] || !fromEvent) {
      const td = row.tr.querySelector(`td.${cls}`);
      const changed = row[f] !== n[f] && fromEvent;
      row[f] = n[f];
      td.textContent = String(n[f]);
      if (changed) { td.classList.remove('changed'); void td.offsetWidth; td.classList.add('changed'); }
    }
  }
  if (!fromEvent) state.thresholds.set(n.inventoryItemId, n.lowStockThreshold ?? null);
  highlight(row.variant);
}

function insertSorted(tr) {
  const body = $('#stock tbody');
  const label = (r) => [...r.children].slice(0, 4).map((td) => td.textContent).join('\u0000');
  const mine = label(tr);
  for (const other of body.children) {
    if (label(other) > mine) { body.insertBefore(tr, other); return; }
  }
  body.append(tr);
}

// highlight marks a variant's rows when its total available stock is below
// its threshold.
function highlight(variantId) {
  const threshold = state.thresholds.get(variantId);
  let total = 0;
  const rows = [];
  for (const row of state.rows.values()) {
    if (row.variant === variantId) { total += Math.max(row.available, 0); rows.push(row.tr); }
  }
  const low = threshold != null && total < threshold;
  for (const tr of rows) {
    tr.classList.toggle('low', low);
    tr.querySelector('td.threshold').textContent = threshold == null ? '' : String(threshold);
  }
}

async function loadLevels() {
  let after = null;
  for (;;) {
    const d = await gql(LEVELS, { after }, state.token);
    for (const n of d.inventoryLevels.nodes) upsert(n, false);
    if (!d.inventoryLevels.pageInfo.hasNextPage) return;
    after = d.inventoryLevels.pageInfo.endCursor;
  }
}

// connect opens the subscription; resolves once the server acknowledged it.
function connect() {
  return new Promise((resolve, reject) => {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${endpoint}`;
    const ws = new WebSocket(url, 'graphql-transport-ws');
    state.ws = ws;
    let acked = false;
    const send = (m) => ws.send(JSON.stringify(m));
    ws.onopen = () => send({ type: 'connection_init', payload: { Authorization: `Bearer ${state.token}`, 'X-Shop-Handle': state.shop } });
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      switch (m.type) {
        case 'connection_ack':
          acked = true;
          state.retry = 0;
          send({ id: 'stock', type: 'subscribe', payload: { query: CHANGES, variables: { since: state.lastSeq } } });
          status('live', 'live');
          resolve();
          break;
        case 'ping':
          send({ type: 'pong' });
          break;
        case 'next': {
          const c = m.payload?.data?.inventoryChanged;
          if (m.payload?.errors?.length) { showError(m.payload.errors[0].message); break; }
          if (!c || (state.lastSeq != null && c.sequence <= state.lastSeq)) break;
          state.lastSeq = c.sequence;
          upsert(c, true);
          $('#last').textContent = `Last change #${c.sequence}`;
          document.body.dataset.lastSequence = String(c.sequence);
          break;
        }
        case 'error':
          showError(m.payload?.[0]?.message ?? 'subscription error');
          break;
        case 'complete':
          ws.close(1000, 'completed'); // the server ended it (e.g. too slow): resume
          break;
      }
    };
    ws.onclose = (ev) => {
      if (!acked) reject(Object.assign(new Error(ev.reason || `connection closed (${ev.code})`), { code: ev.code }));
      if (state.ws !== ws || state.stopped) return;
      if (ev.code === 4401 || ev.code === 4403) { signOut(ev.reason || 'Your session ended; sign in again.'); return; }
      status('reconnecting', 'reconnecting');
      const wait = Math.min(1000 * 2 ** state.retry++, 15000);
      setTimeout(() => { if (!state.stopped) connect().catch(() => {}); }, wait);
    };
  });
}

function showError(msg) { $('#error').textContent = msg; }

function signOut(msg) {
  state.stopped = true;
  state.ws?.close(1000, 'signed out');
  sessionStorage.removeItem('cartograph.stock');
  state.rows.clear();
  $('#stock tbody').replaceChildren();
  $('#stock').hidden = true;
  $('#login').hidden = false;
  $('#signout').hidden = true;
  $('#shop').textContent = '';
  status('signed out', 'signed-out');
  showError(msg ?? '');
}

async function start() {
  state.stopped = false;
  $('#login').hidden = true;
  $('#signout').hidden = false;
  $('#stock').hidden = false;
  $('#shop').textContent = state.shop;
  status('connecting', 'reconnecting');
  try {
    await connect(); // subscribe first, then read: nothing falls in between
    await loadLevels();
    document.body.dataset.ready = '1';
  } catch (e) {
    signOut(e.message);
  }
}

$('#login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  state.shop = String(f.get('shop')).trim();
  showError('');
  try {
    let token = String(f.get('token') ?? '').trim();
    if (!token) {
      const d = await gql(`mutation($e: String!, $p: String!) { staffLogin(input: {email: $e, password: $p}) { accessToken } }`,
        { e: String(f.get('email')), p: String(f.get('password')) });
      token = d.staffLogin.accessToken;
    }
    state.token = token;
    sessionStorage.setItem('cartograph.stock', JSON.stringify({ shop: state.shop, token }));
    await start();
  } catch (e) {
    showError(e.message);
  }
});
$('#signout').addEventListener('click', () => signOut());

const saved = sessionStorage.getItem('cartograph.stock');
if (saved) {
  try { Object.assign(state, JSON.parse(saved)); start(); } catch { sessionStorage.removeItem('cartograph.stock'); }
}
