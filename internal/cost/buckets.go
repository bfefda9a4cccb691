package cost

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limit is one shared budget: a bucket of Max points that refills at
// RestorePerSec points a second (Shopify's leaky bucket: a full bucket
// allows a burst of Max, then RestorePerSec a second on average).
type Limit struct {
	// Key names the bucket, e.g. "principal:<id>" or "shop:<id>". Every
	// gateway instance using the same key shares the bucket.
	Key string
	// Max is the bucket's capacity in cost points; > 0.
	Max float64
	// RestorePerSec is the refill rate in points a second; > 0.
	RestorePerSec float64
}

// Status is the state of the tightest bucket after Take.
type Status struct {
	// OK: the cost was taken from every bucket.
	OK bool
	// NeverFits: the cost is above this bucket's Max, so waiting cannot
	// help (the caller refuses with MAX_COST_EXCEEDED, not THROTTLED).
	NeverFits bool
	// Maximum and RestoreRate are the bucket's Limit; Available the points
	// left in it (after the take when OK).
	Maximum, Available, RestoreRate float64
	// RetryAfter is how long until the cost would fit, when refused.
	RetryAfter time.Duration
}

// Buckets are leaky buckets in Redis shared by every instance. Each call is
// one atomic Lua script using Redis server time, so clock skew between
// instances and concurrent takes cannot overdraw a bucket. A bucket's key
// expires once it would be full again (a missing key is a full bucket), so
// idle principals cost no memory.
type Buckets struct {
	// the RefundLater writer
	startWriter sync.Once
	refunds     chan refund
	pending     sync.WaitGroup
	rdb         redis.UniversalClient
}

// NewBuckets returns Buckets stored in rdb under keys "cost:<Limit.Key>".
func NewBuckets(rdb redis.UniversalClient) *Buckets { return &Buckets{rdb: rdb} }

// KeyPrefix prefixes every bucket key in Redis.
const KeyPrefix = "cost:"

// take: KEYS buckets; ARGV[1] cost, then Max and RestorePerSec per bucket.
// Refills each bucket from its stored level and time, then takes the cost
// from all or none. Returns {ok, never, tightest index (1-based), points
// available in it, seconds until the cost fits}; floats as strings (Redis
// truncates Lua numbers to integers).
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local vals = {}
local ok, never, tight, wait = 1, 0, 1, 0
for i = 1, #KEYS do
  local max = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1])
  local s = redis.call('HMGET', KEYS[i], 'v', 't')
  local v = max
  if s[1] and s[2] then
    v = tonumber(s[1])
    local ts = tonumber(s[2])
    if now > ts then v = v + (now - ts) / 1000000 * rate end
    if v > max then v = max end
  end
  vals[i] = v
  if never == 0 then
    if cost > max then
      never, ok, tight = 1, 0, i
    elseif v < cost then
      local w = (cost - v) / rate
      if ok == 1 or w > wait then wait, tight = w, i end
      ok = 0
    end
  end
end
if ok == 0 then
  return {0, never, tight, string.format('%.17g', vals[tight]), string.format('%.17g', wait)}
end
local best = nil
for i = 1, #KEYS do
  local left = vals[i] - cost
  if best == nil or left < best then best, tight = left, i end
  if cost > 0 then
    local max = tonumber(ARGV[2 * i])
    local rate = tonumber(ARGV[2 * i + 1])
    redis.call('HSET', KEYS[i], 'v', string.format('%.17g', left), 't', string.format('%.0f', now))
    redis.call('PEXPIRE', KEYS[i], math.ceil((max - left) / rate * 1000) + 1000)
  end
end
return {1, 0, tight, string.format('%.17g', best), '0'}
`)

// refund: KEYS buckets; ARGV[1] amount, then Max and RestorePerSec per
// bucket. A bucket that is full again is deleted.
var refundScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local amount = tonumber(ARGV[1])
for i = 1, #KEYS do
  local max = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1])
  local s = redis.call('HMGET', KEYS[i], 'v', 't')
  if s[1] and s[2] then
    local v = tonumber(s[1])
    local ts = tonumber(s[2])
    if now > ts then v = v + (now - ts) / 1000000 * rate end
    v = v + amount
    if v >= max then
      redis.call('DEL', KEYS[i])
    else
      redis.call('HSET', KEYS[i], 'v', string.format('%.17g', v), 't', string.format('%.0f', now))
      redis.call('PEXPIRE', KEYS[i], math.ceil((max - v) / rate * 1000) + 1000)
    end
  end
end
return 1
`)

