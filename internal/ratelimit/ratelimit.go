// Package ratelimit is a Redis-backed GCRA rate limiter shared by every
// gateway instance (one atomic Lua script per check, no read-modify-write
// race), with a per-instance in-memory fallback while Redis is down. It
// returns apperr THROTTLED with retryAfter.
package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/metrics"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
)

// gcra: KEYS[1] bucket; ARGV emission interval (µs), burst tolerance (µs).
// Time comes from the Redis server, so instances with skewed clocks (or
// goroutines racing) still share one consistent timeline.
// Returns {allowed, retry_after_µs}.
var gcra = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance - interval
if allow_at > now then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, 0}
`)

// Limiter checks limits in Redis. When Redis is unreachable it falls back
// to a per-instance in-memory GCRA with the same parameters (so each
// instance admits at most the shared rate: degraded, never open, never
// closed), logs the outage once, sets the fallback metric, and probes Redis
// again every ProbeEvery; the first success switches back.
type Limiter struct {
	rdb redis.Cmdable
	log *slog.Logger
	// Timeout bounds one Redis round trip (default 200 ms): an outage costs
	// a request at most this, and after the first failure nothing until
	// the next probe.
	Timeout time.Duration
	// ProbeEvery is how often Redis is retried during an outage (default 1 s).
	ProbeEvery time.Duration

	mu        sync.Mutex
	down      bool
	nextProbe time.Time
	local     *lru.Cache[string, int64] // key → theoretical arrival time (µs)
	now       func() time.Time
}

// localBuckets bounds the fallback's memory: least recently used buckets
// are dropped (a dropped bucket starts full again).
const localBuckets = 100_000

// New returns a Limiter over rdb; log (may be nil) receives outage and
// recovery lines.
func New(rdb redis.Cmdable, log ...*slog.Logger) *Limiter {
	l, _ := lru.New[string, int64](localBuckets)
	lim := &Limiter{rdb: rdb, Timeout: 200 * time.Millisecond, ProbeEvery: time.Second, local: l, now: time.Now, log: slog.New(slog.DiscardHandler)}
	if len(log) > 0 && log[0] != nil {
		lim.log = log[0]
	}
	return lim
}

// Degraded reports whether the limiter is running on per-instance memory.
func (l *Limiter) Degraded() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.down
}

// useRedis says whether to try Redis now (not in an outage, or a probe is due).
func (l *Limiter) useRedis() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.down {
		return true
	}
	if now := l.now(); !now.Before(l.nextProbe) {
		l.nextProbe = now.Add(l.ProbeEvery)
		return true
	}
	return false
}

func (l *Limiter) setDown(err error) {
	metrics.RedisError("ratelimit")
	l.mu.Lock()
	was := l.down
	l.down, l.nextProbe = true, l.now().Add(l.ProbeEvery)
	l.mu.Unlock()
	if !was {
		metrics.LimiterFallback(true)
		l.log.Error("redis unreachable: rate limits fall back to per-instance memory until it returns", "err", err)
	}
}

func (l *Limiter) setUp() {
	l.mu.Lock()
	was := l.down
	l.down = false
	l.mu.Unlock()
	if was {
		metrics.LimiterFallback(false)
		l.log.Info("redis reachable again: rate limits are shared again")
	}
}

// Allow admits one event for key at perMinute with a burst of perMinute/6
// (at least 1). It returns THROTTLED with extensions.retryAfter (seconds)
// when the caller must wait. It never fails for a Redis outage: it falls
// back to this instance's memory instead.
func (l *Limiter) Allow(ctx context.Context, key string, perMinute int) error {
	return l.Defer(key, perMinute).Check(ctx)
}

// Pending is one rate-limit check (Allow) prepared but not yet made, so
// that it can ride in the same Redis round trip as another call of the
// same request (Queue), or run alone (Check). It is made at most once:
// later calls return the first result.
type Pending struct {
	l         *Limiter
	key       string
	unlimited bool
	interval  int64
	tolerance int64

	mu      sync.Mutex
	claimed bool          // made, or being made by a Queue
	ready   chan struct{} // closed once err is set
	err     error
}

// Defer prepares the check Allow(ctx, key, perMinute) would make.
func (l *Limiter) Defer(key string, perMinute int) *Pending {
	p := &Pending{l: l, key: key, ready: make(chan struct{})}
	if perMinute <= 0 || perMinute >= 60_000_000 {
		p.unlimited = true // off, or beyond one event per microsecond
		return p
	}
	p.interval = int64(time.Minute/time.Microsecond) / int64(perMinute)
	p.tolerance = p.interval * int64(math.Max(1, float64(perMinute)/6))
	return p
}

// Made reports whether the check has been made (or claimed by a Queue).
func (p *Pending) Made() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.claimed
}

// claim marks the check as being made; false when it already was, and
// then its result is waited for.
func (p *Pending) claim(ctx context.Context) (bool, error) {
	p.mu.Lock()
	if !p.claimed {
		p.claimed = true
		p.mu.Unlock()
		return true, nil
	}
	p.mu.Unlock()
	select {
	case <-p.ready:
		return false, p.err
	case <-ctx.Done():
		return false, apperr.Wrap(ctx.Err(), apperr.Throttled, "request cancelled")
	}
}

func (p *Pending) settle(err error) error {
	p.err = err
	close(p.ready)
	return err
}

// Check makes the check alone (one Redis round trip) unless it was made
// already, and returns its result.
func (p *Pending) Check(ctx context.Context) error {
	mine, err := p.claim(ctx)
	if !mine {
		return err
	}
	if done, err := p.withoutRedis(); done {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, p.l.Timeout)
	res, err := gcra.Run(rctx, p.l.rdb, p.keys(), p.interval, p.tolerance).Int64Slice()
	cancel()
	return p.settle(p.result(ctx, res, err))
}

// Queue adds the check to pipe, to be sent in the same round trip as the
// other commands queued there, and returns the function that reads its
// result once pipe has been executed (it must be called exactly once;
// a NOSCRIPT reply is retried alone). When the check was made already,
// or needs no Redis (unlimited, or Redis down), nothing is queued.
func (p *Pending) Queue(ctx context.Context, pipe redis.Pipeliner) (result func(ctx context.Context) error) {
	mine, err := p.claim(ctx)
	if !mine {
		return func(context.Context) error { return err }
	}
	if done, err := p.withoutRedis(); done {
		return func(context.Context) error { return err }
	}
	cmd := gcra.EvalSha(ctx, pipe, p.keys(), p.interval, p.tolerance)
	return func(ctx context.Context) error {
		res, err := cmd.Int64Slice()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			rctx, cancel := context.WithTimeout(ctx, p.l.Timeout)
			res, err = gcra.Run(rctx, p.l.rdb, p.keys(), p.interval, p.tolerance).Int64Slice()
			cancel()
		}
		return p.settle(p.result(ctx, res, err))
	}
}

// withoutRedis settles a claimed check that needs no Redis: unlimited,
// or made in this instance's memory while Redis is down.
func (p *Pending) withoutRedis() (done bool, err error) {
	switch {
	case p.unlimited:
		return true, p.settle(nil)
	case !p.l.useRedis():
		return true, p.settle(p.l.throttled(p.l.localAllow(p.key, p.interval, p.tolerance)))
	}
	return false, nil
}

func (p *Pending) keys() []string { return []string{"rl:" + p.key} }

// result reads the script's reply: THROTTLED when refused; a Redis
// failure falls back to this instance's memory.
func (p *Pending) result(ctx context.Context, res []int64, err error) error {
	switch {
	case err == nil && len(res) == 2:
		p.l.setUp()
		if res[0] == 1 {
			return nil
		}
		return p.l.throttled(res[1])
	case ctx.Err() != nil:
		return apperr.Wrap(ctx.Err(), apperr.Throttled, "request cancelled")
	default:
		if err == nil {
			err = errors.New("ratelimit: unexpected reply")
		}
		p.l.setDown(err)
		return p.l.throttled(p.l.localAllow(p.key, p.interval, p.tolerance))
	}
}

// throttled is THROTTLED for a wait of waitMicros µs, nil for none.
func (l *Limiter) throttled(waitMicros int64) error {
	if waitMicros <= 0 {
		return nil
	}
	retry := int(math.Ceil(float64(waitMicros) / 1e6))
	e := apperr.New(apperr.Throttled, "too many requests; retry after %ds", retry)
	e.Extensions = map[string]any{"retryAfter": retry}
	return e
}

// localAllow is the GCRA script on this instance's memory; it returns 0
// when admitted, else the wait in µs.
func (l *Limiter) localAllow(key string, interval, tolerance int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now().UnixMicro()
	tat, ok := l.local.Get(key)
	if !ok || tat < now {
		tat = now
	}
	newTat := tat + interval
	if allowAt := newTat - tolerance - interval; allowAt > now {
		return allowAt - now
	}
	l.local.Add(key, newTat)
	return 0
}

// Key joins parts into a limiter key.
func Key(parts ...string) string {
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += ":"
		}
		out += p
	}
	return out
}
