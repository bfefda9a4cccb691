package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cartograph/internal/config"
	"cartograph/internal/events"
	"cartograph/internal/testdb"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// invEvent is the part of an InventoryChange the tests compare.
type invEvent struct {
	Sequence  int
	Name      string
	Delta     int
	OnHand    int
	Reserved  int
	Available int
	Reason    string
	Variant   *struct{ ID string }
	Warehouse *struct{ ID, Name string }
}

const invChangedSub = `subscription($since: Int, $v: [ID!]) { inventoryChanged(since: $since, variantIds: $v) {
	sequence name delta onHand reserved available reason variant { id } warehouse { id name } } }`

// warehouses returns a shop's warehouse global ids by priority.
func (e *env) warehouses(t *testing.T, shop string) []string {
	t.Helper()
	rows, err := e.db.Pool.Query(context.Background(), `SELECT w.id::text FROM warehouses w JOIN shops s ON s.id = w.shop_id WHERE s.handle = $1 ORDER BY w.priority, w.id`, shop)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		out = append(out, "gid://cartograph/Warehouse/"+id)
	}
	return out
}

// lastSeq is the shop's latest inventory sequence number.
func (e *env) lastSeq(t *testing.T, shop string) int {
	t.Helper()
	var n int
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT coalesce((SELECT last_seq FROM inventory_sequences q JOIN shops s ON s.id = q.shop_id WHERE s.handle = $1), 0)`, shop).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

type adjustOut struct {
	InventoryAdjustQuantities struct {
		InventoryAdjustmentGroup *struct {
			Changes []invEvent
		}
		UserErrors []struct {
			Field   []string
			Message string
			Code    string
		}
	}
}

const adjustMutation = `mutation($v: ID!, $w: ID!, $d: Int!, $from: Int!, $k: String!, $name: String!) {
	inventoryAdjustQuantities(input: {name: $name, reason: "correction", referenceDocumentUri: "test://adjust", changes: [{inventoryItemId: $v, locationId: $w, delta: $d, changeFromQuantity: $from}]}, idempotencyKey: $k) {
	inventoryAdjustmentGroup { changes { sequence name delta onHand reserved available reason } } userErrors { field message code } } }`

func (e *env) adjust(t *testing.T, h map[string]string, v, w string, delta, from int, key string) adjustOut {
	t.Helper()
	var out adjustOut
	mustData(t, e.do(t, h, adjustMutation, map[string]any{"v": v, "w": w, "d": delta, "from": from, "k": key, "name": "available"}), &out)
	return out
}

// wsClient is a minimal graphql-transport-ws client. One goroutine reads
// (coder/websocket closes the connection when a Read's context expires).
type wsClient struct {
	c    *websocket.Conn
	ctx  context.Context
	msgs chan wsMsg
}

type wsMsg struct {
	m   map[string]any
	err error
}

func dialWS(t *testing.T, e *env, init map[string]any) (*wsClient, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/graphql"
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	w := &wsClient{c: c, ctx: ctx, msgs: make(chan wsMsg, 1000)}
	go w.pump()
	w.send(t, map[string]any{"type": "connection_init", "payload": init})
	m, err := w.read(5 * time.Second)
	if err != nil {
		return nil, err
	}
	if m["type"] != "connection_ack" {
		t.Fatalf("expected connection_ack, got %v", m)
	}
	return w, nil
}

func (w *wsClient) pump() {
	for {
		_, b, err := w.c.Read(w.ctx)
		if err != nil {
			w.msgs <- wsMsg{err: err}
			close(w.msgs)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			w.msgs <- wsMsg{err: err}
			continue
		}
		switch m["type"] {
		case "ping":
			pb, _ := json.Marshal(map[string]any{"type": "pong"})
			_ = w.c.Write(w.ctx, websocket.MessageText, pb)
			continue
		case "pong", "ka":
			continue
		}
		w.msgs <- wsMsg{m: m}
	}
}

func (w *wsClient) send(t *testing.T, m map[string]any) {
	t.Helper()
	b, _ := json.Marshal(m)
	if err := w.c.Write(w.ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("ws write: %v", err)
	}
}

var errTimeout = fmt.Errorf("timeout")

// read returns the next message other than ping/pong.
func (w *wsClient) read(timeout time.Duration) (map[string]any, error) {
	select {
	case m, ok := <-w.msgs:
		if !ok {
			return nil, fmt.Errorf("connection closed")
		}
		return m.m, m.err
	case <-time.After(timeout):
		return nil, errTimeout
	}
}

// graphqlError expects the subscription's error (gqlgen sends resolver
// errors as a next with errors) and returns its code.
func (w *wsClient) graphqlError(t *testing.T) string {
	t.Helper()
	m, err := w.read(5 * time.Second)
	if err != nil {
		t.Fatalf("ws read: %v", err)
	}
	b, _ := json.Marshal(m["payload"])
	var p struct{ Errors []gqlError }
	_ = json.Unmarshal(b, &p)
	if len(p.Errors) == 0 {
		t.Fatalf("expected an error, got %v", m)
	}
	c, _ := p.Errors[0].Extensions["code"].(string)
	return c
}

func (w *wsClient) subscribe(t *testing.T, id, query string, vars map[string]any) {
	t.Helper()
	w.send(t, map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
}

// next reads the next inventoryChanged event (fails on anything else).
func (w *wsClient) next(t *testing.T, timeout time.Duration) invEvent {
	t.Helper()
	m, err := w.read(timeout)
	if err != nil {
		t.Fatalf("ws read: %v", err)
	}
	if m["type"] != "next" {
		t.Fatalf("expected next, got %v", m)
	}
	return decodeEvent(t, m["payload"])
}

func decodeEvent(t *testing.T, payload any) invEvent {
	t.Helper()
	b, _ := json.Marshal(payload)
	var p struct {
		Data   struct{ InventoryChanged invEvent }
		Errors []gqlError
	}
	if err := json.Unmarshal(b, &p); err != nil || len(p.Errors) > 0 {
		t.Fatalf("event payload %s: %v %+v", b, err, p.Errors)
	}
	return p.Data.InventoryChanged
}

// quiet asserts nothing else arrives within d.
func (w *wsClient) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	if m, err := w.read(d); err != errTimeout {
		t.Fatalf("unexpected extra message: %v %v", m, err)
	}
}

// sseSubscribe opens an SSE subscription and streams its events.
func sseSubscribe(t *testing.T, e *env, h map[string]string, query string, vars map[string]any) <-chan invEvent {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("sse: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sse status %d", resp.StatusCode)
	}
	out := make(chan invEvent, 1000)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "data: ") {
				continue
			}
			var p struct {
				Data   struct{ InventoryChanged invEvent }
				Errors []gqlError
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &p); err != nil || len(p.Errors) > 0 {
				out <- invEvent{Sequence: -1, Reason: fmt.Sprintf("%v %+v", err, p.Errors)}
				return
			}
			out <- p.Data.InventoryChanged
		}
	}()
	return out
}

func authPayload(h map[string]string) map[string]any {
	m := map[string]any{}
	for k, v := range h {
		m[k] = v
	}
	return m
}

func TestInventoryEventsAreCommittedOnly(t *testing.T) {
	e := newEnvWith(t, 0, func(c *config.Config) { c.StripeSecretKey = "" })
	staff := e.staff(t, "apparel")
	h := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "cashmere-beanie", 5, 0)
	cart := e.newCart(t, h, v, 3)
	e.stock(t, "apparel", "cashmere-beanie", 1, 0) // the cart now asks for more than there is
	start := e.lastSeq(t, "apparel")

	ws, err := dialWS(t, e, authPayload(staff))
	if err != nil {
		t.Fatal(err)
	}
	ws.subscribe(t, "1", invChangedSub, map[string]any{"since": start, "v": []string{v}})

	_, out := e.checkout(t, h, cart, "oos-1")
	if len(out.CheckoutBegin.UserErrors) != 1 || out.CheckoutBegin.UserErrors[0].Code != "OUT_OF_STOCK" {
		t.Fatalf("expected OUT_OF_STOCK, got %+v", out.CheckoutBegin)
	}
	if got := e.lastSeq(t, "apparel"); got != start {
		t.Fatalf("a rolled-back checkout moved the sequence %d → %d", start, got)
	}
	ws.quiet(t, 500*time.Millisecond)

	_, ok := e.checkout(t, h, e.newCart(t, h, v, 1), "ok-1")
	if ok.CheckoutBegin.Order == nil {
		t.Fatalf("checkout: %+v", ok.CheckoutBegin)
	}
	var paid struct {
		OrderMarkPaid struct{ Order struct{ Status string } }
	}
	mustData(t, e.do(t, staff, `mutation($id: ID!) { orderMarkPaid(id: $id) { order { status } } }`, map[string]any{"id": ok.CheckoutBegin.Order.ID}), &paid)

	rows, err := e.db.Pool.Query(context.Background(), `SELECT l.sequence, l.name, l.delta, l.on_hand, l.reserved FROM inventory_ledger l JOIN shops s ON s.id = l.shop_id
		WHERE s.handle = 'apparel' AND l.sequence > $1 ORDER BY l.sequence`, start)
	if err != nil {
		t.Fatal(err)
	}
	var ledger []invEvent
	for rows.Next() {
		var ev invEvent
		_ = rows.Scan(&ev.Sequence, &ev.Name, &ev.Delta, &ev.OnHand, &ev.Reserved)
		ledger = append(ledger, ev)
	}
	rows.Close()
	if len(ledger) != 2 || ledger[0].Name != "reserved" || ledger[0].Delta != 1 || ledger[1].Name != "on_hand" || ledger[1].Delta != -1 || ledger[1].OnHand != 0 {
		t.Fatalf("ledger after reserve+commit: %+v", ledger)
	}
	for i, want := range ledger {
		got := ws.next(t, 5*time.Second)
		if got.Sequence != want.Sequence || got.Name != want.Name || got.Delta != want.Delta || got.OnHand != want.OnHand || got.Reserved != want.Reserved {
			t.Fatalf("event %d: got %+v, ledger %+v", i, got, want)
		}
		if got.Variant == nil || got.Variant.ID != v || got.Warehouse == nil || got.Warehouse.Name == "" {
			t.Fatalf("event %d lacks its variant or warehouse: %+v", i, got)
		}
	}
	ws.quiet(t, 500*time.Millisecond)
	// History over the ledger, newest first.
	var hist struct {
		InventoryHistory struct{ Nodes []invEvent }
	}
	mustData(t, e.do(t, staff, `query($v: ID!) { inventoryHistory(variantId: $v, first: 10) { nodes { sequence name delta } } }`, map[string]any{"v": v}), &hist)
	if n := hist.InventoryHistory.Nodes; len(n) != 2 || n[0].Sequence != ledger[1].Sequence || n[1].Sequence != ledger[0].Sequence {
		t.Fatalf("history: %+v", n)
	}
}

func TestInventoryChangesReachEveryInstance(t *testing.T) {
	a := newEnv(t, 0)
	b := newServerOn(t, a)
	staff := a.staff(t, "apparel")
	v := a.stock(t, "apparel", "merino-crew-tee", 10, 0)
	wh := a.warehouses(t, "apparel")
	start := a.lastSeq(t, "apparel")

	ws, err := dialWS(t, b, authPayload(staff))
	if err != nil {
		t.Fatal(err)
	}
	ws.subscribe(t, "1", invChangedSub, map[string]any{"since": start})
	sse := sseSubscribe(t, a, staff, invChangedSub, map[string]any{"since": start})

	avail := 10
	for i := range 3 {
		out := a.adjust(t, staff, v, wh[0], i+1, avail, fmt.Sprintf("x-%d", i))
		if len(out.InventoryAdjustQuantities.UserErrors) > 0 {
			t.Fatalf("adjust: %+v", out.InventoryAdjustQuantities.UserErrors)
		}
		avail += i + 1
	}
	wantAvail := []int{11, 13, 16}
	for i := range 3 {
		got := ws.next(t, 5*time.Second)
		if got.Sequence != start+i+1 || got.Available != wantAvail[i] || got.Delta != i+1 {
			t.Fatalf("websocket on B, event %d: %+v", i, got)
		}
		select {
		case s := <-sse:
			if s.Sequence != start+i+1 || s.Available != wantAvail[i] {
				t.Fatalf("SSE on A, event %d: %+v", i, s)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("SSE on A: event %d did not arrive", i)
		}
	}
	ws.quiet(t, 300*time.Millisecond)
	select {
	case s := <-sse:
		t.Fatalf("SSE got an extra event: %+v", s)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestInventorySubscriptionResumes(t *testing.T) {
	e := newEnv(t, 0)
	staff := e.staff(t, "apparel")
	v := e.stock(t, "apparel", "slim-selvedge-jeans", 0, 0)
	wh := e.warehouses(t, "apparel")
	start := e.lastSeq(t, "apparel")
	ws, err := dialWS(t, e, authPayload(staff))
	if err != nil {
		t.Fatal(err)
	}
	ws.subscribe(t, "1", invChangedSub, map[string]any{"since": start})
	e.adjust(t, staff, v, wh[0], 1, 0, "r-0")
	seen := ws.next(t, 5*time.Second)
	_ = ws.c.Close(websocket.StatusNormalClosure, "bye")

	for i := 1; i <= 50; i++ {
		if out := e.adjust(t, staff, v, wh[0], 1, i, fmt.Sprintf("r-%d", i)); len(out.InventoryAdjustQuantities.UserErrors) > 0 {
			t.Fatalf("adjust %d: %+v", i, out.InventoryAdjustQuantities.UserErrors)
		}
	}
	check := func(t *testing.T) {
		ws, err := dialWS(t, e, authPayload(staff))
		if err != nil {
			t.Fatal(err)
		}
		ws.subscribe(t, "2", invChangedSub, map[string]any{"since": seen.Sequence})
		for i := 1; i <= 50; i++ {
			got := ws.next(t, 5*time.Second)
			if got.Sequence != seen.Sequence+i || got.Available != 1+i {
				t.Fatalf("replayed event %d: %+v", i, got)
			}
		}
		ws.quiet(t, 300*time.Millisecond)
	}
	t.Run("FromTheStream", check)
	// Trim the stream: the replay falls back to the ledger.
	var shopID string
	_ = e.db.Pool.QueryRow(context.Background(), `SELECT id::text FROM shops WHERE handle = 'apparel'`).Scan(&shopID)
	opts, _ := redis.ParseURL(testdb.RedisURL())
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.XTrimMaxLen(context.Background(), events.StreamKey(uuid.MustParse(shopID)), 10).Err(); err != nil {
		t.Fatal(err)
	}
	t.Run("FromTheLedgerWhenTrimmed", check)
	t.Run("SinceAheadIsRefused", func(t *testing.T) {
		ws, err := dialWS(t, e, authPayload(staff))
		if err != nil {
			t.Fatal(err)
		}
		ws.subscribe(t, "3", invChangedSub, map[string]any{"since": seen.Sequence + 1000})
		if code := ws.graphqlError(t); code != "BAD_USER_INPUT" {
			t.Fatalf("since ahead of the shop: %s", code)
		}
	})
}

func TestInventoryCompareAndSwap(t *testing.T) {
	e := newEnv(t, 0)
	staff := e.staff(t, "apparel")
	v := e.stock(t, "apparel", "everyday-canvas-tote", 7, 0)
	wh := e.warehouses(t, "apparel")
	t.Run("StaleChangesNothing", func(t *testing.T) {
		before := e.lastSeq(t, "apparel")
		out := e.adjust(t, staff, v, wh[0], 5, 3, "stale-1")
		ue := out.InventoryAdjustQuantities.UserErrors
		if len(ue) != 1 || ue[0].Code != "CHANGE_FROM_QUANTITY_STALE" || !strings.Contains(ue[0].Message, "is 7") || out.InventoryAdjustQuantities.InventoryAdjustmentGroup != nil {
			t.Fatalf("stale adjust: %+v", out)
		}
		if on, _ := e.levels(t, v); on != 7 || e.lastSeq(t, "apparel") != before {
			t.Fatalf("a stale adjust changed stock: on_hand %d", on)
		}
	})
	t.Run("IdempotentRetry", func(t *testing.T) {
		a := e.adjust(t, staff, v, wh[0], 1, 7, "idem-1")
		b := e.adjust(t, staff, v, wh[0], 1, 7, "idem-1")
		ga, gb := a.InventoryAdjustQuantities.InventoryAdjustmentGroup, b.InventoryAdjustQuantities.InventoryAdjustmentGroup
		if ga == nil || gb == nil || ga.Changes[0].Sequence != gb.Changes[0].Sequence {
			t.Fatalf("retry: %+v / %+v", a, b)
		}
		if on, _ := e.levels(t, v); on != 8 {
			t.Fatalf("retry applied twice: on_hand %d", on)
		}
	})
	t.Run("SetQuantities", func(t *testing.T) {
		var out struct {
			InventorySetQuantities struct {
				InventoryAdjustmentGroup *struct{ Changes []invEvent }
				UserErrors               []struct{ Code string }
			}
		}
		mustData(t, e.do(t, staff, `mutation($v: ID!, $w: ID!) { inventorySetQuantities(input: {name: "on_hand", reason: "cycle_count_available", quantities: [{inventoryItemId: $v, locationId: $w, quantity: 20, changeFromQuantity: 8}]}, idempotencyKey: "set-1") {
			inventoryAdjustmentGroup { changes { name delta onHand } } userErrors { code } } }`, map[string]any{"v": v, "w": wh[0]}), &out)
		g := out.InventorySetQuantities.InventoryAdjustmentGroup
		if g == nil || len(g.Changes) != 1 || g.Changes[0].Delta != 12 || g.Changes[0].OnHand != 20 || g.Changes[0].Name != "on_hand" {
			t.Fatalf("set: %+v", out)
		}
	})
	t.Run("ConcurrentAdjustmentsSerialize", func(t *testing.T) {
		on0, _ := e.levels(t, v)
		var stale atomic.Int32
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				for attempt := 0; attempt < 200; attempt++ {
					var lv struct {
						InventoryLevels struct{ Nodes []struct{ Available int } }
					}
					mustData(t, e.do(t, staff, `query($v: [ID!]) { inventoryLevels(first: 10, variantIds: $v) { nodes { available warehouse { id } } } }`, map[string]any{"v": []string{v}}), &lv)
					cur := lv.InventoryLevels.Nodes[0].Available
					out := e.adjust(t, staff, v, wh[0], 1, cur, fmt.Sprintf("c-%d-%d", i, attempt))
					if len(out.InventoryAdjustQuantities.UserErrors) == 0 {
						return
					}
					if out.InventoryAdjustQuantities.UserErrors[0].Code != "CHANGE_FROM_QUANTITY_STALE" {
						t.Errorf("adjust: %+v", out.InventoryAdjustQuantities.UserErrors)
						return
					}
					stale.Add(1)
				}
				t.Errorf("adjustment %d never went through", i)
			})
		}
		wg.Wait()
		on, _ := e.levels(t, v)
		if on != on0+20 {
			t.Fatalf("20 adjustments of +1: on_hand %d → %d (%d stale retries)", on0, on, stale.Load())
		}
		// The ledger sums to the level: everything since the direct seed write.
		var sum int
		vid := strings.TrimPrefix(v, "gid://cartograph/ProductVariant/")
		_ = e.db.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(on_hand_delta), 0) FROM inventory_ledger WHERE variant_id = $1`, vid).Scan(&sum)
		if 7+sum != on {
			t.Fatalf("ledger sums to %d over 7, level is %d", sum, on)
		}
		var gaps int
		_ = e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM (SELECT sequence - lag(sequence) OVER (ORDER BY sequence) AS d FROM inventory_ledger l JOIN shops s ON s.id = l.shop_id WHERE s.handle = 'apparel') x WHERE d <> 1`).Scan(&gaps)
		if gaps != 0 {
			t.Fatalf("%d gaps in the shop's sequence", gaps)
		}
		t.Logf("%d stale retries", stale.Load())
	})
}

func TestInventorySubscriptionAuth(t *testing.T) {
	e := newEnv(t, 0)
	t.Run("BadCredentialsClose4403", func(t *testing.T) {
		for name, init := range map[string]map[string]any{
			"BadToken":    {"X-Shop-Handle": "apparel", "Authorization": "Bearer not-a-token"},
			"UnknownKey":  {"X-Api-Key": "sk_apparel_" + strings.Repeat("0", 64)},
			"UnknownShop": {"X-Shop-Handle": "no-such-shop"},
			"ForeignShop": {"X-Shop-Handle": "electronics", "Authorization": "Bearer " + e.staffToken(t, "apparel")},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := dialWS(t, e, init)
				if websocket.CloseStatus(err) != 4403 {
					t.Fatalf("expected close 4403, got %v", err)
				}
			})
		}
	})
	t.Run("PublicKeyIsForbidden", func(t *testing.T) {
		ws, err := dialWS(t, e, authPayload(e.storefront(t, "apparel")))
		if err != nil {
			t.Fatal(err)
		}
		ws.subscribe(t, "1", invChangedSub, nil)
		if code := ws.graphqlError(t); code != "FORBIDDEN" {
			t.Fatalf("pk_ key subscribed: %s", code)
		}
	})
	t.Run("NoEventOfAnotherShop", func(t *testing.T) {
		staffA, staffB := e.staff(t, "apparel"), e.staff(t, "electronics")
		va := e.stock(t, "apparel", "trail-running-shorts", 3, 0)
		vb := e.stock(t, "electronics", "pulse-anc-headphones", 3, 0)
		wa, wb := e.warehouses(t, "apparel"), e.warehouses(t, "electronics")
		ws, err := dialWS(t, e, authPayload(staffA))
		if err != nil {
			t.Fatal(err)
		}
		start := e.lastSeq(t, "apparel")
		// Shop B's ids in A's filter match nothing of B.
		ws.subscribe(t, "1", invChangedSub, map[string]any{"since": start})
		ws.subscribe(t, "2", invChangedSub, map[string]any{"since": start, "v": []string{vb}})
		if out := e.adjust(t, staffB, vb, wb[0], 2, 3, "b-1"); len(out.InventoryAdjustQuantities.UserErrors) > 0 {
			t.Fatalf("adjust B: %+v", out)
		}
		// A cannot move B's stock through its own shop.
		if out := e.adjust(t, staffA, vb, wb[0], 2, 5, "a-on-b"); len(out.InventoryAdjustQuantities.UserErrors) != 1 || out.InventoryAdjustQuantities.UserErrors[0].Code != "NOT_FOUND" {
			t.Fatalf("A adjusted B's level: %+v", out)
		}
		if out := e.adjust(t, staffA, va, wa[0], 1, 3, "a-1"); len(out.InventoryAdjustQuantities.UserErrors) > 0 {
			t.Fatalf("adjust A: %+v", out)
		}
		m, err := ws.read(5 * time.Second)
		if err != nil || m["type"] != "next" || m["id"] != "1" {
			t.Fatalf("expected shop A's event on subscription 1: %v %v", m, err)
		}
		if got := decodeEvent(t, m["payload"]); got.Variant == nil || got.Variant.ID != va || got.Sequence != start+1 {
			t.Fatalf("shop A's subscriber got %+v", got)
		}
		ws.quiet(t, 500*time.Millisecond)
	})
}
