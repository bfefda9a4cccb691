package server_test

import (
	"context"

	"cartograph/internal/testdb"

	"github.com/redis/go-redis/v9"
)

// flushRateLimits removes rate-limit buckets so a test starts from full.
func flushRateLimits() error {
	opts, err := redis.ParseURL(testdb.RedisURL())
	if err != nil {
		return err
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, "rl:*", 1000).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
	return iter.Err()
}
