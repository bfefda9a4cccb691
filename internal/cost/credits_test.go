package cost_test

import (
	"context"
	"math"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/cost"
	"cartograph/internal/ratelimit"

	"github.com/redis/go-redis/v9"
)

// roundTrips counts what a client sends to Redis: single commands and
// pipelines (one round trip each).
type roundTrips struct{ cmds, pipes atomic.Int64 }

func (*roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { r.cmds.Add(1); return next(ctx, cmd) }
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { r.pipes.Add(1); return next(ctx, cmds) }
}

func TestRefundsRideOnTakes(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	b := cost.NewBuckets(rdb)
	other := cost.NewBuckets(newRedis(t)) // another instance
	slow := func(key string, max float64) cost.Limit {
		return cost.Limit{Key: key, Max: max, RestorePerSec: 0.001}
	}
	noErr := func(err error) { t.Errorf("refund: %v", err) }
	near := func(a, b float64) bool { return math.Abs(a-b) < 0.01 }

	t.Run("NextTakeCarriesTheRefund", func(t *testing.T) {
		l := slow(uniqueKey(t, rdb, "carry"), 100)
		if _, err := b.Take(ctx, 50, l); err != nil {
			t.Fatal(err)
		}
		b.RefundLater(20, noErr, l)
		// Within RefundDelay: nothing written yet, the next take credits it.
		st, err := b.Take(ctx, 10, l)
		if err != nil || !st.OK || !near(st.Available, 60) {
			t.Fatalf("take after refund: %+v %v (want 100-50+20-10 = 60)", st, err)
		}
		if st, _ := other.Take(ctx, 0, l); !near(st.Available, 60) {
			t.Fatalf("another instance sees %+v, want 60", st)
		}
		b.Flush() // nothing owed any more: the refund is not applied twice
		if st, _ := other.Take(ctx, 0, l); !near(st.Available, 60) {
			t.Fatalf("after Flush: %+v, want still 60", st)
		}
	})

	t.Run("RefusedTakeStillStoresTheCredit", func(t *testing.T) {
		l := slow(uniqueKey(t, rdb, "refused"), 10)
		if _, err := b.Take(ctx, 10, l); err != nil {
			t.Fatal(err)
		}
		b.RefundLater(4, noErr, l)
		st, err := b.Take(ctx, 8, l)
		if err != nil || st.OK || !near(st.Available, 4) {
			t.Fatalf("refused take: %+v %v (want refused with 4 available)", st, err)
		}
		if st, _ := other.Take(ctx, 0, l); !near(st.Available, 4) {
			t.Fatalf("another instance sees %+v, want the credit of 4", st)
		}
	})

	t.Run("WriterSendsWhatNoTakeCarried", func(t *testing.T) {
		l := slow(uniqueKey(t, rdb, "writer"), 100)
		if _, err := b.Take(ctx, 30, l); err != nil {
			t.Fatal(err)
		}
		b.RefundLater(30, noErr, l) // back to full: the key is deleted
		deadline := time.Now().Add(2 * time.Second)
		for {
			n, err := rdb.Exists(ctx, cost.KeyPrefix+l.Key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the background writer did not send the refund within 2s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})

	t.Run("FailedTakeKeepsTheCredit", func(t *testing.T) {
		l := slow(uniqueKey(t, rdb, "keep"), 100)
		if _, err := b.Take(ctx, 40, l); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		down := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		defer down.Close()
		bd := cost.NewBuckets(down)
		bd.RefundLater(1, func(error) {}, l)
		if _, err := bd.Take(ctx, 1, l); err == nil {
			t.Fatal("take against a closed port succeeded")
		}
		// The credit was put back: it is still owed (and written when the
		// writer can reach Redis; here it cannot, so it is reported).
		var reported atomic.Bool
		bd2 := cost.NewBuckets(down)
		bd2.RefundLater(1, func(error) { reported.Store(true) }, l)
		bd2.Flush()
		if !reported.Load() {
			t.Fatal("a refund that could not be written was not reported")
		}
	})
}

func TestTakeWithRiderIsOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	counter := &roundTrips{}
	rdb.AddHook(counter)
	b := cost.NewBuckets(rdb)
	lim := ratelimit.New(rdb)
	l := cost.Limit{Key: uniqueKey(t, rdb, "rider"), Max: 100, RestorePerSec: 1}
	rlKey := uniqueKey(t, rdb, "rl")

	// Warm the scripts (the first EVALSHA of a fresh Redis is NOSCRIPT).
	if _, _, err := b.TakeWith(ctx, 0, 1, lim.Defer(rlKey+"warm", 600), l); err != nil {
		t.Fatal(err)
	}
	counter.cmds.Store(0)
	counter.pipes.Store(0)
	// 600/min, burst 100: GCRA admits 101 at once, the 102nd is refused.
	var refused int
	for i := range 102 {
		st, riderErr, err := b.TakeWith(ctx, 0, 0, lim.Defer(rlKey, 600), l)
		if err != nil || !st.OK {
			t.Fatalf("take %d: %+v %v", i, st, err)
		}
		if riderErr != nil {
			if apperr.CodeOf(riderErr) != apperr.Throttled {
				t.Fatalf("rider %d: %v", i, riderErr)
			}
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("rate limit refused %d of 102 (600/min, burst 100), want 1", refused)
	}
	if c, p := counter.cmds.Load(), counter.pipes.Load(); c != 0 || p != 102 {
		t.Fatalf("102 takes with a rate-limit rider made %d commands and %d pipelines, want 0 and 102", c, p)
	}

	// A rider made already is not made again.
	pd := lim.Defer(rlKey+"once", 600)
	if err := pd.Check(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := rdb.Get(ctx, "rl:"+rlKey+"once").Result()
	if err != nil {
		t.Fatal(err)
	}
	if _, riderErr, err := b.TakeWith(ctx, 0, 0, pd, l); err != nil || riderErr != nil {
		t.Fatal(err, riderErr)
	}
	if after, _ := rdb.Get(ctx, "rl:"+rlKey+"once").Result(); after != before {
		t.Fatalf("a rate-limit check made already was made again: %s -> %s", before, after)
	}

	// NOSCRIPT (Redis restarted, scripts flushed): both still run.
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	st, riderErr, err := b.TakeWith(ctx, 0, 5, lim.Defer(rlKey+"flushed", 600), l)
	if err != nil || riderErr != nil || !st.OK {
		t.Fatalf("after SCRIPT FLUSH: %+v %v %v", st, riderErr, err)
	}
	if n, _ := rdb.Exists(ctx, "rl:"+rlKey+"flushed").Result(); n != 1 {
		t.Fatal("after SCRIPT FLUSH the rate-limit check did not run")
	}
}
