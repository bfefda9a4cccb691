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
	rdb redis.UniversalClient

	// Refunds not yet written: credited to the bucket by its next Take on
	// this instance (in the same script call), or written by the
	// background writer within RefundDelay.
	mu      sync.Mutex
	credits map[string]*credit // by Redis key
	onErr   func(error)
	kick    chan struct{}
	start   sync.Once
	writeMu sync.Mutex // held while credits are being written
}

// credit is refunded points owed to one bucket.
type credit struct {
	amount float64
	lim    Limit
}

// RefundDelay is how long a refund may wait for a Take of its bucket to
// carry it before the background writer sends it on its own.
const RefundDelay = 20 * time.Millisecond

// NewBuckets returns Buckets stored in rdb under keys "cost:<Limit.Key>".
func NewBuckets(rdb redis.UniversalClient) *Buckets {
	return &Buckets{rdb: rdb, credits: map[string]*credit{}, kick: make(chan struct{}, 1)}
}

// KeyPrefix prefixes every bucket key in Redis.
const KeyPrefix = "cost:"

// take: KEYS buckets; ARGV[1] cost, then Max, RestorePerSec and a credit
// (refunds owed to it) per bucket. Refills each bucket from its stored
// level and time, adds its credit, then takes the cost from all or none; a
// credited bucket is stored even when the take is refused. Returns {ok,
// never, tightest index (1-based), points available in it, seconds until
// the cost fits}; floats as strings (Redis truncates Lua numbers to
// integers).
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local vals, credited, maxs, rates = {}, {}, {}, {}
local ok, never, tight, wait = 1, 0, 1, 0
local function store(i, v)
  if v >= maxs[i] then
    redis.call('DEL', KEYS[i])
  else
    redis.call('HSET', KEYS[i], 'v', string.format('%.17g', v), 't', string.format('%.0f', now))
    redis.call('PEXPIRE', KEYS[i], math.ceil((maxs[i] - v) / rates[i] * 1000) + 1000)
  end
end
for i = 1, #KEYS do
  local max = tonumber(ARGV[3 * i - 1])
  local rate = tonumber(ARGV[3 * i])
  maxs[i], rates[i] = max, rate
  local credit = tonumber(ARGV[3 * i + 1])
  local s = redis.call('HMGET', KEYS[i], 'v', 't')
  local v = max
  credited[i] = false
  if s[1] and s[2] then
    v = tonumber(s[1])
    local ts = tonumber(s[2])
    if now > ts then v = v + (now - ts) / 1000000 * rate end
    if credit > 0 then
      v = v + credit
      credited[i] = true
    end
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
  for i = 1, #KEYS do
    if credited[i] then store(i, vals[i]) end
  end
  return {0, never, tight, string.format('%.17g', vals[tight]), string.format('%.17g', wait)}
end
local best = nil
for i = 1, #KEYS do
  local left = vals[i] - cost
  if best == nil or left < best then best, tight = left, i end
  if cost > 0 or credited[i] then store(i, left) end
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
// of 0 takes nothing and reports the state. Refunds this instance still
// owes the buckets are credited first, in the same script call. Errors
// are Redis failures or invalid limits; callers decide whether to run
// unbudgeted.
func (b *Buckets) Take(ctx context.Context, cost int, limits ...Limit) (Status, error) {
	st, _, err := b.TakeWith(ctx, 0, cost, nil, limits...)
	return st, err
}

// Rider is a Redis call of another layer that rides in the same round
// trip as a Take: the request's rate-limit check (ratelimit.Pending).
type Rider interface {
	// Queue adds its commands to pipe and returns what reads their result
	// after pipe has run (called exactly once).
	Queue(ctx context.Context, pipe redis.Pipeliner) (result func(context.Context) error)
	// Check makes the call alone.
	Check(ctx context.Context) error
}

// TakeWith is Take with rider's commands sent in the same pipeline (one
// round trip for both); riderErr is rider's result. rider may be nil.
// When the take fails before Redis (invalid limits) rider still runs.
// timeout (0: none) bounds the round trip; ctx is the request's (rider
// tells its cancellation from a Redis timeout by it).
func (b *Buckets) TakeWith(ctx context.Context, timeout time.Duration, cost int, rider Rider, limits ...Limit) (st Status, riderErr error, err error) {
	if len(limits) == 0 {
		return Status{OK: true}, runRider(ctx, rider), nil
	}
	owed := b.claimCredits(limits)
	keys, args, err := scriptArgs(max(cost, 0), limits, owed)
	if err != nil {
		b.returnCredits(limits, owed)
		return Status{}, runRider(ctx, rider), err
	}
	rctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	pipe := b.rdb.Pipeline()
	var riderResult func(context.Context) error
	if rider != nil {
		riderResult = rider.Queue(rctx, pipe)
	}
	cmd := takeScript.EvalSha(rctx, pipe, keys, args...)
	_, _ = pipe.Exec(rctx) // each command carries its own error
	if riderResult != nil {
		riderErr = riderResult(ctx)
	}
	res, err := cmd.Slice()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		res, err = takeScript.Run(rctx, b.rdb, keys, args...).Slice()
	}
	if err != nil {
		// The credits may or may not have been applied; returning them
		// errs on the caller's side only if the script ran and its reply
		// was lost, which a timeout can cause. Redis failing outright is
		// the common case, and then nothing was applied.
		b.returnCredits(limits, owed)
		return Status{}, riderErr, fmt.Errorf("cost: take: %w", err)
	}
	st, err = takeStatus(res, limits)
	return st, riderErr, err
}

