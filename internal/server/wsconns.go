package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"cartograph/internal/metrics"

	"github.com/redis/go-redis/v9"
)

// connCounter bounds one principal's open websocket connections across
// every instance (WS_MAX_CONNS_PER_PRINCIPAL). Each connection is a member
// of the principal's Redis sorted set scored by its lease expiry; a live
// connection renews its lease every revalidation interval, so the
// connections of an instance that crashed fall out of the count by
// themselves after the lease. When Redis fails, admission falls back to
// this instance's own count (logged once per outage, metric
// cartograph_redis_errors_total{component="wsconns"}): a connection
// admitted then is not in the shared count.
type connCounter struct {
	rdb   redis.UniversalClient // nil: per instance only
	max   int
	lease time.Duration
	log   *slog.Logger

	instance string
	seq      atomic.Uint64
	down     atomic.Bool

	mu    sync.Mutex
	local map[string]int
}

// connLease is a connection's place in the count.
type connLease struct {
	ref, member string
	shared      bool
}

var acquireConnScript = redis.NewScript(`
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1`)

func newConnCounter(rdb redis.UniversalClient, max int, lease time.Duration, log *slog.Logger) *connCounter {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &connCounter{rdb: rdb, max: max, lease: lease, log: log, instance: hex.EncodeToString(b), local: map[string]int{}}
}

func connKey(ref string) string { return "ws:conns:{" + ref + "}" }

// acquire admits one more connection of ref, or reports false at the cap.
func (c *connCounter) acquire(ctx context.Context, ref string) (*connLease, bool) {
	l := &connLease{ref: ref, member: c.instance + ":" + strconv.FormatUint(c.seq.Add(1), 10)}
	if c.rdb != nil {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		n, err := acquireConnScript.Run(ctx, c.rdb, []string{connKey(ref)}, time.Now().UnixMilli(), l.member, c.max, c.lease.Milliseconds()).Int()
		cancel()
		if err == nil {
			c.recovered()
			if n == 0 {
				return nil, false
			}
			l.shared = true
			c.count(ref, 1)
			return l, true
		}
		c.failed(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.local[ref] >= c.max {
		return nil, false
	}
	c.local[ref]++
	return l, true
}

// renew extends a connection's lease (called every revalidation).
func (c *connCounter) renew(ctx context.Context, l *connLease) {
	if !l.shared {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	now := time.Now()
	pipe := c.rdb.Pipeline()
	pipe.ZAddXX(ctx, connKey(l.ref), redis.Z{Score: float64(now.Add(c.lease).UnixMilli()), Member: l.member})
	pipe.PExpire(ctx, connKey(l.ref), c.lease)
	if _, err := pipe.Exec(ctx); err != nil {
		c.failed(err)
	}
}

// release gives the connection's place back.
func (c *connCounter) release(l *connLease) {
	c.count(l.ref, -1)
	if !l.shared {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.rdb.ZRem(ctx, connKey(l.ref), l.member).Err(); err != nil {
		c.failed(err) // the lease expires by itself
	}
}

// count keeps the per-instance count (the fallback) in step.
func (c *connCounter) count(ref string, d int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.local[ref] += d; c.local[ref] <= 0 {
		delete(c.local, ref)
	}
}

func (c *connCounter) failed(err error) {
	metrics.RedisError("wsconns")
	if c.down.CompareAndSwap(false, true) && c.log != nil {
		c.log.Warn("websocket connection cap: Redis unavailable, counting per instance until it returns", "err", err)
	}
}

func (c *connCounter) recovered() {
	if c.down.CompareAndSwap(true, false) && c.log != nil {
		c.log.Info("websocket connection cap: Redis back, counting across instances again")
	}
}
