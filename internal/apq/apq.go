// Package apq stores automatic persisted queries (sha256 → document) in
// Redis, so a hash registered through one gateway instance is known to all
// of them. It implements gqlgen's graphql.Cache[string] for
// extension.AutomaticPersistedQuery. Entries expire after a TTL and
// documents above a size bound are not stored; when Redis is unreachable
// the cache misses (the client resends the full document), it never fails
// a request.
package apq

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache is a Redis-backed persisted-query cache.
type Cache struct {
	rdb     redis.UniversalClient
	ttl     time.Duration
	maxSize int
}

// New returns a cache over rdb keeping documents of at most maxSize bytes
// for ttl.
func New(rdb redis.UniversalClient, ttl time.Duration, maxSize int) *Cache {
	return &Cache{rdb: rdb, ttl: ttl, maxSize: maxSize}
}

func key(hash string) string { return "apq:" + hash }

// Get returns the document registered under hash.
func (c *Cache) Get(ctx context.Context, hash string) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	v, err := c.rdb.Get(ctx, key(hash)).Result()
	if err != nil {
		return "", false
	}
	return v, true
}

// Add registers a document under its hash (gqlgen has checked that the
// hash is the document's sha256).
func (c *Cache) Add(ctx context.Context, hash, query string) {
	if len(query) > c.maxSize {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_ = c.rdb.Set(ctx, key(hash), query, c.ttl).Err()
}
