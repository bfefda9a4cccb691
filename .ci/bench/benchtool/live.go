package main

// benchtool live: the subscription fan-out driver of `.ci/bench.sh live`
// (replaces a Node driver whose single event loop, receiving 50,000
// messages a second, delayed both the receipt timestamps and its own stock
// changes). Environment, as the script sets it:
//
//	BASES        gateway instances, comma-separated; subscriber i connects to
//	             BASES[i % n], change j is made through BASES[j % n]
//	SHOP, EMAIL, PASSWORD  a shop and a staff owner of it
//	SUBS [1000]  websocket subscribers (inventoryChanged of one variant)
//	RATE [50]    stock changes per second (inventoryAdjustQuantities,
//	             serialized: each is a compare-and-swap on the last value)
//	SECONDS [20] duration of the change phase
//	SERVER_PIDS  the instances' pids (comma-separated), for their RSS
//
// Latency = receipt time − the change's ledger timestamp (`at`, written in
// the committing transaction; same machine clock). Missed = changes ×
// subscribers − delivered. Baseline in the same run: one client polling
// inventoryLevels every second; a change is observed when a poll made before
// the next change shows its resulting value.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

type liveEnv struct {
	bases  []string
	shop   string
	token  string
	client *http.Client
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return v
	}
	return def
}

func (e *liveEnv) gql(base, query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shop-Handle", e.shop)
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []any           `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return err
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("graphql errors: %v", r.Errors)
	}
	return json.Unmarshal(r.Data, out)
}

var vmRSS = regexp.MustCompile(`VmRSS:\s+(\d+)`)

func rssKB(pid string) int {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	m := vmRSS.FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

type receipt struct {
	seq     int64
	latency time.Duration
}

type subscriber struct {
	conn *websocket.Conn
	mu   sync.Mutex
	got  []receipt
}

const liveSub = `subscription($v: [ID!]) { inventoryChanged(variantIds: $v) { sequence at } }`

func (e *liveEnv) open(ctx context.Context, base, variant string) (*subscriber, error) {
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	send := func(m map[string]any) error {
		b, _ := json.Marshal(m)
		return c.Write(ctx, websocket.MessageText, b)
	}
	if err := send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + e.token, "X-Shop-Handle": e.shop}}); err != nil {
		return nil, err
	}
	_, b, err := c.Read(ctx)
	if err != nil || !bytes.Contains(b, []byte(`"connection_ack"`)) {
		return nil, fmt.Errorf("no connection_ack: %s %v", b, err)
	}
	if err := send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": liveSub, "variables": map[string]any{"v": []string{variant}}}}); err != nil {
		return nil, err
	}
	return &subscriber{conn: c}, nil
}

// read records every event until the connection closes.
func (s *subscriber) read(closing *bool) {
	var m struct {
		Type    string `json:"type"`
		Payload struct {
			Data struct {
				InventoryChanged *struct {
					Sequence int64     `json:"sequence"`
					At       time.Time `json:"at"`
				} `json:"inventoryChanged"`
			} `json:"data"`
		} `json:"payload"`
	}
	for {
		_, b, err := s.conn.Read(context.Background())
		now := time.Now()
		if err != nil {
			if !*closing {
				fmt.Fprintf(os.Stderr, "subscriber closed: %v\n", err)
			}
			return
		}
		m.Type, m.Payload.Data.InventoryChanged = "", nil
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		switch m.Type {
		case "next":
			if c := m.Payload.Data.InventoryChanged; c != nil {
				s.mu.Lock()
				s.got = append(s.got, receipt{c.Sequence, now.Sub(c.At)})
				s.mu.Unlock()
			}
		case "ping":
			_ = s.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"pong"}`))
		}
	}
}

func pctMs(a []time.Duration, p float64) any {
	if len(a) == 0 {
		return nil
	}
	i := min(len(a)-1, int(p/100*float64(len(a))))
	return a[i].Milliseconds()
}

