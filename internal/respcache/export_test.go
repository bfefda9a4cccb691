package respcache

import (
	"encoding/json"
	"time"
)

// Test hooks: the store without a gqlgen operation around it.
func (c *Cache) AddForTest(key string, data []byte)   { c.add(key, json.RawMessage(data)) }
func (c *Cache) GetForTest(key string) ([]byte, bool) { return c.get(key) }
func (c *Cache) SetClockForTest(now func() time.Time) { c.now = now }

// Bytes returns the bytes the cache holds (data plus overhead).
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(c.now())
	return c.bytes
}

// Len returns the number of entries held.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(c.now())
	return c.order.Len()
}