// Take takes cost points from every bucket in limits, or from none when
// one lacks them. It returns the state of the tightest bucket (the one with
// the fewest points left, or when refused the one that takes longest to
// fit the cost, or the first whose Max is below cost: NeverFits). A cost
// of 0 takes nothing and reports the state. Errors are Redis failures or
// invalid limits; callers decide whether to run unbudgeted.
func (b *Buckets) Take(ctx context.Context, cost int, limits ...Limit) (Status, error) {
	if len(limits) == 0 {
		return Status{OK: true}, nil
	}
	keys, args, err := scriptArgs(max(cost, 0), limits)
	if err != nil {
		return Status{}, err
	}
	res, err := takeScript.Run(ctx, b.rdb, keys, args...).Slice()
	if err != nil {
		return Status{}, fmt.Errorf("cost: take: %w", err)
	}
	if len(res) != 5 {
		return Status{}, errors.New("cost: take: unexpected reply")
	}
	ok, _ := res[0].(int64)
	never, _ := res[1].(int64)
	tight, _ := res[2].(int64)
	if tight < 1 || int(tight) > len(limits) {
		return Status{}, errors.New("cost: take: unexpected reply")
	}
	l := limits[tight-1]
	avail := parseFloat(res[3])
	wait := parseFloat(res[4])
	st := Status{
		OK:          ok == 1,
		NeverFits:   never == 1,
		Maximum:     l.Max,
		Available:   avail,
		RestoreRate: l.RestorePerSec,
	}
	if !st.OK && !st.NeverFits {
		st.RetryAfter = time.Duration(math.Ceil(wait * float64(time.Second)))
	}
	return st, nil
}

// Refund gives amount points back to every bucket in limits, never above
// its Max (what a query did not use of what Take charged).
func (b *Buckets) Refund(ctx context.Context, amount int, limits ...Limit) error {
	if amount <= 0 || len(limits) == 0 {
		return nil
	}
	keys, args, err := scriptArgs(amount, limits)
	if err != nil {
		return err
	}
	if err := refundScript.Run(ctx, b.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("cost: refund: %w", err)
	}
	return nil
}

func scriptArgs(amount int, limits []Limit) ([]string, []any, error) {
	keys := make([]string, len(limits))
	args := make([]any, 1, 1+2*len(limits))
	args[0] = amount
	for i, l := range limits {
		if l.Key == "" || !(l.Max > 0) || !(l.RestorePerSec > 0) || math.IsInf(l.Max, 0) || math.IsInf(l.RestorePerSec, 0) {
			return nil, nil, fmt.Errorf("cost: invalid limit %q: Max and RestorePerSec must be positive", l.Key)
		}
		keys[i] = KeyPrefix + l.Key
		args = append(args, l.Max, l.RestorePerSec)
	}
	return keys, args, nil
}

func parseFloat(v any) float64 {
	switch x := v.(type) {
	case string:
		f, _ := strconv.ParseFloat(x, 64)
		return f
	case int64:
		return float64(x)
	}
	return 0
}

// refund is one queued RefundLater.
type refund struct {
	keys []string
	args []any
}

// refundQueue bounds the refunds waiting for the background writer.
const refundQueue = 4096

// RefundLater queues Refund for a background writer that sends queued
// refunds to Redis in pipelined batches, so a response never waits for its
// refund's round trip. When the queue is full the refund runs at once. A
// refund that fails is lost, which errs on the caller's side of the budget
// (it was charged its requested, not its actual, cost); onErr receives the
// failure. Flush waits for the queue to drain.
func (b *Buckets) RefundLater(amount int, onErr func(error), limits ...Limit) {
	if amount <= 0 || len(limits) == 0 {
		return
	}
	keys, args, err := scriptArgs(amount, limits)
	if err != nil {
		onErr(err)
		return
	}
	b.startWriter.Do(func() {
		b.refunds = make(chan refund, refundQueue)
		go b.writeRefunds(onErr)
	})
	b.pending.Add(1)
	select {
	case b.refunds <- refund{keys: keys, args: args}:
	default:
		defer b.pending.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := refundScript.Run(ctx, b.rdb, keys, args...).Err(); err != nil {
			onErr(fmt.Errorf("cost: refund: %w", err))
		}
	}
}

// Flush waits until every queued refund has been written (or has failed).
func (b *Buckets) Flush() { b.pending.Wait() }

// writeRefunds is the background writer: it takes what is queued (up to
// 256 refunds) and sends it as one pipeline. The script is loaded first,
// so the pipeline can use EVALSHA.
func (b *Buckets) writeRefunds(onErr func(error)) {
	batch := make([]refund, 0, 256)
	for r := range b.refunds {
		batch = append(batch[:0], r)
	more:
		for len(batch) < cap(batch) {
			select {
			case r := <-b.refunds:
				batch = append(batch, r)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := b.pipeRefunds(ctx, batch)
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			if err = refundScript.Load(ctx, b.rdb).Err(); err == nil {
				err = b.pipeRefunds(ctx, batch)
			}
		}
		cancel()
		if err != nil {
			onErr(fmt.Errorf("cost: refund: %w", err))
		}
		for range batch {
			b.pending.Done()
		}
	}
}

func (b *Buckets) pipeRefunds(ctx context.Context, batch []refund) error {
	pipe := b.rdb.Pipeline()
	for _, r := range batch {
		refundScript.EvalSha(ctx, pipe, r.keys, r.args...)
	}
	_, err := pipe.Exec(ctx)
	return err
}
