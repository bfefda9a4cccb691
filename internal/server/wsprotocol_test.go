package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"cartograph/internal/config"

	"github.com/coder/websocket"
)

// dialRaw opens a graphql-transport-ws connection and sends nothing.
func dialRaw(t *testing.T, e *env) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func sendRaw(t *testing.T, c *websocket.Conn, m map[string]any) {
	t.Helper()
	b, _ := json.Marshal(m)
	if err := c.Write(context.Background(), websocket.MessageText, b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// closeCode reads (ignoring messages, answering nothing) until the server
// closes, and returns the close code (-1: the connection dropped without a
// close frame; 0: still open at the timeout).
func closeCode(t *testing.T, c *websocket.Conn, timeout time.Duration) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return 0
		}
		return int(websocket.CloseStatus(err))
	}
}

// waitClosed waits for a wsClient's connection to end and returns its code.
func (w *wsClient) waitClosed(t *testing.T, timeout time.Duration) int {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-w.msgs:
			if !ok {
				return 0
			}
			if m.err != nil {
				return int(websocket.CloseStatus(m.err))
			}
		case <-deadline:
			return 0
		}
	}
}

func TestWebsocketProtocol(t *testing.T) {
	e := newEnvWith(t, 0, func(c *config.Config) {
		c.WSInitTimeout = 400 * time.Millisecond
		c.WSMaxSubscriptions = 2
		c.WSMaxConnsPerPrincipal = 2
		c.WSPingInterval = 200 * time.Millisecond
		c.WSRevalidate = 200 * time.Millisecond
	})
	staff := e.staff(t, "apparel")
	v := e.stock(t, "apparel", "cashmere-beanie", 10, 0)
	wh := e.warehouses(t, "apparel")
	avail := 10
	bump := func(t *testing.T) {
		t.Helper()
		out := e.adjust(t, staff, v, wh[0], 1, avail, "p-"+time.Now().Format("150405.000000000"))
		if len(out.InventoryAdjustQuantities.UserErrors) > 0 {
			t.Fatalf("adjust: %+v", out.InventoryAdjustQuantities.UserErrors)
		}
		avail++
	}

	t.Run("InitTimeoutCloses4408", func(t *testing.T) {
		c := dialRaw(t, e)
		start := time.Now()
		if code := closeCode(t, c, 3*time.Second); code != 4408 {
			t.Fatalf("no connection_init: close %d, want 4408", code)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Fatalf("closed after %v, before the 400ms init timeout", d)
		}
	})
	t.Run("SubscribeBeforeInitCloses4401", func(t *testing.T) {
		c := dialRaw(t, e)
		sendRaw(t, c, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": invChangedSub}})
		if code := closeCode(t, c, 3*time.Second); code != 4401 {
			t.Fatalf("subscribe before init: close %d, want 4401", code)
		}
	})
	t.Run("NoCredentialsCloses4401", func(t *testing.T) {
		_, err := dialWS(t, e, map[string]any{"X-Shop-Handle": "apparel"})
		if websocket.CloseStatus(err) != 4401 {
			t.Fatalf("anonymous connection_init: %v, want close 4401", err)
		}
	})
	t.Run("SecondInitCloses4429", func(t *testing.T) {
		ws, err := dialWS(t, e, authPayload(staff))
		if err != nil {
			t.Fatal(err)
		}
		ws.send(t, map[string]any{"type": "connection_init", "payload": authPayload(staff)})
		if code := ws.waitClosed(t, 3*time.Second); code != 4429 {
			t.Fatalf("second connection_init: close %d, want 4429", code)
		}
	})
	t.Run("DuplicateIDCloses4409", func(t *testing.T) {
		ws, err := dialWS(t, e, authPayload(staff))
		if err != nil {
			t.Fatal(err)
		}
		ws.subscribe(t, "dup", invChangedSub, nil)
		ws.subscribe(t, "dup", invChangedSub, nil)
		if code := ws.waitClosed(t, 3*time.Second); code != 4409 {
			t.Fatalf("duplicate id: close %d, want 4409", code)
		}
	})
	t.Run("CompletedIDCanBeReused", func(t *testing.T) {
		ws, err := dialWS(t, e, authPayload(staff))
		if err != nil {
			t.Fatal(err)
		}
		ws.subscribe(t, "a", invChangedSub, nil)
		ws.send(t, map[string]any{"id": "a", "type": "complete"})
		time.Sleep(100 * time.Millisecond)
		ws.subscribe(t, "a", invChangedSub, nil)
		time.Sleep(100 * time.Millisecond)
		bump(t)
		m, err := ws.read(5 * time.Second)
		if err != nil || m["type"] != "next" || !strings.Contains(fmt_(m["payload"]), `"available":`) {
			t.Logf("logs: %s", e.logs.String())
			t.Fatalf("reused id: %v %v", m, err)
		}
	})
	t.Run("SubscriptionCapRefusesTheExtraOne", func(t *testing.T) {
		ws, err := dialWS(t, e, authPayload(staff))
		if err != nil {
			t.Fatal(err)
		}
		ws.subscribe(t, "1", invChangedSub, nil)
		// A subscription the server ends itself (invalid) frees its slot.
		ws.subscribe(t, "x", `subscription { noSuchField }`, nil)
		for {
			m, err := ws.read(5 * time.Second)
			if err != nil {
				t.Fatalf("the invalid subscription: %v", err)
			}
			if m["id"] == "x" && (m["type"] == "complete" || m["type"] == "error") {
				break
			}
		}
		ws.subscribe(t, "2", invChangedSub, nil)
		ws.subscribe(t, "3", invChangedSub, nil)
		m, err := ws.read(5 * time.Second)
		for err == nil && m["id"] == "x" { // the invalid one's complete after its error
			m, err = ws.read(5 * time.Second)
		}
		if err != nil || m["type"] != "error" || m["id"] != "3" || !strings.Contains(fmt_(m["payload"]), "THROTTLED") {
			t.Fatalf("third subscription: %v %v", m, err)
		}
		bump(t)
		got := map[any]bool{}
		for range 2 {
			m, err := ws.read(5 * time.Second)
			if err != nil || m["type"] != "next" {
				t.Fatalf("the first two subscriptions: %v %v", m, err)
			}
			got[m["id"]] = true
		}
		if !got["1"] || !got["2"] {
			t.Fatalf("events went to %v", got)
		}
	})
	t.Run("ConnectionCapPerPrincipal4429", func(t *testing.T) {
		key := map[string]string{"X-Api-Key": mustKey(t, e, "apparel")}
		a, err := dialWS(t, e, authPayload(key))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dialWS(t, e, authPayload(key)); err != nil {
			t.Fatal(err)
		}
		if _, err := dialWS(t, e, authPayload(key)); websocket.CloseStatus(err) != 4429 {
			t.Fatalf("third connection of one key: %v, want close 4429", err)
		}
		// Another principal is not affected; a closed connection frees its slot.
		if _, err := dialWS(t, e, authPayload(staff)); err != nil {
			t.Fatalf("another principal: %v", err)
		}
		_ = a.c.Close(websocket.StatusNormalClosure, "bye")
		time.Sleep(300 * time.Millisecond)
		if _, err := dialWS(t, e, authPayload(key)); err != nil {
			t.Fatalf("after closing one: %v", err)
		}
	})
	t.Run("KeepAlive", func(t *testing.T) {
		// A client that answers pings stays; one that does not is dropped.
		good, err := dialWS(t, e, authPayload(staff))
		if err != nil {
			t.Fatal(err)
		}
		good.subscribe(t, "1", invChangedSub, nil)
		bad := dialRaw(t, e)
		sendRaw(t, bad, map[string]any{"type": "connection_init", "payload": authPayload(staff)})
		start := time.Now()
		if code := closeCode(t, bad, 5*time.Second); code == 0 {
			t.Fatalf("a client that never answers pings is still connected after 5s")
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Fatalf("dropped after %v, before two ping intervals", d)
		}
		time.Sleep(600 * time.Millisecond) // three ping intervals
		bump(t)
		if ev := good.next(t, 5*time.Second); ev.Available != avail {
			t.Fatalf("the ponging client: %+v", ev)
		}
		// Client pings are answered.
		good.send(t, map[string]any{"type": "ping"})
	})
	t.Run("RevokedKeyCloses4403", func(t *testing.T) {
		id, pk := e.createKey(t, "apparel", "PUBLIC", "")
		ws, err := dialWS(t, e, map[string]any{"X-Shopify-Storefront-Access-Token": pk})
		if err != nil {
			t.Fatal(err)
		}
		ws.subscribe(t, "1", availabilitySub, nil)
		var out struct {
			ApiKeyRevoke struct{ APIKey *struct{ ID string } }
		}
		mustData(t, e.do(t, staff, `mutation($id: ID!) { apiKeyRevoke(id: $id) { apiKey { id } } }`, map[string]any{"id": id}), &out)
		if code := ws.waitClosed(t, 5*time.Second); code != 4403 {
			t.Fatalf("revoked key: close %d, want 4403", code)
		}
	})
}

func TestWebsocketClosesAtTokenExpiry(t *testing.T) {
	e := newEnvWith(t, 0, func(c *config.Config) {
		c.StaffTokenTTL = 2 * time.Second
		c.WSRevalidate = time.Hour // only the expiry timer can close it
	})
	ws, err := dialWS(t, e, authPayload(e.staff(t, "apparel")))
	if err != nil {
		t.Fatal(err)
	}
	ws.subscribe(t, "1", invChangedSub, nil)
	start := time.Now()
	if code := ws.waitClosed(t, 6*time.Second); code != 4403 {
		t.Fatalf("expired session: close %d after %v, want 4403", code, time.Since(start))
	}
}

func fmt_(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func mustKey(t *testing.T, e *env, shop string) string {
	t.Helper()
	_, key := e.createKey(t, shop, "SECRET", "")
	return key
}
