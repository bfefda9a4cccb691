package ratelimit_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/ratelimit"
	"cartograph/internal/testdb"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestFallbackWhenRedisIsDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: Redis is "down"
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	logs := &lockedBuf{}
	lim := ratelimit.New(rdb, slog.New(slog.NewTextHandler(logs, nil)))
	ctx := context.Background()
	key := "test:" + uuid.NewString()
	start := time.Now()
	allowed, throttled := 0, 0
	for i := 0; i < 40; i++ {
		switch err := lim.Allow(ctx, key, 60); apperr.CodeOf(err) {
		case apperr.Throttled:
			throttled++
		default:
			if err != nil {
				t.Fatalf("Allow failed instead of falling back: %v", err)
			}
			allowed++
		}
	}
	if d := time.Since(start); d > 600*time.Millisecond {
		t.Fatalf("40 checks during an outage took %v", d)
	}
	if !lim.Degraded() {
		t.Fatal("limiter does not report the fallback")
	}
	if allowed == 0 || allowed > 11 || throttled == 0 {
		t.Fatalf("in-memory fallback admitted %d, throttled %d (60/min, burst 10)", allowed, throttled)
	}
	if n := strings.Count(logs.String(), "fall back to per-instance memory"); n != 1 {
		t.Fatalf("outage logged %d times, want once", n)
	}
}

func TestSharedWhenRedisIsUp(t *testing.T) {
	opts, err := redis.ParseURL(testdb.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	a, b := ratelimit.New(rdb), ratelimit.New(rdb)
	key := "test:" + uuid.NewString()
	n := 0
	for i := 0; i < 10; i++ {
		for _, l := range []*ratelimit.Limiter{a, b} {
			if l.Allow(context.Background(), key, 60) == nil {
				n++
			}
		}
	}
	if n > 11 || a.Degraded() {
		t.Fatalf("two instances admitted %d of a 60/min burst-10 bucket (degraded %v)", n, a.Degraded())
	}
}