func cmdLive(_ []string) error {
	e := &liveEnv{bases: strings.Split(os.Getenv("BASES"), ","), shop: os.Getenv("SHOP"),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	subs, rate, seconds := envInt("SUBS", 1000), envInt("RATE", 50), envInt("SECONDS", 20)
	pids := strings.Split(os.Getenv("SERVER_PIDS"), ",")
	rssAll := func() []int {
		out := make([]int, len(pids))
		for i, p := range pids {
			out[i] = rssKB(p)
		}
		return out
	}
	var login struct {
		StaffLogin struct{ AccessToken string } `json:"staffLogin"`
	}
	if err := e.gql(e.bases[0], `mutation($e: String!, $p: String!) { staffLogin(input: {email: $e, password: $p}) { accessToken } }`,
		map[string]any{"e": os.Getenv("EMAIL"), "p": os.Getenv("PASSWORD")}, &login); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	e.token = login.StaffLogin.AccessToken
	var lv struct {
		InventoryLevels struct {
			Nodes []struct {
				Available       int    `json:"available"`
				InventoryItemID string `json:"inventoryItemId"`
				LocationID      string `json:"locationId"`
			} `json:"nodes"`
		} `json:"inventoryLevels"`
	}
	if err := e.gql(e.bases[0], `{ inventoryLevels(first: 1) { nodes { available inventoryItemId locationId } } }`, nil, &lv); err != nil || len(lv.InventoryLevels.Nodes) == 0 {
		return fmt.Errorf("inventoryLevels: %v", err)
	}
	v, w, avail := lv.InventoryLevels.Nodes[0].InventoryItemID, lv.InventoryLevels.Nodes[0].LocationID, lv.InventoryLevels.Nodes[0].Available

	// Subscribers, opened 50 at a time.
	rss0 := rssAll()
	t0 := time.Now()
	all := make([]*subscriber, subs)
	closing := false
	for i := 0; i < subs; i += 50 {
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for k := i; k < min(subs, i+50); k++ {
			wg.Add(1)
			go func(k int) {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				s, err := e.open(ctx, e.bases[k%len(e.bases)], v)
				if err != nil {
					errs <- fmt.Errorf("subscriber %d: %w", k, err)
					return
				}
				all[k] = s
				go s.read(&closing)
			}(k)
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
	}
	time.Sleep(time.Second)
	rss1 := rssAll()
	connect := time.Since(t0)

	// Baseline poller.
	type poll struct {
		at    time.Time
		avail int
	}
	var polls []poll
	var pmu sync.Mutex
	stopPoll := make(chan struct{})
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		for {
			started := time.Now()
			var out struct {
				InventoryLevels struct {
					Nodes []struct {
						Available  int    `json:"available"`
						LocationID string `json:"locationId"`
					} `json:"nodes"`
				} `json:"inventoryLevels"`
			}
			if e.gql(e.bases[0], `query($v: [ID!]) { inventoryLevels(first: 5, variantIds: $v) { nodes { available locationId } } }`, map[string]any{"v": []string{v}}, &out) == nil {
				for _, n := range out.InventoryLevels.Nodes {
					if n.LocationID == w {
						pmu.Lock()
						polls = append(polls, poll{time.Now(), n.Available})
						pmu.Unlock()
					}
				}
			}
			select {
			case <-stopPoll:
				return
			case <-time.After(time.Second - time.Since(started)):
			}
		}
	}()

	// Changes at RATE per second, serialized, alternating instances.
	const adj = `mutation($v: ID!, $w: ID!, $d: Int!, $from: Int!, $k: String!) {
  inventoryAdjustQuantities(input: {name: "available", reason: "correction", changes: [{inventoryItemId: $v, locationId: $w, delta: $d, changeFromQuantity: $from}]}, idempotencyKey: $k) {
  inventoryAdjustmentGroup { changes { sequence available } } userErrors { message } } }`
	total := rate * seconds
	expected := make([]int64, 0, total)
	type done struct {
		avail int
		at    time.Time
	}
	var doneAt []done
	late := 0
	start := time.Now()
	for i := 0; i < total; i++ {
		due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		} else {
			late++
		}
		d := 1
		if i%2 == 1 {
			d = -1
		}
		var out struct {
			P struct {
				G *struct {
					Changes []struct {
						Sequence int64 `json:"sequence"`
					} `json:"changes"`
				} `json:"inventoryAdjustmentGroup"`
				UserErrors []struct{ Message string } `json:"userErrors"`
			} `json:"inventoryAdjustQuantities"`
		}
		if err := e.gql(e.bases[i%len(e.bases)], adj, map[string]any{"v": v, "w": w, "d": d, "from": avail, "k": fmt.Sprintf("bench-live-%d-%d", start.UnixNano(), i)}, &out); err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
		if len(out.P.UserErrors) > 0 || out.P.G == nil {
			return fmt.Errorf("change %d: %v", i, out.P.UserErrors)
		}
		avail += d
		expected = append(expected, out.P.G.Changes[0].Sequence)
		doneAt = append(doneAt, done{avail, time.Now()})
	}
	changeSecs := time.Since(start).Seconds()
	time.Sleep(3 * time.Second) // drain
	close(stopPoll)
	<-pollDone
	// What the open subscriptions hold once garbage is collected: each
	// instance's live heap, goroutine stacks and goroutines with the
	// subscriptions open, then again after they closed (both after a
	// forced GC, via /debug/pprof; RSS above was read before any of it).
	type held struct{ heap, stack, goroutines int }
	heldNow := func() (held, bool) {
		var h held
		for _, b := range e.bases {
			g, mem, err := serverStats(b, true)
			if err != nil {
				return h, false
			}
			h.heap += mem["HeapAlloc"]
			h.stack += mem["Stack"]
			h.goroutines += g
		}
		return h, true
	}
	open, okOpen := heldNow()
	closing = true
	for _, s := range all {
		_ = s.conn.Close(websocket.StatusNormalClosure, "done")
	}
	time.Sleep(2 * time.Second)
	closed, okClosed := heldNow()

	var lat, same, cross []time.Duration
	delivered := 0
	idx := map[int64]int{}
	for j, seq := range expected {
		idx[seq] = j
	}
	perInstance := make([]int, len(e.bases))
	for si, s := range all {
		perInstance[si%len(e.bases)]++
		s.mu.Lock()
		seen := map[int64]bool{}
		for _, r := range s.got {
			j, ok := idx[r.seq]
			if !ok || seen[r.seq] {
				continue
			}
			seen[r.seq] = true
			delivered++
			lat = append(lat, r.latency)
			if si%len(e.bases) == j%len(e.bases) {
				same = append(same, r.latency)
			} else {
				cross = append(cross, r.latency)
			}
		}
		s.mu.Unlock()
	}
	for _, a := range [][]time.Duration{lat, same, cross} {
		slices.Sort(a)
	}
	var stale []time.Duration
	for i, d := range doneAt {
		next := time.Now().Add(time.Hour)
		if i+1 < len(doneAt) {
			next = doneAt[i+1].at
		}
		for _, p := range polls {
			if !p.at.Before(d.at) && p.at.Before(next) && p.avail == d.avail {
				stale = append(stale, p.at.Sub(d.at))
				break
			}
		}
	}
	slices.Sort(stale)
	rssDelta := 0
	rssPairs := make([]string, len(pids))
	for i := range pids {
		rssDelta += rss1[i] - rss0[i]
		rssPairs[i] = fmt.Sprintf("%d→%d", rss0[i], rss1[i])
	}
	var maxMs any
	if len(lat) > 0 {
		maxMs = lat[len(lat)-1].Milliseconds()
	}
	res := map[string]any{
		"subscribers": subs, "changes": len(expected), "changesPerSec": float64(int(float64(len(expected))/changeSecs*10)) / 10, "lateTicks": late,
		"expected": len(expected) * subs, "delivered": delivered, "missed": len(expected)*subs - delivered,
		"p50": pctMs(lat, 50), "p95": pctMs(lat, 95), "p99": pctMs(lat, 99), "max": maxMs,
		"connectSeconds": float64(int(connect.Seconds()*10)) / 10, "rssIdleKBPerSub": float64(int(float64(rssDelta)/float64(subs)*10)) / 10,
		"rss": rssPairs, "perInstance": perInstance,
		"retainedAfterGC": func() any {
			if !okOpen || !okClosed {
				return nil // no /debug/pprof (CARTOGRAPH_DEBUG_STATS unset)
			}
			kb := func(a, b int) float64 { return float64(int(float64(a-b)/1024/float64(subs)*10)) / 10 }
			return map[string]any{"heapKBPerSub": kb(open.heap, closed.heap), "stackKBPerSub": kb(open.stack, closed.stack),
				"goroutinesPerConn": float64(int(float64(open.goroutines-closed.goroutines)/float64(subs)*100)) / 100}
		}(),
		"sameInstance":    map[string]any{"p50": pctMs(same, 50), "p99": pctMs(same, 99)},
		"crossInstance":   map[string]any{"p50": pctMs(cross, 50), "p99": pctMs(cross, 99)},
		"pollingBaseline": map[string]any{"observed": len(stale), "of": len(doneAt), "p50": pctMs(stale, 50), "p95": pctMs(stale, 95)},
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
