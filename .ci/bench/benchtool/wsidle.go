package main

// benchtool wsidle: the memory cost of idle websocket subscriptions on ONE
// gateway instance, quicker than `live` (no changes, no second instance):
// opens SUBS subscribers (as `live` does), waits, and reports the server's
// VmRSS delta per subscription and its goroutines per connection (from
// /debug/pprof, so the server runs with CARTOGRAPH_DEBUG_STATS=1), plus the
// runtime's stack and heap figures after a forced GC. Environment: BASE,
// SHOP, EMAIL, PASSWORD, SUBS [1000], SERVER_PID, SETTLE [1s].

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

var (
	goroutineTotal = regexp.MustCompile(`goroutine profile: total (\d+)`)
	memStat        = regexp.MustCompile(`# (HeapInuse|HeapAlloc|Stack|TotalAlloc|Mallocs|NumGC|NextGC|HeapReleased) = (\d+)`)
)

// serverStats reads the goroutine count and, after a forced GC when gc,
// the runtime's memory figures of the server at base.
func serverStats(base string, gc bool) (int, map[string]int, error) {
	get := func(path string) (string, error) {
		resp, err := http.Get(base + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("%s: %d (CARTOGRAPH_DEBUG_STATS=1?)", path, resp.StatusCode)
		}
		return string(b), err
	}
	g, err := get("/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, nil, err
	}
	m := goroutineTotal.FindStringSubmatch(g)
	if m == nil {
		return 0, nil, fmt.Errorf("no goroutine total")
	}
	n, _ := strconv.Atoi(m[1])
	q := "/debug/pprof/heap?debug=1"
	if gc {
		q += "&gc=1"
	}
	h, err := get(q)
	if err != nil {
		return 0, nil, err
	}
	mem := map[string]int{}
	for _, s := range memStat.FindAllStringSubmatch(h, -1) {
		v, _ := strconv.Atoi(s[2])
		mem[s[1]] = v
	}
	return n, mem, nil
}

// saveProfile writes a server profile into PROFILE_DIR, when set.
func saveProfile(base, name, path string) {
	dir := os.Getenv("PROFILE_DIR")
	if dir == "" {
		return
	}
	if resp, err := http.Get(base + path); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_ = os.WriteFile(dir+"/"+name, b, 0o644)
	}
}

func cmdWSIdle(_ []string) error {
	base := os.Getenv("BASE")
	e := &liveEnv{bases: []string{base}, shop: os.Getenv("SHOP"), client: &http.Client{Timeout: 10 * time.Second}}
	subs, pid := envInt("SUBS", 1000), os.Getenv("SERVER_PID")
	settle, err := time.ParseDuration(os.Getenv("SETTLE"))
	if err != nil {
		settle = time.Second
	}
	var login struct {
		StaffLogin struct{ AccessToken string } `json:"staffLogin"`
	}
	if err := e.gql(base, `mutation($e: String!, $p: String!) { staffLogin(input: {email: $e, password: $p}) { accessToken } }`,
		map[string]any{"e": os.Getenv("EMAIL"), "p": os.Getenv("PASSWORD")}, &login); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	e.token = login.StaffLogin.AccessToken
	var lv struct {
		InventoryLevels struct {
			Nodes []struct {
				InventoryItemID string `json:"inventoryItemId"`
			} `json:"nodes"`
		} `json:"inventoryLevels"`
	}
	if err := e.gql(base, `{ inventoryLevels(first: 1) { nodes { inventoryItemId } } }`, nil, &lv); err != nil || len(lv.InventoryLevels.Nodes) == 0 {
		return fmt.Errorf("inventoryLevels: %v", err)
	}
	v := lv.InventoryLevels.Nodes[0].InventoryItemID
	// As `live`: the baseline right after the login, no forced GC (a GC
	// here would hand the connections the login's freed memory).
	g0, mem0, err := serverStats(base, false)
	if err != nil {
		return err
	}
	rss0 := rssKB(pid)
	saveProfile(base, "heap0.pb.gz", "/debug/pprof/heap?gc=1") // profiles are as of the last GC: this one changes the run
	closing := false
	all := make([]*subscriber, subs)
	t0 := time.Now()
	for i := 0; i < subs; i += 50 {
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for k := i; k < min(subs, i+50); k++ {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				s, err := e.open(ctx, base, v)
				if err != nil {
					errs <- fmt.Errorf("subscriber %d: %w", k, err)
					return
				}
				all[k] = s
				go s.read(&closing)
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
	}
	connect := time.Since(t0)
	time.Sleep(time.Second) // as `live` does
	rss1 := rssKB(pid)
	saveProfile(base, "heap1.pb.gz", "/debug/pprof/heap?gc=1")
	g1, mem1, err := serverStats(base, false)
	if err != nil {
		return err
	}
	time.Sleep(settle)
	rss2 := rssKB(pid)
	_, memGC1, err := serverStats(base, true)
	if err != nil {
		return err
	}
	saveProfile(base, "heap.pb.gz", "/debug/pprof/heap?gc=1")
	saveProfile(base, "goroutines.txt", "/debug/pprof/goroutine?debug=1")
	closing = true
	for _, s := range all {
		_ = s.conn.Close(websocket.StatusNormalClosure, "done")
	}
	time.Sleep(settle)
	g2, memGC2, err := serverStats(base, true)
	if err != nil {
		return err
	}
	per := func(a, b int) float64 { return float64(int(float64(b-a)/float64(subs)*10)) / 10 }
	perKB := func(a, b map[string]int, k string) float64 { return per(a[k], b[k]) / 1024 }
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"subscribers": subs, "connectSeconds": float64(int(connect.Seconds()*10)) / 10,
		"rssKB":                    []int{rss0, rss1, rss2},
		"rssKBPerSub":              per(rss0, rss1),
		"rssKBPerSubAfterSettle":   per(rss0, rss2),
		"goroutinesPerConn":        per(g0, g1),
		"goroutinesLeftAfterClose": g2 - g0,
		"gcsWhileConnecting":       mem1["NumGC"] - mem0["NumGC"],
		"allocKBPerSub":            perKB(mem0, mem1, "TotalAlloc"),
		"mallocsPerSub":            per(mem0["Mallocs"], mem1["Mallocs"]),
		// Retained: with the subscriptions open vs after they closed, both after a GC.
		"retainedHeapKBPerSub":  perKB(memGC2, memGC1, "HeapAlloc"),
		"retainedStackKBPerSub": perKB(memGC2, memGC1, "Stack"),
		"nextGCMB":              []int{mem0["NextGC"] >> 20, mem1["NextGC"] >> 20},
	})
}
