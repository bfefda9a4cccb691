package server_test

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"cartograph/internal/redisconn"
	"cartograph/internal/seed"
	"cartograph/internal/testdb"
)

// startClusterNode runs a private one-node Redis Cluster owning every slot.
// One node is enough to prove the key layout: Redis refuses a multi-key
// command across slots (CROSSSLOT) even when one node owns them all.
func startClusterNode(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	dir := t.TempDir()
	port := freePort(t)
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--cluster-enabled", "yes", "--cluster-config-file", dir+"/nodes.conf", "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cli := func(args ...string) string {
		out, _ := exec.Command("redis-cli", append([]string{"-p", strconv.Itoa(port)}, args...)...).CombinedOutput()
		return string(out)
	}
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatal("cluster node did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := cli("cluster", "addslotsrange", "0", "16383"); !strings.Contains(out, "OK") {
		t.Fatalf("addslotsrange: %s", out)
	}
	for i := 0; !strings.Contains(cli("cluster", "info"), "cluster_state:ok"); i++ {
		if i > 200 {
			t.Fatal("cluster did not become ok")
		}
		time.Sleep(25 * time.Millisecond)
	}
	return addr
}

// TestRedisCluster runs the Redis-backed paths (carts, the guest-cart
// merge script over two keys, the customer pipeline, cost buckets over the
// principal and shop buckets, APQ, checkout) against a Redis Cluster opened
// from a redis-cluster:// URL: every multi-key command must be single-slot.
func TestRedisCluster(t *testing.T) {
	addr := startClusterNode(t)
	rdb, kind, err := redisconn.Open("redis-cluster://" + addr + "?dial_timeout=1s")
	if err != nil || kind != redisconn.Cluster {
		t.Fatalf("open: %v %v", kind, err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	db := testdb.New(t, "server")
	ctx := context.Background()
	if err := seed.Demo(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	if err := seed.DemoStaff(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	e := startOnClient(t, db, rdb, nil)
	tee := e.stock(t, "apparel", "cashmere-beanie", 50, 0)
	h := e.storefront(t, "apparel")
	e.register(t, "apparel", "cluster@example.com", "password-cluster-1")
	tok, _ := e.customerLogin(t, "apparel", "cluster@example.com", "password-cluster-1")
	ch := map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + tok}
	mine := e.newCart(t, ch, tee, 2)
	guest := e.newCart(t, h, tee, 3)
	var out struct {
		CartBuyerIdentityUpdate struct {
			Cart struct {
				ID            string
				TotalQuantity int
			}
		}
	}
	mustData(t, e.do(t, ch, `mutation($c: ID!) { cartBuyerIdentityUpdate(cartId: $c, buyerIdentity: {email: "cluster@example.com"}) { cart { id totalQuantity } } }`, map[string]any{"c": guest}), &out)
	if c := out.CartBuyerIdentityUpdate.Cart; c.ID != mine || c.TotalQuantity != 5 {
		t.Fatalf("merge on cluster: want %s with 5, got %+v", mine, c)
	}
	r, co := e.checkout(t, ch, mine, "cluster-1")
	if r.code() != "" || co.CheckoutBegin.Order == nil {
		t.Fatalf("checkout on cluster: %+v %s", r.Errors, r.Data)
	}
	if n := strings.Count(e.logs.String(), "CROSSSLOT"); n != 0 {
		t.Fatalf("%d CROSSSLOT errors logged", n)
	}
}
