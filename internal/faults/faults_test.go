//go:build faults

package faults

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cartograph/internal/orders"
	"cartograph/internal/payments"
	"cartograph/internal/testdb"
)

// invariants checks with SQL that stock, reservations, orders, refunds and
// checkout keys agree, and returns a line of figures. initial is the
// variant's on_hand before the scenario.
func invariants(t *testing.T, name string, db *testdb.DB, variantID string, initial int, rec *testdb.Recorder) {
	t.Helper()
	ctx := context.Background()
	q := func(sql string, args ...any) int {
		var n int
		if err := db.Pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	ordersN := q(`SELECT count(*) FROM orders`)
	noRes := q(`SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_reservations r WHERE r.shop_id = o.shop_id AND r.order_id = o.id)`)
	liveNoIntent := q(`SELECT count(*) FROM orders WHERE status = 'PENDING_PAYMENT' AND payment_intent_id IS NULL`)
	twoLive := q(`SELECT count(*) FROM (SELECT cart_id FROM orders WHERE cart_id IS NOT NULL AND status NOT IN ('CANCELLED', 'EXPIRED') GROUP BY shop_id, cart_id HAVING count(*) > 1) x`)
	twoPerKey := q(`SELECT count(*) FROM (SELECT 1 FROM orders WHERE checkout_key IS NOT NULL GROUP BY shop_id, checkout_scope, checkout_key HAVING count(*) > 1) x`)
	// Stock: reserved on the level = units of live reservations; on_hand
	// = initial − committed units + restocked ones (restock only follows
	// a commit, so on_hand = initial − units still committed).
	var onHand, reserved, resLive, committed int
	if err := db.Pool.QueryRow(ctx, `SELECT sum(on_hand), sum(reserved),
		coalesce((SELECT sum(quantity) FROM order_reservations WHERE variant_id = $1 AND state = 'reserved'), 0),
		coalesce((SELECT sum(quantity) FROM order_reservations WHERE variant_id = $1 AND state = 'committed'), 0)
		FROM inventory_levels WHERE variant_id = $1`, variantID).Scan(&onHand, &reserved, &resLive, &committed); err != nil {
		t.Fatal(err)
	}
	// Reservation rows of live orders are 'reserved'; of closed ones never.
	badRes := q(`SELECT count(*) FROM order_reservations r JOIN orders o ON o.shop_id = r.shop_id AND o.id = r.order_id
		WHERE (o.status = 'PENDING_PAYMENT') <> (r.state = 'reserved')`)
	running := q(`SELECT count(*) FROM idempotency_keys WHERE state = 'running'`)
	ok := noRes == 0 && twoLive == 0 && twoPerKey == 0 && reserved == resLive && onHand == initial-committed && badRes == 0
	line := fmt.Sprintf("orders=%d without-reservations=%d pending-without-intent=%d carts-with-2-live-orders=%d keys-with-2-orders=%d reserved=%d(=live %d) on_hand=%d(=%d-%d) reservation-state-mismatch=%d idempotency-running=%d",
		ordersN, noRes, liveNoIntent, twoLive, twoPerKey, reserved, resLive, onHand, initial, committed, badRes, running)
	if rec != nil {
		pending := q(`SELECT count(*) FROM refunds WHERE state = 'pending'`)
		var recorded int64
		if err := db.Pool.QueryRow(ctx, `SELECT coalesce(sum(refunded_amount), 0) FROM orders`).Scan(&recorded); err != nil {
			t.Fatal(err)
		}
		over := q(`SELECT count(*) FROM orders WHERE refunded_amount > total_amount`)
		// One provider refund per refund row: every provider refund's key
		// names a succeeded row, and no key twice.
		keys := map[string]int{}
		for _, r := range rec.Refunds() {
			keys[r.Key]++
		}
		orphan, dup := 0, 0
		for k, n := range keys {
			if n > 1 {
				dup++
			}
			id := strings.TrimPrefix(k, "cartograph-refund-refund-")
			if q(`SELECT count(*) FROM refunds WHERE id::text = $1 AND state = 'succeeded'`, id) != 1 {
				orphan++
			}
		}
		provider := rec.RefundedTotal("")
		ok = ok && pending == 0 && provider == recorded && over == 0 && orphan == 0 && dup == 0
		line += fmt.Sprintf(" refunds-pending=%d provider-refunds=%d provider-total=%d recorded-total=%d over-refunded-orders=%d provider-refunds-without-row=%d",
			pending, len(rec.Refunds()), provider, recorded, over, orphan)
	}
	report(t, name, ok, "%s", line)
}

// TestKillDuringCheckoutsAndRefunds: SIGKILL of the gateway in the middle
// of a burst of checkouts and refunds, restart, retry every request with
// its key, run the refund recovery; then nothing is half-done or paid
// twice.
func TestKillDuringCheckoutsAndRefunds(t *testing.T) {
	ctx := context.Background()
	db := shopDB(t, "faults_kill")
	rec := testdb.StartRecorder(t)
	rds := startRedis(t)
	g := startGateway(t, db.URL, rds.url(), rec.URL)
	staff, store := headers(t, g)
	const initial = 5000
	vgid, vid := variant(t, db, "merino-crew-tee", initial)

	// Paid orders to refund during the burst.
	const paidN, checkoutsN = 24, 80
	type paid struct{ gid, id, intent, shop string }
	var paidOrders []paid
	for i := range paidN {
		cart, r := newCart(g, store, vgid, 1)
		if cart == "" {
			t.Fatalf("cart: %+v", r)
		}
		gid, r := checkout(g, store, cart, fmt.Sprintf("paid-%d", i))
		if gid == "" {
			t.Fatalf("checkout: %v %+v", r.Err, r.Errors)
		}
		p := paid{gid: gid, id: strings.TrimPrefix(gid, "gid://cartograph/Order/")}
		if err := db.Pool.QueryRow(ctx, `SELECT payment_intent_id, shop_id::text FROM orders WHERE id = $1`, p.id).Scan(&p.intent, &p.shop); err != nil {
			t.Fatal(err)
		}
		rec.Pay(p.intent)
		if st, err := deliver(g, "evt_paid_"+p.id, "payment_intent.succeeded", p.intent, p.shop, p.id); err != nil || st != 200 {
			t.Fatalf("webhook %d %v", st, err)
		}
		paidOrders = append(paidOrders, p)
	}
	carts := make([]string, checkoutsN)
	for i := range carts {
		if carts[i], _ = newCart(g, store, vgid, 2); carts[i] == "" {
			t.Fatal("cart")
		}
	}
	// The burst: every checkout once, and for every paid order two
	// concurrent 60 % refunds (only one fits); SIGKILL after a third of
	// the requests have been sent.
	type job struct {
		kind, target, key string
	}
	var jobs []job
	for i, c := range carts {
		jobs = append(jobs, job{"checkout", c, fmt.Sprintf("burst-%d", i)})
		if i < paidN {
			jobs = append(jobs, job{"refund", paidOrders[i].gid, fmt.Sprintf("rf-a-%d", i)}, job{"refund", paidOrders[i].gid, fmt.Sprintf("rf-b-%d", i)})
		}
	}
	refundQ := `mutation($id: ID!, $k: String!, $a: Decimal) { orderRefund(id: $id, amount: $a, reason: "faults", idempotencyKey: $k) { order { id } userErrors { code } } }`
	partial := map[string]string{}
	for _, p := range paidOrders {
		var total int64
		_ = db.Pool.QueryRow(ctx, `SELECT total_amount FROM orders WHERE id = $1`, p.id).Scan(&total)
		a := total * 60 / 100
		partial[p.gid] = fmt.Sprintf("%d.%02d", a/100, a%100)
	}
	run := func(j job) result {
		if j.kind == "checkout" {
			_, r := checkout(g, store, j.target, j.key)
			return r
		}
		return g.do(staff, refundQ, map[string]any{"id": j.target, "k": j.key, "a": partial[j.target]})
	}
	// A slow provider widens the window between record and act, so the
	// kill lands inside provider calls too.
	rec.SetDelay(40 * time.Millisecond)
	first := make([]result, len(jobs))
	var sent atomic.Int64
	killed := make(chan struct{})
	go func() {
		for sent.Load() < int64(len(jobs)/3) {
			time.Sleep(time.Millisecond)
		}
		g.kill()
		close(killed)
	}()
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) {
					return
				}
				sent.Add(1)
				first[i] = run(jobs[i])
			}
		})
	}
	wg.Wait()
	<-killed
	before := counts{}
	for i, r := range first {
		before.add(jobs[i].kind + ":" + r.outcome())
	}
	var pendingAtKill, runningAtKill int
	_ = db.Pool.QueryRow(ctx, `SELECT count(*) FROM refunds WHERE state = 'pending'`).Scan(&pendingAtKill)
	_ = db.Pool.QueryRow(ctx, `SELECT count(*) FROM idempotency_keys WHERE state = 'running'`).Scan(&runningAtKill)

	// Restart and retry everything with the same keys.
	rec.SetDelay(0)
	g.start(t)
	time.Sleep(1100 * time.Millisecond) // the idempotency lease of a dead request
	after := counts{}
	sameOrder, changed := 0, 0
	for i, j := range jobs {
		r := run(j)
		after.add(j.kind + ":" + r.outcome())
		if j.kind == "checkout" && first[i].Err == nil && len(first[i].Errors) == 0 {
			gid1 := string(first[i].Data["checkoutBegin"])
			gid2 := string(r.Data["checkoutBegin"])
			if gid1 == gid2 {
				sameOrder++
			} else {
				changed++
			}
		}
	}
	// The recovery pass the sweeper runs (here without its 45 s grace).
	svc := orders.NewService(db.App, payments.NewStripe("sk_test_faults", rec.URL), nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	resumed, err := svc.ResumeRefunds(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var checkoutOrders int
	_ = db.Pool.QueryRow(ctx, `SELECT count(*) FROM orders WHERE checkout_key LIKE '%burst-%'`).Scan(&checkoutOrders)
	report(t, "kill -9: burst", true, "jobs=%d killed-after=%d first-attempt=%s", len(jobs), len(jobs)/3, before.String())
	report(t, "kill -9: retry after restart", changed == 0 && checkoutOrders == checkoutsN && after.get("checkout:ok") == checkoutsN,
		"retry=%s answered-checkouts-replayed-same-order=%d changed=%d orders-for-%d-checkout-keys=%d refunds-pending-at-kill=%d idempotency-running-at-kill=%d refunds-resumed-by-sweep=%d",
		after.String(), sameOrder, changed, checkoutsN, checkoutOrders, pendingAtKill, runningAtKill, resumed)
	invariants(t, "kill -9: books", db, vid, initial, rec)
}

// TestRedisOutage: the private Redis stops while the catalog is read.
// Reads keep answering 200; carts and checkout answer
// SERVICE_UNAVAILABLE; when Redis returns, carts work again without a
// gateway restart.
func TestRedisOutage(t *testing.T) {
	db := shopDB(t, "faults_redis")
	rec := testdb.StartRecorder(t)
	rds := startRedis(t)
	g := startGateway(t, db.URL, rds.url(), rec.URL)
	_, store := headers(t, g)
	vgid, _ := variant(t, db, "merino-crew-tee", 100)
	cart, _ := newCart(g, store, vgid, 1)
	anon := map[string]string{"X-Shop-Handle": "apparel"}
	const readQ = `{ products(first: 10, sortKey: TITLE) { edges { node { title variants(first: 3) { edges { node { title quantityAvailable } } } } } } }`
	var phase atomic.Value
	phase.Store("before")
	lat := map[string]*latencies{"before": {}, "outage": {}, "after": {}}
	status := map[string]*counts{"before": {}, "outage": {}, "after": {}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				p := phase.Load().(string)
				t0 := time.Now()
				r := g.do(anon, readQ, nil)
				lat[p].add(time.Since(t0))
				if r.Err != nil {
					status[p].add("no-answer")
				} else {
					status[p].add(fmt.Sprintf("%d/%s", r.Status, r.outcome()))
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	time.Sleep(time.Second)
	phase.Store("outage")
	rds.stop()
	time.Sleep(500 * time.Millisecond)
	_, cartR := newCart(g, store, vgid, 1)
	_, coR := checkout(g, store, cart, "redis-down")
	time.Sleep(2 * time.Second)
	rds.start(t)
	t0 := time.Now()
	recovered := time.Duration(-1)
	for time.Since(t0) < 20*time.Second {
		if c, _ := newCart(g, store, vgid, 1); c != "" {
			recovered = time.Since(t0)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	phase.Store("after")
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	outageOK := status["outage"].get("200/ok") > 0 && len(status["outage"].m) == 1
	report(t, "redis down: catalog reads", outageOK && status["before"].get("200/ok") > 0,
		"before %s %s | during outage %s %s | after %s %s", status["before"], lat["before"], status["outage"], lat["outage"], status["after"], lat["after"])
	report(t, "redis down: carts and checkout", cartR.Status == 503 && cartR.code() == "SERVICE_UNAVAILABLE" && coR.Status == 503 && coR.code() == "SERVICE_UNAVAILABLE",
		"cartCreate=%d/%s checkoutBegin=%d/%s", cartR.Status, cartR.code(), coR.Status, coR.code())
	report(t, "redis back: recovery", recovered >= 0, "first cartCreate OK %v after redis restarted (no gateway restart)", recovered.Round(time.Millisecond))
}

// TestPostgresRestart: the private PostgreSQL cluster restarts during a
// burst of checkouts. In-flight requests fail SERVICE_UNAVAILABLE (never
// INTERNAL), the pool reconnects without a gateway restart, retries with
// the same keys give one order each, and no order is half-written.
func TestPostgresRestart(t *testing.T) {
	cluster := startCluster(t)
	t.Setenv("DATABASE_URL", cluster.url("postgres"))
	db := shopDB(t, "faults_pg")
	rec := testdb.StartRecorder(t)
	rds := startRedis(t)
	g := startGateway(t, db.URL, rds.url(), rec.URL)
	_, store := headers(t, g)
	const initial = 5000
	vgid, vid := variant(t, db, "merino-crew-tee", initial)
	const n = 90
	carts := make([]string, n)
	for i := range carts {
		if carts[i], _ = newCart(g, store, vgid, 1); carts[i] == "" {
			t.Fatal("cart")
		}
	}
	first := make([]result, n)
	var sent atomic.Int64
	restarted := make(chan time.Duration)
	go func() {
		for sent.Load() < n/4 {
			time.Sleep(time.Millisecond)
		}
		t0 := time.Now()
		if err := cluster.run("pg_ctl", "-D", cluster.dir, "-l", cluster.dir+"/log", "-m", "fast", "-w", "restart"); err != nil {
			t.Errorf("restart: %v", err)
		}
		restarted <- time.Since(t0)
	}()
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 6 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				sent.Add(1)
				_, first[i] = checkout(g, store, carts[i], fmt.Sprintf("pg-%d", i))
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	down := <-restarted
	burst := counts{}
	for _, r := range first {
		burst.add(fmt.Sprintf("%d/%s", r.Status, r.outcome()))
	}
	// Recovery without a gateway restart.
	t0 := time.Now()
	recovered := time.Duration(-1)
	for time.Since(t0) < 30*time.Second {
		if c, _ := newCart(g, store, vgid, 1); c != "" {
			if gid, _ := checkout(g, store, c, "pg-probe-"+fmt.Sprint(time.Now().UnixNano())); gid != "" {
				recovered = time.Since(t0)
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1100 * time.Millisecond) // idempotency lease
	retry := counts{}
	for i := range carts {
		_, r := checkout(g, store, carts[i], fmt.Sprintf("pg-%d", i))
		retry.add(r.outcome())
	}
	internal := 0
	for k, v := range burst.m {
		if strings.Contains(k, "INTERNAL") {
			internal += v
		}
	}
	var keyed int
	_ = db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM orders WHERE checkout_key LIKE '%pg-%' AND checkout_key NOT LIKE '%pg-probe-%'`).Scan(&keyed)
	report(t, "postgres restart: in-flight requests", internal == 0 && burst.get("200/ok") > 0,
		"checkouts=%d outcomes=%s (restart took %v)", n, burst.String(), down.Round(time.Millisecond))
	report(t, "postgres restart: recovery", recovered >= 0 && retry.get("ok") == n && keyed == n,
		"pool recovered %v after the restart finished (no gateway restart); retries with the same keys %s; orders for %d keys=%d", recovered.Round(time.Millisecond), retry.String(), n, keyed)
	invariants(t, "postgres restart: books", db, vid, initial, nil)
}
