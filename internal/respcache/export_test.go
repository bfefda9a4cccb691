package respcache

import (
	"encoding/json"
	"time"
)

// Test hooks: the store without a gqlgen operation around it.
func (c *Cache) AddForTest(key string, data []byte)   { c.add(key, json.RawMessage(data)) }
func (c *Cache) GetForTest(key string) ([]byte, bool) { return c.get(key) }
func (c *Cache) SetClockForTest(now func() time.Time) { c.now = now }
