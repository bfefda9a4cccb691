// Package ratelimit is a Redis-backed GCRA rate limiter shared by every
// gateway instance (one atomic Lua script per check, no read-modify-write
// race). Callers turn a denial into apperr THROTTLED with retryAfter.
package ratelimit

import (
	"context"
	"math"
	"time"

	"cartograph/internal/apperr"

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

// Limiter checks limits in Redis.
type Limiter struct {
	rdb *redis.Client
}

// New returns a Limiter over rdb.
func New(rdb *redis.Client) *Limiter { return &Limiter{rdb: rdb} }

// Allow admits one event for key at perMinute with a burst of perMinute/6
// (at least 1). It returns THROTTLED with extensions.retryAfter (seconds)
// when the caller must wait. A Redis failure is reported, not ignored.
func (l *Limiter) Allow(ctx context.Context, key string, perMinute int) error {
	if perMinute <= 0 || perMinute >= 60_000_000 {
		return nil // off, or beyond one event per microsecond: unlimited
	}
	interval := int64(time.Minute/time.Microsecond) / int64(perMinute)
	burst := int64(math.Max(1, float64(perMinute)/6))
	tolerance := interval * burst
	res, err := gcra.Run(ctx, l.rdb, []string{"rl:" + key}, interval, tolerance).Int64Slice()
	if err != nil {
		return apperr.Wrap(err, apperr.Internal, "rate limiter unavailable")
	}
	if res[0] == 1 {
		return nil
	}
	retry := int(math.Ceil(float64(res[1]) / 1e6))
	e := apperr.New(apperr.Throttled, "too many requests; retry after %ds", retry)
	e.Extensions = map[string]any{"retryAfter": retry}
	return e
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
