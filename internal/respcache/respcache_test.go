package respcache_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"cartograph/internal/respcache"
)

func TestCacheBounds(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	t.Run("TotalBytesBounded", func(t *testing.T) {
		c := respcache.New(nil, time.Minute, 64<<10)
		c.SetClockForTest(clock)
		body := []byte(`{"x":"` + strings.Repeat("a", 1000) + `"}`)
		for i := 0; i < 1000; i++ {
			c.AddForTest("k"+strconv.Itoa(i), body)
		}
		if b := c.Bytes(); b > 64<<10 {
			t.Fatalf("cache holds %d bytes, bound 65536", b)
		}
		if _, ok := c.GetForTest("k999"); !ok {
			t.Fatal("newest entry evicted")
		}
		if _, ok := c.GetForTest("k0"); ok {
			t.Fatal("oldest entry kept beyond the bound")
		}
	})
	t.Run("OversizedEntryNotCached", func(t *testing.T) {
		c := respcache.New(nil, time.Minute, 64<<10)
		c.AddForTest("big", []byte(strings.Repeat("b", 20<<10)))
		if _, ok := c.GetForTest("big"); ok || c.Bytes() != 0 {
			t.Fatal("an entry of a third of the cache was stored")
		}
	})
	t.Run("ExpiredEntriesFreed", func(t *testing.T) {
		c := respcache.New(nil, time.Minute, 1<<20)
		c.SetClockForTest(clock)
		for i := 0; i < 100; i++ {
			c.AddForTest("k"+strconv.Itoa(i), []byte(`{"a":1}`))
		}
		if c.Len() != 100 {
			t.Fatalf("len %d", c.Len())
		}
		now = now.Add(2 * time.Minute)
		if c.Len() != 0 || c.Bytes() != 0 {
			t.Fatalf("after the TTL: %d entries, %d bytes still held", c.Len(), c.Bytes())
		}
	})
}
