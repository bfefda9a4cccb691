// Package respcache caches whole responses of public catalog queries, the
// way a commerce CDN would, but inside the gateway and with exact
// invalidation: a response is reused only while the shop's catalog version
// (a Redis counter, shared by all instances) is unchanged, and every
// committed stock movement bumps that version. Entries also expire after a
// short TTL, which bounds staleness from changes made outside the API
// (seeds, manual SQL). Only queries whose every root field is @public, asked
// by an anonymous caller or an API key, and answered without errors, are
// cached; customers and staff always execute.
//
// Bounds: the cache holds at most maxBytes of response data (oldest entries
// go first) and frees expired entries on every access. While Redis is
// unreachable the cache is bypassed (every request executes), so a stale
// version can never be served.
package respcache

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"cartograph/internal/auth"
	"cartograph/internal/metrics"
	"cartograph/internal/shop"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"
)

type entry struct {
	key     string
	data    json.RawMessage
	expires time.Time
}

// entryOverhead approximates the bytes an entry costs beside its data
// (key, list element, map slot).
const entryOverhead = 256

// Cache is a gqlgen extension (OperationInterceptor).
type Cache struct {
	rdb      redis.Cmdable
	ttl      time.Duration
	maxBytes int64
	public   map[string]bool // Query fields marked @public
	now      func() time.Time
	// RedisTimeout bounds the version lookup (default 200 ms); after a
	// failure Redis is not asked again for a second (the cache is bypassed).
	RedisTimeout time.Duration
	// Down, when set, reports a Redis outage another component already
	// detected (the rate limiter), so the cache is bypassed at once.
	Down func() bool

	mu        sync.Mutex
	order     *list.List // of *entry, oldest (= first to expire) at the front
	byKey     map[string]*list.Element
	bytes     int64
	downUntil time.Time
}

// New returns a cache holding responses for ttl each, at most maxBytes in
// total (PUBLIC_CACHE_MAX_BYTES).
func New(rdb redis.Cmdable, ttl time.Duration, maxBytes int64) *Cache {
	return &Cache{rdb: rdb, ttl: ttl, maxBytes: maxBytes, now: time.Now, RedisTimeout: 200 * time.Millisecond,
		order: list.New(), byKey: map[string]*list.Element{}}
}

func size(e *entry) int64 { return int64(len(e.data)+len(e.key)) + entryOverhead }

func (c *Cache) removeLocked(el *list.Element) {
	e := c.order.Remove(el).(*entry)
	delete(c.byKey, e.key)
	c.bytes -= size(e)
}

// expireLocked frees expired entries; every entry has the same TTL, so
// they are exactly a prefix of the insertion order.
func (c *Cache) expireLocked(now time.Time) {
	for el := c.order.Front(); el != nil && !now.Before(el.Value.(*entry).expires); el = c.order.Front() {
		c.removeLocked(el)
	}
}

func (c *Cache) get(key string) (json.RawMessage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(c.now())
	if el, ok := c.byKey[key]; ok {
		return el.Value.(*entry).data, true
	}
	return nil, false
}

func (c *Cache) add(key string, data json.RawMessage) {
	e := &entry{key: key, data: data}
	sz := size(e)
	if sz > c.maxBytes/8 {
		return // one response may not take over the cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.expireLocked(now)
	if el, ok := c.byKey[key]; ok {
		c.removeLocked(el)
	}
	for c.bytes+sz > c.maxBytes && c.order.Len() > 0 {
		c.removeLocked(c.order.Front())
	}
	e.expires = now.Add(c.ttl)
	c.byKey[key] = c.order.PushBack(e)
	c.bytes += sz
}

func (c *Cache) redisDown() bool {
	if c.Down != nil && c.Down() {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now().Before(c.downUntil)
}

func (c *Cache) markDown() {
	metrics.RedisError("respcache")
	c.mu.Lock()
	c.downUntil = c.now().Add(time.Second)
	c.mu.Unlock()
}

var (
	_ graphql.HandlerExtension     = (*Cache)(nil)
	_ graphql.OperationInterceptor = (*Cache)(nil)
)

// ExtensionName names the extension.
func (*Cache) ExtensionName() string { return "PublicResponseCache" }

// Validate learns which Query fields are public from the schema.
func (c *Cache) Validate(es graphql.ExecutableSchema) error {
	c.public = map[string]bool{}
	if q := es.Schema().Query; q != nil {
		for _, f := range q.Fields {
			if f.Directives.ForName("public") != nil {
				c.public[f.Name] = true
			}
		}
	}
	return nil
}

func versionKey(shopID uuid.UUID) string { return "catver:" + shopID.String() }

// Invalidate makes every cached response of the shop stale, on every
// instance (called after stock movements commit).
func (c *Cache) Invalidate(ctx context.Context, shopID uuid.UUID) error {
	ctx, cancel := context.WithTimeout(ctx, c.RedisTimeout)
	defer cancel()
	if err := c.rdb.Incr(ctx, versionKey(shopID)).Err(); err != nil {
		// The next lookups see Redis down and bypass; entries cached under
		// the old version expire within the TTL.
		c.markDown()
		return err
	}
	return nil
}

func (c *Cache) cacheable(ctx context.Context, oc *graphql.OperationContext) bool {
	if oc.Operation == nil || oc.Operation.Operation != ast.Query || strings.Contains(oc.RawQuery, "@defer") {
		return false
	}
	if k := auth.FromContext(ctx).Kind; k != auth.Anonymous && k != auth.APIKey {
		return false
	}
	fields := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Query"})
	if len(fields) == 0 {
		return false
	}
	for _, f := range fields {
		if f.Name != "__typename" && !c.public[f.Name] {
			return false
		}
	}
	return true
}

// InterceptOperation answers from the cache or executes and stores.
func (c *Cache) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if c.ttl <= 0 || !c.cacheable(ctx, oc) {
		return next(ctx)
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return next(ctx)
	}
	if c.redisDown() {
		return next(ctx) // Redis outage: execute rather than risk staleness
	}
	rctx, cancel := context.WithTimeout(ctx, c.RedisTimeout)
	ver, err := c.rdb.Get(rctx, versionKey(sh.ID)).Result()
	cancel()
	if err != nil && err != redis.Nil {
		if ctx.Err() == nil {
			c.markDown()
		}
		return next(ctx) // Redis trouble: execute rather than risk staleness
	}
	vars, err := json.Marshal(oc.Variables) // map keys are sorted: canonical
	if err != nil {
		return next(ctx)
	}
	h := sha256.New()
	h.Write([]byte(oc.RawQuery))
	h.Write([]byte{0})
	h.Write([]byte(oc.OperationName))
	h.Write([]byte{0})
	h.Write(vars)
	key := sh.ID.String() + ":" + ver + ":" + hex.EncodeToString(h.Sum(nil))
	if data, ok := c.get(key); ok {
		return graphql.OneShot(&graphql.Response{Data: data})
	}
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		r := responses(ctx)
		if r != nil && len(r.Errors) == 0 && len(r.Extensions) == 0 && r.Data != nil {
			data := make(json.RawMessage, len(r.Data))
			copy(data, r.Data)
			c.add(key, data)
		}
		return r
	}
}
