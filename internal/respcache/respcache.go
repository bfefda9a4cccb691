// Package respcache caches whole responses of public catalog queries, the
// way a commerce CDN would, but inside the gateway and with exact
// invalidation: a response is reused only while the shop's catalog version
// (a Redis counter, shared by all instances) is unchanged, and every
// committed stock movement bumps that version. Entries also expire after a
// short TTL, which bounds staleness from changes made outside the API
// (seeds, manual SQL). Only queries whose every root field is @public, asked
// by an anonymous caller or an API key, and answered without errors, are
// cached; customers and staff always execute.
package respcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"cartograph/internal/auth"
	"cartograph/internal/shop"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"
)

type entry struct {
	data    json.RawMessage
	expires time.Time
}

// Cache is a gqlgen extension (OperationInterceptor).
type Cache struct {
	rdb     *redis.Client
	ttl     time.Duration
	entries *lru.Cache[string, entry]
	public  map[string]bool // Query fields marked @public
	now     func() time.Time
}

// New returns a cache holding up to size responses for ttl each.
func New(rdb *redis.Client, ttl time.Duration, size int) *Cache {
	l, _ := lru.New[string, entry](size)
	return &Cache{rdb: rdb, ttl: ttl, entries: l, now: time.Now}
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
	return c.rdb.Incr(ctx, versionKey(shopID)).Err()
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
	ver, err := c.rdb.Get(ctx, versionKey(sh.ID)).Result()
	if err != nil && err != redis.Nil {
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
	if e, ok := c.entries.Get(key); ok && c.now().Before(e.expires) {
		return graphql.OneShot(&graphql.Response{Data: e.data})
	}
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		r := responses(ctx)
		if r != nil && len(r.Errors) == 0 && len(r.Extensions) == 0 && r.Data != nil {
			data := make(json.RawMessage, len(r.Data))
			copy(data, r.Data)
			c.entries.Add(key, entry{data: data, expires: c.now().Add(c.ttl)})
		}
		return r
	}
}
