package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

const lowStockSub = `subscription($since: Int) { inventoryLowStock(since: $since) {
	sequence kind available threshold variant { id } change { sequence reason warehouse { id } } at } }`

type lowStockEvent struct {
	Sequence, Available, Threshold int
	Kind                           string
	Variant                        *struct{ ID string }
	Change                         struct {
		Sequence int
		Reason   string
	}
}

// nextData reads the next "next" message and returns its data object.
func (w *wsClient) nextData(t *testing.T, timeout time.Duration) map[string]json.RawMessage {
	t.Helper()
	m, err := w.read(timeout)
	if err != nil {
		t.Fatalf("ws read: %v", err)
	}
	if m["type"] != "next" {
		t.Fatalf("expected next, got %v", m)
	}
	b, _ := json.Marshal(m["payload"])
	var p struct {
		Data   map[string]json.RawMessage
		Errors []gqlError
	}
	if err := json.Unmarshal(b, &p); err != nil || len(p.Errors) > 0 {
		t.Fatalf("payload %s: %v %+v", b, err, p.Errors)
	}
	return p.Data
}

func (w *wsClient) nextAlert(t *testing.T) lowStockEvent {
	t.Helper()
	var ev lowStockEvent
	if err := json.Unmarshal(w.nextData(t, 5*time.Second)["inventoryLowStock"], &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

type thresholdOut struct {
	Threshold  *int
	UserErrors []struct {
		Field []string
		Code  string
	}
}

func (e *env) setThreshold(t *testing.T, h map[string]string, v string, threshold any) thresholdOut {
	t.Helper()
	var out struct{ InventorySetLowStockThreshold thresholdOut }
	mustData(t, e.do(t, h, `mutation($v: ID!, $t: Int) { inventorySetLowStockThreshold(variantId: $v, threshold: $t) { threshold userErrors { field code } } }`,
		map[string]any{"v": v, "t": threshold}), &out)
	return out.InventorySetLowStockThreshold
}

func TestLowStockAlerts(t *testing.T) {
	e := newEnv(t, 0)
	staff := e.staff(t, "apparel")
	v := e.stock(t, "apparel", "cashmere-beanie", 10, 0)
	wh := e.warehouses(t, "apparel")

	t.Run("ThresholdInput", func(t *testing.T) {
		if out := e.setThreshold(t, staff, v, -1); len(out.UserErrors) != 1 || out.UserErrors[0].Code != "INVALID_QUANTITY_TOO_LOW" {
			t.Fatalf("negative threshold: %+v", out)
		}
		vb := e.stock(t, "electronics", "pulse-anc-headphones", 3, 0)
		if out := e.setThreshold(t, staff, vb, 5); len(out.UserErrors) != 1 || out.UserErrors[0].Code != "NOT_FOUND" {
			t.Fatalf("another shop's variant: %+v", out)
		}
		r := e.do(t, e.storefront(t, "apparel"), `mutation($v: ID!) { inventorySetLowStockThreshold(variantId: $v, threshold: 1) { threshold } }`, map[string]any{"v": v})
		if r.code() != "FORBIDDEN" && r.code() != "UNAUTHENTICATED" {
			t.Fatalf("a pk_ key set a threshold: %+v", r)
		}
	})
	// The shop default applies until the variant has its own.
	var def struct {
		InventorySetDefaultLowStockThreshold thresholdOut
	}
	mustData(t, e.do(t, staff, `mutation { inventorySetDefaultLowStockThreshold(threshold: 3) { threshold userErrors { code } } }`, nil), &def)
	var lv struct {
		InventoryLevels struct {
			Nodes []struct{ LowStockThreshold *int }
		}
	}
	mustData(t, e.do(t, staff, `query($v: [ID!]) { inventoryLevels(first: 5, variantIds: $v) { nodes { lowStockThreshold } } }`, map[string]any{"v": []string{v}}), &lv)
	if n := lv.InventoryLevels.Nodes; len(n) == 0 || n[0].LowStockThreshold == nil || *n[0].LowStockThreshold != 3 {
		t.Fatalf("default threshold on levels: %+v", n)
	}
	if out := e.setThreshold(t, staff, v, 5); out.Threshold == nil || *out.Threshold != 5 || len(out.UserErrors) > 0 {
		t.Fatalf("set threshold: %+v", out)
	}

	start := e.lastSeq(t, "apparel")
	ws, err := dialWS(t, e, authPayload(staff))
	if err != nil {
		t.Fatal(err)
	}
	ws.subscribe(t, "1", lowStockSub, map[string]any{"since": start})

	// 10 → 7 → 4 (LOW) → 2 → 6 (RESTOCKED) → 8 → 3 (LOW): three crossings,
	// not six alerts.
	avail := 10
	seqs := map[int]int{}
	for i, d := range []int{-3, -3, -2, 4, 2, -5} {
		out := e.adjust(t, staff, v, wh[0], d, avail, fmt.Sprintf("ls-%d", i))
		if len(out.InventoryAdjustQuantities.UserErrors) > 0 {
			t.Fatalf("adjust %d: %+v", i, out.InventoryAdjustQuantities.UserErrors)
		}
		avail += d
		seqs[i] = out.InventoryAdjustQuantities.InventoryAdjustmentGroup.Changes[0].Sequence
	}
	want := []struct {
		kind      string
		available int
		step      int
	}{{"LOW", 4, 1}, {"RESTOCKED", 6, 3}, {"LOW", 3, 5}}
	check := func(t *testing.T, ws *wsClient) {
		for i, w := range want {
			got := ws.nextAlert(t)
			if got.Kind != w.kind || got.Available != w.available || got.Threshold != 5 || got.Sequence != seqs[w.step] ||
				got.Change.Sequence != got.Sequence || got.Change.Reason != "correction" || got.Variant == nil || got.Variant.ID != v {
				t.Fatalf("alert %d: got %+v, want %+v at sequence %d", i, got, w, seqs[w.step])
			}
		}
		ws.quiet(t, 400*time.Millisecond)
	}
	check(t, ws)

	t.Run("ResumeWithSince", func(t *testing.T) {
		ws2, err := dialWS(t, e, authPayload(staff))
		if err != nil {
			t.Fatal(err)
		}
		ws2.subscribe(t, "2", lowStockSub, map[string]any{"since": start})
		check(t, ws2)
	})
	t.Run("ThresholdChangeRebasesWithoutAlert", func(t *testing.T) {
		// available 3: a threshold of 2 makes it not low, silently; falling
		// to 1 is then a new crossing.
		if out := e.setThreshold(t, staff, v, 2); out.Threshold == nil || *out.Threshold != 2 {
			t.Fatalf("set threshold: %+v", out)
		}
		ws.quiet(t, 300*time.Millisecond)
		out := e.adjust(t, staff, v, wh[0], -2, 3, "ls-rebase")
		got := ws.nextAlert(t)
		if got.Kind != "LOW" || got.Available != 1 || got.Threshold != 2 || got.Sequence != out.InventoryAdjustQuantities.InventoryAdjustmentGroup.Changes[0].Sequence {
			t.Fatalf("alert after rebase: %+v", got)
		}
	})
	t.Run("PublicKeyCannotSubscribe", func(t *testing.T) {
		pk, err := dialWS(t, e, authPayload(e.storefront(t, "apparel")))
		if err != nil {
			t.Fatal(err)
		}
		pk.subscribe(t, "1", lowStockSub, nil)
		if code := pk.graphqlError(t); code != "FORBIDDEN" {
			t.Fatalf("pk_ key on inventoryLowStock: %s", code)
		}
	})
}

// TestLowStockCrossingsUnderConcurrency moves one variant's stock up and
// down around its threshold from 24 concurrent staff sessions, over two
// warehouses (different level rows, so only the variant's state row
// orders them), with checkouts reserving at the same time. Replaying the
// ledger in sequence order must find an alert exactly where the variant's
// total crossed the threshold, and nowhere else.
func TestLowStockCrossingsUnderConcurrency(t *testing.T) {
	e := newEnvWith(t, 0, nil)
	staff := e.staff(t, "apparel")
	store := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "merino-crew-tee", 13, 13)
	wh := e.warehouses(t, "apparel")
	if out := e.setThreshold(t, staff, v, 25); out.Threshold == nil {
		t.Fatalf("threshold: %+v", out)
	}
	start := e.lastSeq(t, "apparel")
	ws, err := dialWS(t, e, authPayload(staff))
	if err != nil {
		t.Fatal(err)
	}
	ws.subscribe(t, "1", lowStockSub, map[string]any{"since": start})

	level := func(w string) int {
		var lv struct {
			InventoryLevels struct {
				Nodes []struct {
					Available int
					Warehouse struct{ ID string }
				}
			}
		}
		mustData(t, e.do(t, staff, `query($v: [ID!]) { inventoryLevels(first: 10, variantIds: $v) { nodes { available warehouse { id } } } }`, map[string]any{"v": []string{v}}), &lv)
		for _, n := range lv.InventoryLevels.Nodes {
			if n.Warehouse.ID == w {
				return n.Available
			}
		}
		return 0
	}
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			w, d := wh[i%2], 1
			if i%3 == 0 {
				d = -1
			}
			if i%4 == 1 {
				d = -2
			}
			for attempt := range 100 {
				out := e.adjust(t, staff, v, w, d, level(w), fmt.Sprintf("cc-%d-%d", i, attempt))
				if len(out.InventoryAdjustQuantities.UserErrors) == 0 {
					return
				}
				if c := out.InventoryAdjustQuantities.UserErrors[0].Code; c != "CHANGE_FROM_QUANTITY_STALE" && c != "INVALID_QUANTITY_TOO_LOW" {
					t.Errorf("adjust: %+v", out.InventoryAdjustQuantities.UserErrors)
					return
				}
			}
		})
	}
	for i := range 4 {
		wg.Go(func() {
			if _, out := e.checkout(t, store, e.newCart(t, store, v, 1), fmt.Sprintf("cc-co-%d", i)); out.CheckoutBegin.Order == nil {
				t.Errorf("checkout %d: %+v", i, out.CheckoutBegin.UserErrors)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Replay the ledger: per-warehouse levels after each row give the
	// variant's total at that sequence.
	vid := strings.TrimPrefix(v, "gid://cartograph/ProductVariant/")
	rows, err := e.db.Pool.Query(context.Background(), `SELECT sequence, warehouse_id::text, on_hand - reserved, coalesce(stock_alert, ''), coalesce(variant_available, -1)
		FROM inventory_ledger WHERE variant_id = $1 AND sequence > $2 ORDER BY sequence`, vid, start)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{"a": 13, "b": 13}
	wid := map[string]string{}
	low := false
	var wantAlerts []lowStockEvent
	n := 0
	for rows.Next() {
		var seq, avail, va int
		var w, alert string
		if err := rows.Scan(&seq, &w, &avail, &alert, &va); err != nil {
			t.Fatal(err)
		}
		n++
		if _, ok := wid[w]; !ok {
			wid[w] = string(rune('a' + len(wid)))
		}
		per[wid[w]] = avail
		total := per["a"] + per["b"]
		nowLow := total < 25
		switch {
		case nowLow != low && alert == "":
			t.Errorf("sequence %d: total %d crossed the threshold without an alert", seq, total)
		case nowLow == low && alert != "":
			t.Errorf("sequence %d: alert %q without a crossing (total %d)", seq, alert, total)
		case alert != "" && va != total:
			t.Errorf("sequence %d: alert says available %d, the ledger %d", seq, va, total)
		}
		if nowLow != low {
			kind := "RESTOCKED"
			if nowLow {
				kind = "LOW"
			}
			wantAlerts = append(wantAlerts, lowStockEvent{Sequence: seq, Kind: kind, Available: total})
		}
		low = nowLow
	}
	rows.Close()
	if n < 28 || len(wantAlerts) == 0 {
		t.Fatalf("%d ledger rows, %d crossings: the test did not exercise crossings", n, len(wantAlerts))
	}
	for i, w := range wantAlerts {
		got := ws.nextAlert(t)
		if got.Sequence != w.Sequence || got.Kind != w.Kind || got.Available != w.Available {
			t.Fatalf("subscriber alert %d: got %+v, want %+v", i, got, w)
		}
	}
	ws.quiet(t, 300*time.Millisecond)
	t.Logf("%d movements, %d crossings", n, len(wantAlerts))
}

const availabilitySub = `subscription($p: [ID!]) { productAvailabilityChanged(productIds: $p) {
	productId variantId availableForSale productAvailableForSale at } }`

func TestProductAvailabilityChanged(t *testing.T) {
	e := newEnvWith(t, 0, nil)
	staff := e.staff(t, "apparel")
	store := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "everyday-canvas-tote", 2, 0)
	wh := e.warehouses(t, "apparel")
	var pid string
	_ = e.db.Pool.QueryRow(context.Background(), `SELECT 'gid://cartograph/Product/' || product_id::text FROM variants WHERE id = $1`, strings.TrimPrefix(v, "gid://cartograph/ProductVariant/")).Scan(&pid)

	ws, err := dialWS(t, e, authPayload(store))
	if err != nil {
		t.Fatal(err)
	}
	ws.subscribe(t, "1", availabilitySub, map[string]any{"p": []string{pid}})
	other, err := dialWS(t, e, authPayload(e.storefront(t, "electronics")))
	if err != nil {
		t.Fatal(err)
	}
	other.subscribe(t, "1", availabilitySub, nil)
	time.Sleep(100 * time.Millisecond)

	next := func() map[string]any {
		t.Helper()
		raw := ws.nextData(t, 5*time.Second)["productAvailabilityChanged"]
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		for k, val := range m {
			if _, isNum := val.(float64); isNum {
				t.Fatalf("a storefront event carries a number (%s): %s", k, raw)
			}
		}
		if m["productId"] != pid || m["variantId"] != v {
			t.Fatalf("event of another product: %s", raw)
		}
		return m
	}
	// A checkout through the API takes the last 2 units: sold out.
	if _, out := e.checkout(t, store, e.newCart(t, store, v, 1), "av-1"); out.CheckoutBegin.Order == nil {
		t.Fatalf("checkout: %+v", out.CheckoutBegin)
	}
	ws.quiet(t, 300*time.Millisecond) // 2 → 1: no flip
	if _, out := e.checkout(t, store, e.newCart(t, store, v, 1), "av-2"); out.CheckoutBegin.Order == nil {
		t.Fatalf("checkout: %+v", out.CheckoutBegin)
	}
	if m := next(); m["availableForSale"] != false {
		t.Fatalf("sold out: %v", m)
	}
	// Staff receive 3: available again; 3 more: no flip.
	e.adjust(t, staff, v, wh[0], 3, 0, "av-3")
	if m := next(); m["availableForSale"] != true || m["productAvailableForSale"] != true {
		t.Fatalf("back in stock: %v", m)
	}
	e.adjust(t, staff, v, wh[0], 3, 3, "av-4")
	ws.quiet(t, 400*time.Millisecond)
	other.quiet(t, 100*time.Millisecond) // nothing of apparel reaches electronics

	t.Run("NoQuantityFields", func(t *testing.T) {
		ws.subscribe(t, "2", `subscription { productAvailabilityChanged { availableForSale quantityAvailable } }`, nil)
		m, err := ws.read(5 * time.Second)
		if err != nil || (m["type"] != "error" && m["type"] != "next") || !strings.Contains(fmt.Sprint(m["payload"]), "quantityAvailable") {
			t.Fatalf("selecting a quantity: %v %v", m, err)
		}
	})
}
