package server_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"cartograph/internal/config"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
)

// TestWebsocketConnectionCapAcrossInstances: WS_MAX_CONNS_PER_PRINCIPAL
// counts a principal's connections on every instance (Redis), frees a
// place when a connection closes, forgets the connections of a crashed
// instance after their lease, and falls back to a per-instance count while
// Redis is down.
func TestWebsocketConnectionCapAcrossInstances(t *testing.T) {
	rd := startPrivateRedis(t)
	tune := func(c *config.Config) {
		c.WSMaxConnsPerPrincipal = 2
		c.WSRevalidate = 200 * time.Millisecond // lease 600 ms
	}
	a := newEnvOnRedis(t, rd.addr(), tune)
	b := startOnRedis(t, a.db, rd.addr(), tune)
	staff := authPayload(a.staff(t, "apparel"))
	open := func(e *env) (*wsClient, int) {
		t.Helper()
		w, err := dialWS(t, e, staff)
		if err != nil {
			return nil, int(websocket.CloseStatus(err))
		}
		return w, 0
	}
	c1, code := open(a)
	if code != 0 {
		t.Fatalf("first connection: %d", code)
	}
	if _, code := open(b); code != 0 {
		t.Fatalf("second connection, other instance: %d", code)
	}
	for name, e := range map[string]*env{"A": a, "B": b} {
		if _, code := open(e); code != 4429 {
			t.Fatalf("third connection on instance %s: %d, want 4429 (the cap counts both instances)", name, code)
		}
	}
	t.Run("ClosingFreesAPlaceEverywhere", func(t *testing.T) {
		_ = c1.c.Close(websocket.StatusNormalClosure, "bye")
		deadline := time.Now().Add(3 * time.Second)
		for {
			w, code := open(b)
			if code == 0 {
				c1 = w
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a closed connection's place was not freed: %d", code)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	t.Run("LiveConnectionsKeepTheirLease", func(t *testing.T) {
		time.Sleep(1500 * time.Millisecond) // 2.5 leases: renewed every 200 ms
		if _, code := open(a); code != 4429 {
			t.Fatalf("live connections lost their places: %d", code)
		}
	})
	t.Run("ACrashedInstancesConnectionsExpire", func(t *testing.T) {
		// Two places held by an instance that died without releasing them.
		rdb := redis.NewClient(&redis.Options{Addr: rd.addr()})
		defer rdb.Close()
		ctx := context.Background()
		keys, err := rdb.Keys(ctx, "ws:conns:*").Result()
		if err != nil || len(keys) != 1 {
			t.Fatalf("connection keys: %v %v", keys, err)
		}
		if err := rdb.Del(ctx, keys[0]).Err(); err != nil {
			t.Fatal(err)
		}
		exp := float64(time.Now().Add(600 * time.Millisecond).UnixMilli())
		for i := range 2 {
			rdb.ZAdd(ctx, keys[0], redis.Z{Score: exp, Member: "dead-instance:" + strconv.Itoa(i)})
		}
		if _, code := open(a); code != 4429 {
			t.Fatalf("a dead instance's places were not counted: %d", code)
		}
		time.Sleep(900 * time.Millisecond)
		w, code := open(a)
		if code != 0 {
			t.Fatalf("a dead instance's places did not expire: %d", code)
		}
		_ = w.c.Close(websocket.StatusNormalClosure, "bye")
	})
	t.Run("RedisDownCountsPerInstance", func(t *testing.T) {
		rd.stop()
		t.Cleanup(func() { rd.start(t) })
		// Both live connections are on B, so B stays at the cap while A,
		// counting alone, admits up to the cap.
		if _, code := open(b); code != 4429 {
			t.Fatalf("Redis down: B admitted past the cap: %d", code)
		}
		var opened int
		for range 3 {
			if _, code := open(a); code == 0 {
				opened++
			} else if code != 4429 {
				t.Fatalf("Redis down: close %d, want admission or 4429", code)
			}
		}
		if opened != 2 {
			t.Fatalf("Redis down: %d connections admitted on A, want 2 (the cap, counted per instance)", opened)
		}
	})
}
