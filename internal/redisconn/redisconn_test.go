package redisconn_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"cartograph/internal/redisconn"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"cartograph/internal/events"
)

func TestOpenForms(t *testing.T) {
	for _, tc := range []struct {
		url  string
		kind redisconn.Kind
		want string // substring of the error, "" = ok
	}{
		{"redis://127.0.0.1:6379/0", redisconn.Single, ""},
		{"rediss://user:pw@cache.example:6380/2", redisconn.Single, ""},
		{"redis-sentinel://s1:26379,s2:26379,s3:26379/0?master_name=mymaster&password=p", redisconn.Sentinel, ""},
		{"rediss-sentinel://u:p@s1:26379/1?master_name=m", redisconn.Sentinel, ""},
		{"redis-cluster://n1:6379,n2:6379,n3:6379?dial_timeout=2s", redisconn.Cluster, ""},
		{"rediss-cluster://u:p@n1:6379", redisconn.Cluster, ""},
		{"redis-sentinel://s1:26379/0", "", "master_name"},
		{"redis-cluster://n1:6379,,n2:6379", "", "empty host"},
		{"memcached://x:1", "", "unknown scheme"},
		{"redis://u:hunter2secret@h:6379/0?bogus_option=1", "", "bogus_option"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			c, kind, err := redisconn.Open(tc.url)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("want error containing %q, got %v", tc.want, err)
				}
				if strings.Contains(err.Error(), "hunter2secret") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil || kind != tc.kind {
				t.Fatalf("got %v %v, want %v", kind, err, tc.kind)
			}
			_ = c.Close()
		})
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func run(t *testing.T, port int, args ...string) {
	t.Helper()
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return
		}
		if i > 150 {
			t.Fatalf("redis-server %v did not start", args)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSentinel starts a private primary and a Sentinel monitoring it, then
// talks to the primary through a redis-sentinel:// URL naming only the
// Sentinel: the client discovered the primary.
func TestSentinel(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	dir := t.TempDir()
	pp, sp := freePort(t), freePort(t)
	run(t, pp, "--port", strconv.Itoa(pp), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	conf := dir + "/sentinel.conf"
	if err := os.WriteFile(conf, []byte("port "+strconv.Itoa(sp)+"\nbind 127.0.0.1\ndir "+dir+"\nsentinel monitor prim 127.0.0.1 "+strconv.Itoa(pp)+" 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, sp, conf, "--sentinel")
	c, kind, err := redisconn.Open("redis-sentinel://127.0.0.1:" + strconv.Itoa(sp) + "/0?master_name=prim&dial_timeout=1s")
	if err != nil || kind != redisconn.Sentinel {
		t.Fatalf("open: %v %v", kind, err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "via-sentinel", "yes", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	direct := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(pp)})
	defer direct.Close()
	if v, err := direct.Get(ctx, "via-sentinel").Result(); err != nil || v != "yes" {
		t.Fatalf("the write did not reach the primary: %q %v", v, err)
	}
}

// TestClusterStreamsShareASlot: the inventory consumer reads every shop's
// stream in one XREAD; on a cluster that works only because StreamKey puts
// them in one slot. The same XREAD over untagged keys is refused, so the
// check can fail.
func TestClusterStreamsShareASlot(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	dir := t.TempDir()
	port := freePort(t)
	run(t, port, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--cluster-enabled", "yes", "--cluster-config-file", dir+"/nodes.conf", "--dir", dir)
	if out, err := exec.Command("redis-cli", "-p", strconv.Itoa(port), "cluster", "addslotsrange", "0", "16383").CombinedOutput(); err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("addslotsrange: %s %v", out, err)
	}
	c, _, err := redisconn.Open("redis-cluster://127.0.0.1:" + strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	a, b := events.StreamKey(uuid.New()), events.StreamKey(uuid.New())
	var lastErr error
	for i := 0; i < 200; i++ { // until the node reports cluster_state:ok
		if lastErr = c.XAdd(ctx, &redis.XAddArgs{Stream: a, Values: []any{"c", "1"}}).Err(); lastErr == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatal(lastErr)
	}
	if err := c.XAdd(ctx, &redis.XAddArgs{Stream: b, Values: []any{"c", "2"}}).Err(); err != nil {
		t.Fatal(err)
	}
	res, err := c.XRead(ctx, &redis.XReadArgs{Streams: []string{a, b, "0", "0"}, Count: 10, Block: -1}).Result()
	if err != nil || len(res) != 2 {
		t.Fatalf("XREAD over two shops' streams: %v %v", res, err)
	}
	err = c.XRead(ctx, &redis.XReadArgs{Streams: []string{"plain:" + uuid.NewString(), "plain:" + uuid.NewString(), "0", "0"}, Block: -1}).Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("untagged keys: want CROSSSLOT, got %v", err)
	}
}
