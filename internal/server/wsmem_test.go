package server_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"cartograph/internal/config"
)

// rawWS is a websocket client with no goroutine of its own (so the test
// can count the server's): a handshake, masked frames out, frames in.
type rawWS struct {
	nc    net.Conn
	br    *bufio.Reader
	proto string
}

func dialRawWS(t *testing.T, e *env, proto string) *rawWS {
	t.Helper()
	nc, err := net.DialTimeout("tcp", strings.TrimPrefix(e.srv.URL, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	fmt.Fprintf(nc, "GET /graphql HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
		strings.TrimPrefix(e.srv.URL, "http://"), base64.StdEncoding.EncodeToString(key), proto)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Protocol") != proto {
		t.Fatalf("upgrade: %d %v", resp.StatusCode, resp.Header)
	}
	return &rawWS{nc: nc, br: br, proto: proto}
}

func (w *rawWS) send(t *testing.T, m map[string]any) {
	t.Helper()
	p, _ := json.Marshal(m)
	f := []byte{0x81, 0}
	switch {
	case len(p) <= 125:
		f[1] = 0x80 | byte(len(p))
	default:
		f[1] = 0x80 | 126
		f = binary.BigEndian.AppendUint16(f, uint16(len(p)))
	}
	mask := make([]byte, 4)
	_, _ = rand.Read(mask)
	f = append(f, mask...)
	for i, b := range p {
		f = append(f, b^mask[i&3])
	}
	if _, err := w.nc.Write(f); err != nil {
		t.Fatal(err)
	}
}

// next returns the next message other than keep-alives (answering pings).
func (w *rawWS) next(t *testing.T, timeout time.Duration) map[string]any {
	t.Helper()
	_ = w.nc.SetReadDeadline(time.Now().Add(timeout))
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.br, h[:]); err != nil {
			t.Fatalf("read: %v", err)
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			_, _ = io.ReadFull(w.br, l[:])
			n = int(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			_, _ = io.ReadFull(w.br, l[:])
			n = int(binary.BigEndian.Uint64(l[:]))
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(w.br, p); err != nil {
			t.Fatalf("read: %v", err)
		}
		if op := h[0] & 0x0f; op == 0x8 {
			t.Fatalf("closed by the server: %d %s", binary.BigEndian.Uint16(p), p[2:])
		} else if op != 0x1 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(p, &m); err != nil {
			t.Fatalf("bad message %s", p)
		}
		switch m["type"] {
		case "ka", "pong":
			continue
		case "ping":
			w.send(t, map[string]any{"type": "pong"})
			continue
		}
		return m
	}
}

// TestIdleSubscriptionsCostOneGoroutineEach opens idle subscriptions in
// both protocols and checks the server holds one goroutine per connection
// (the reader) and none per subscription, and that every one still gets
// the next event (memory itself is measured by .ci/bench.sh wsidle/live,
// out of process).
func TestIdleSubscriptionsCostOneGoroutineEach(t *testing.T) {
	e := newEnvWith(t, 0, func(c *config.Config) {
		c.WSMaxConnsPerPrincipal = 100
		c.WSPingInterval = time.Minute
	})
	staff := e.staff(t, "apparel")
	v := e.stock(t, "apparel", "cashmere-beanie", 10, 0)
	wh := e.warehouses(t, "apparel")
	open := func(proto string, i int) *rawWS {
		w := dialRawWS(t, e, proto)
		w.send(t, map[string]any{"type": "connection_init", "payload": authPayload(staff)})
		if m := w.next(t, 5*time.Second); m["type"] != "connection_ack" {
			t.Fatalf("%s: expected connection_ack, got %v", proto, m)
		}
		typ := "subscribe"
		if proto == "graphql-ws" {
			typ = "start"
		}
		w.send(t, map[string]any{"id": fmt.Sprint(i), "type": typ, "payload": map[string]any{"query": invChangedSub, "variables": map[string]any{"v": []string{v}}}})
		return w
	}
	// Warm up: the events consumer and the pools start with the first.
	warm := open("graphql-transport-ws", 0)
	time.Sleep(300 * time.Millisecond)
	g0 := runtime.NumGoroutine()

	const n = 40
	conns := make([]*rawWS, n)
	for i := range conns {
		proto := "graphql-transport-ws"
		if i%2 == 1 {
			proto = "graphql-ws"
		}
		conns[i] = open(proto, i+1)
	}
	// Each subscribe finishes on goroutines that then exit; wait for them.
	var per float64
	deadline := time.Now().Add(10 * time.Second)
	for {
		per = float64(runtime.NumGoroutine()-g0) / n
		if per <= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%.2f server goroutines per idle subscription", per)
	if per > 1 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%.2f server goroutines per idle websocket connection, want at most 1:\n%s", per, buf[:runtime.Stack(buf, true)])
	}

	if out := e.adjust(t, staff, v, wh[0], 1, 10, "idle-1"); len(out.InventoryAdjustQuantities.UserErrors) > 0 {
		t.Fatalf("adjust: %+v", out.InventoryAdjustQuantities.UserErrors)
	}
	for i, w := range append(conns, warm) {
		m := w.next(t, 10*time.Second)
		want := "next"
		if w.proto == "graphql-ws" {
			want = "data"
		}
		if m["type"] != want || !strings.Contains(fmt_(m["payload"]), `"available":11`) {
			t.Fatalf("connection %d (%s): %v", i, w.proto, m)
		}
	}
}
