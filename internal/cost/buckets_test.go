package cost_test

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cartograph/internal/cost"
)

func TestBuckets(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	b := cost.NewBuckets(rdb)
	slow := func(key string, max float64) cost.Limit {
		return cost.Limit{Key: key, Max: max, RestorePerSec: 0.001}
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 0.01 }

	t.Run("SharedAcrossClients", func(t *testing.T) {
		other := cost.NewBuckets(newRedis(t))
		l := slow(uniqueKey(t, rdb, "shared"), 100)
		if st, err := b.Take(ctx, 30, l); err != nil || !st.OK || !near(st.Available, 70) {
			t.Fatalf("take: %+v %v", st, err)
		}
		st, err := other.Take(ctx, 0, l)
		if err != nil || !near(st.Available, 70) {
			t.Fatalf("other client sees %+v %v", st, err)
		}
	})

	t.Run("ConcurrentTakesNeverOverdraw", func(t *testing.T) {
		l := slow(uniqueKey(t, rdb, "concurrent"), 50)
		var ok atomic.Int64
		var wg sync.WaitGroup
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := b.Take(ctx, 1, l)
				if err != nil {
					t.Error(err)
					return
				}
				if st.OK {
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 50 {
			t.Fatalf("%d takes succeeded, want 50", ok.Load())
		}
	})

	t.Run("AllOrNone", func(t *testing.T) {
		wide, narrow := slow(uniqueKey(t, rdb, "wide"), 10), slow(uniqueKey(t, rdb, "narrow"), 5)
		if st, err := b.Take(ctx, 4, wide, narrow); err != nil || !st.OK || st.Maximum != 5 || !near(st.Available, 1) {
			t.Fatalf("first take: %+v %v", st, err)
		}
		st, err := b.Take(ctx, 4, wide, narrow)
		if err != nil || st.OK || st.NeverFits || st.Maximum != 5 || st.RetryAfter <= 0 {
			t.Fatalf("second take: %+v %v", st, err)
		}
		if st, _ := b.Take(ctx, 0, wide); !near(st.Available, 6) {
			t.Fatalf("the wide bucket was charged: %+v", st)
		}
	})

	t.Run("NeverFitsAboveMax", func(t *testing.T) {
		st, err := b.Take(ctx, 20, slow(uniqueKey(t, rdb, "never"), 10))
		if err != nil || st.OK || !st.NeverFits || st.Maximum != 10 {
			t.Fatalf("%+v %v", st, err)
		}
	})

	t.Run("RefundNeverExceedsMax", func(t *testing.T) {
		l := slow(uniqueKey(t, rdb, "refund"), 100)
		if _, err := b.Take(ctx, 10, l); err != nil {
			t.Fatal(err)
		}
		if err := b.Refund(ctx, 4, l); err != nil {
			t.Fatal(err)
		}
		if st, _ := b.Take(ctx, 0, l); !near(st.Available, 94) {
			t.Fatalf("after refund 4: %+v", st)
		}
		if err := b.Refund(ctx, 1000, l); err != nil {
			t.Fatal(err)
		}
		if st, _ := b.Take(ctx, 0, l); st.Available != 100 {
			t.Fatalf("after refund 1000: %+v", st)
		}
	})

	t.Run("RefundLaterPipelinesEveryRefund", func(t *testing.T) {
		l := slow(uniqueKey(t, rdb, "later"), 100000)
		if _, err := b.Take(ctx, 5000, l); err != nil {
			t.Fatal(err)
		}
		// 1,000 refunds from 8 goroutines: every one arrives exactly once.
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 125 {
					b.RefundLater(3, func(err error) { t.Errorf("refund: %v", err) }, l)
				}
			})
		}
		wg.Wait()
		b.Flush()
		if st, _ := b.Take(ctx, 0, l); !near(st.Available, 100000-5000+3000) {
			t.Fatalf("after 1,000 refunds of 3: %+v", st)
		}
	})

	t.Run("RefillsWithTime", func(t *testing.T) {
		l := cost.Limit{Key: uniqueKey(t, rdb, "refill"), Max: 10, RestorePerSec: 20}
		if st, err := b.Take(ctx, 10, l); err != nil || !st.OK {
			t.Fatalf("%+v %v", st, err)
		}
		st, err := b.Take(ctx, 5, l)
		if err != nil || st.OK || st.RetryAfter <= 0 || st.RetryAfter > 260*time.Millisecond {
			t.Fatalf("refused take: %+v %v (want retry within 250ms)", st, err)
		}
		time.Sleep(st.RetryAfter + 20*time.Millisecond)
		if st, err := b.Take(ctx, 5, l); err != nil || !st.OK {
			t.Fatalf("after %v: %+v %v", st.RetryAfter, st, err)
		}
	})

	t.Run("KeysExpire", func(t *testing.T) {
		l := cost.Limit{Key: uniqueKey(t, rdb, "ttl"), Max: 10, RestorePerSec: 1}
		if _, err := b.Take(ctx, 5, l); err != nil {
			t.Fatal(err)
		}
		ttl, err := rdb.PTTL(ctx, cost.KeyPrefix+l.Key).Result()
		if err != nil || ttl <= 0 || ttl > 6*time.Second {
			t.Fatalf("PTTL %v %v, want (0, 6s]: refill time plus 1s", ttl, err)
		}
	})

	t.Run("ZeroCostReportsStateWithoutWriting", func(t *testing.T) {
		l := slow(uniqueKey(t, rdb, "zero"), 10)
		st, err := b.Take(ctx, 0, l)
		if err != nil || !st.OK || st.Available != 10 || st.Maximum != 10 || st.RestoreRate != 0.001 {
			t.Fatalf("%+v %v", st, err)
		}
		if n, _ := rdb.Exists(ctx, cost.KeyPrefix+l.Key).Result(); n != 0 {
			t.Fatal("a full bucket was stored")
		}
	})

	t.Run("ErrInvalidLimit", func(t *testing.T) {
		if _, err := b.Take(ctx, 1, cost.Limit{Key: "x", Max: 0, RestorePerSec: 1}); err == nil {
			t.Fatal("Max 0 accepted")
		}
		if _, err := b.Take(ctx, 1, cost.Limit{Key: "x", Max: 1}); err == nil {
			t.Fatal("RestorePerSec 0 accepted")
		}
	})
}