// runRider runs rider alone.
func runRider(ctx context.Context, rider Rider) error {
	if rider == nil {
		return nil
	}
	return rider.Check(ctx)
}

func takeStatus(res []any, limits []Limit) (Status, error) {
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

// claimCredits takes the refunds owed to limits' buckets (0 for none).
func (b *Buckets) claimCredits(limits []Limit) []float64 {
	owed := make([]float64, len(limits))
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.credits) == 0 {
		return owed
	}
	for i, l := range limits {
		k := KeyPrefix + l.Key
		if c := b.credits[k]; c != nil {
			owed[i] = c.amount
			delete(b.credits, k)
		}
	}
	return owed
}

// returnCredits puts back credits a failed Take did not apply.
func (b *Buckets) returnCredits(limits []Limit, owed []float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, l := range limits {
		if owed[i] > 0 {
			b.addCreditLocked(l, owed[i])
		}
	}
}

// addCreditLocked owes amount to l's bucket; b.mu is held.
func (b *Buckets) addCreditLocked(l Limit, amount float64) {
	k := KeyPrefix + l.Key
	if c := b.credits[k]; c != nil {
		c.amount += amount
		c.lim = l
		return
	}
	b.credits[k] = &credit{amount: amount, lim: l}
}

// Refund gives amount points back to every bucket in limits, never above
// its Max (what a query did not use of what Take charged).
func (b *Buckets) Refund(ctx context.Context, amount int, limits ...Limit) error {
	if amount <= 0 || len(limits) == 0 {
		return nil
	}
	keys, args, err := scriptArgs(amount, limits, nil)
	if err != nil {
		return err
	}
	if err := refundScript.Run(ctx, b.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("cost: refund: %w", err)
	}
	return nil
}

// valid: a key, and a positive finite Max and RestorePerSec.
func (l Limit) valid() error {
	if l.Key == "" || !(l.Max > 0) || !(l.RestorePerSec > 0) || math.IsInf(l.Max, 0) || math.IsInf(l.RestorePerSec, 0) {
		return fmt.Errorf("cost: invalid limit %q: Max and RestorePerSec must be positive", l.Key)
	}
	return nil
}

// scriptArgs are the keys and ARGV of the take script (owed: a credit per
// limit) or, with owed nil, of the refund script.
func scriptArgs(amount int, limits []Limit, owed []float64) ([]string, []any, error) {
	keys := make([]string, len(limits))
	per := 2
	if owed != nil {
		per = 3
	}
	args := make([]any, 1, 1+per*len(limits))
	args[0] = amount
	for i, l := range limits {
		if err := l.valid(); err != nil {
			return nil, nil, err
		}
		keys[i] = KeyPrefix + l.Key
		args = append(args, l.Max, l.RestorePerSec)
		if owed != nil {
			args = append(args, strconv.FormatFloat(owed[i], 'g', 17, 64))
		}
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

// RefundLater owes amount points to every bucket in limits, so a response
// never waits for its refund's round trip: the next Take of a bucket on
// this instance credits it in the same script call, and what no Take has
// carried within RefundDelay the background writer sends, pipelined. A
// refund that fails is lost, which errs on the caller's side of the budget
// (it was charged its requested, not its actual, cost); onErr (the first
// one given) receives the failure. Flush writes what is owed at once.
func (b *Buckets) RefundLater(amount int, onErr func(error), limits ...Limit) {
	if amount <= 0 || len(limits) == 0 {
		return
	}
	for _, l := range limits {
		if err := l.valid(); err != nil {
			onErr(err)
			return
		}
	}
	b.start.Do(func() {
		b.mu.Lock()
		b.onErr = onErr
		b.mu.Unlock()
		go b.writeCredits()
	})
	b.mu.Lock()
	for _, l := range limits {
		b.addCreditLocked(l, float64(amount))
	}
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// Flush writes every refund still owed (and waits for the background
// writer's batch in flight).
func (b *Buckets) Flush() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := b.flushCredits(ctx); err != nil {
		b.mu.Lock()
		onErr := b.onErr
		b.mu.Unlock()
		if onErr != nil {
			onErr(err)
		}
	}
}

// writeCredits is the background writer: woken by a refund, it waits
// RefundDelay (Takes carry most refunds meanwhile) and writes the rest.
func (b *Buckets) writeCredits() {
	for range b.kick {
		time.Sleep(RefundDelay)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := b.flushCredits(ctx)
		cancel()
		if err != nil {
			b.onErr(err)
		}
	}
}

// flushCredits sends every owed refund as one pipeline of single-bucket
// refund scripts (one key each, so Redis Cluster can route them).
func (b *Buckets) flushCredits(ctx context.Context) error {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	b.mu.Lock()
	owed := b.credits
	if len(owed) == 0 {
		b.mu.Unlock()
		return nil
	}
	b.credits = map[string]*credit{}
	b.mu.Unlock()
	err := b.pipeCredits(ctx, owed)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		if err = refundScript.Load(ctx, b.rdb).Err(); err == nil {
			err = b.pipeCredits(ctx, owed)
		}
	}
	if err != nil {
		return fmt.Errorf("cost: refund: %w", err)
	}
	return nil
}

func (b *Buckets) pipeCredits(ctx context.Context, owed map[string]*credit) error {
	pipe := b.rdb.Pipeline()
	for k, c := range owed {
		refundScript.EvalSha(ctx, pipe, []string{k}, strconv.FormatFloat(c.amount, 'g', 17, 64), c.lim.Max, c.lim.RestorePerSec)
	}
	_, err := pipe.Exec(ctx)
	return err
}
