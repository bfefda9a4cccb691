package events_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"cartograph/internal/auth"
	"cartograph/internal/dbq"
	"cartograph/internal/events"
	"cartograph/internal/idempotency"
	"cartograph/internal/inventory"
	"cartograph/internal/seed"
	"cartograph/internal/shop"
	"cartograph/internal/testdb"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

type fixture struct {
	db                     *testdb.DB
	rdb                    *redis.Client
	inv                    *inventory.Service
	ctx                    context.Context
	shopID                 uuid.UUID
	variantID, warehouseID uuid.UUID
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := testdb.New(t, "events")
	ctx := context.Background()
	if err := seed.Demo(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	opts, err := redis.ParseURL(testdb.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	f := &fixture{db: db, rdb: rdb, inv: inventory.New(db.App, idempotency.New(db.App))}
	var sh dbq.Shop
	if err := db.Pool.QueryRow(ctx, `SELECT id FROM shops WHERE handle = 'apparel'`).Scan(&sh.ID); err != nil {
		t.Fatal(err)
	}
	f.shopID = sh.ID
	if err := db.Pool.QueryRow(ctx, `SELECT variant_id, warehouse_id FROM inventory_levels WHERE shop_id = $1 ORDER BY variant_id, warehouse_id LIMIT 1`, sh.ID).Scan(&f.variantID, &f.warehouseID); err != nil {
		t.Fatal(err)
	}
	ctx = shop.WithShop(ctx, &shop.Shop{Shop: sh})
	f.ctx = auth.WithPrincipal(ctx, &auth.Principal{Kind: auth.Staff, ShopID: sh.ID, StaffID: uuid.New(), Scopes: auth.AllScopes, Role: "owner"})
	return f
}

func (f *fixture) hub() *events.Hub {
	return events.New(f.db.App, f.rdb, f.inv, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// adjust makes n movements of +1 without waking any relay.
func (f *fixture) adjust(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		res, err := f.inv.Set(f.ctx, inventory.Movement{Name: inventory.NameOnHand, Reason: "correction",
			Sets: []inventory.QuantitySet{{VariantID: f.variantID, WarehouseID: f.warehouseID, Quantity: 1000 + i, ChangeFrom: f.onHand(t)}}}, uuid.NewString())
		if err != nil || len(res.UserErrors) > 0 {
			t.Fatalf("set: %v %+v", err, res.UserErrors)
		}
	}
}

func (f *fixture) onHand(t *testing.T) int {
	var n int
	if err := f.db.Pool.QueryRow(context.Background(), `SELECT on_hand FROM inventory_levels WHERE shop_id = $1 AND variant_id = $2 AND warehouse_id = $3`, f.shopID, f.variantID, f.warehouseID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// streamSeqs lists the sequence numbers in the shop's stream, in order.
func (f *fixture) streamSeqs(t *testing.T) []int64 {
	t.Helper()
	msgs, err := f.rdb.XRange(context.Background(), events.StreamKey(f.shopID), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		var s int64
		fmt.Sscanf(m.ID, "%d-", &s)
		out[i] = s
	}
	return out
}

func TestRelayIsEffectivelyOnce(t *testing.T) {
	f := newFixture(t)
	f.adjust(t, 30)
	h := f.hub()
	// A relay that crashed after XADD of the first 10 and before deleting them.
	_, err := inventory.RelayOutbox(f.ctx, f.db.App, f.shopID, 10, func(cs []*inventory.Change) error {
		if err := h.Publish(f.ctx, f.shopID, cs); err != nil {
			return err
		}
		return errors.New("crash")
	})
	if err == nil {
		t.Fatal("the simulated crash did not surface")
	}
	// Three instances race to relay everything.
	var wg sync.WaitGroup
	for range 3 {
		hub := f.hub()
		wg.Go(func() {
			if err := hub.RelayShop(f.ctx, f.shopID, 2*time.Second); err != nil {
				t.Errorf("relay: %v", err)
			}
		})
	}
	wg.Wait()
	got := f.streamSeqs(t)
	if len(got) != 30 {
		t.Fatalf("stream holds %d events, want 30: %v", len(got), got)
	}
	for i, s := range got {
		if s != int64(i+1) {
			t.Fatalf("stream out of order or with gaps: %v", got)
		}
	}
	var left int
	_ = f.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM inventory_outbox WHERE shop_id = $1`, f.shopID).Scan(&left)
	if left != 0 {
		t.Fatalf("%d outbox rows left", left)
	}
}

func TestSubscriberGetsEverySequenceOnceInOrder(t *testing.T) {
	f := newFixture(t)
	h := f.hub()
	f.inv.OnStock = h.Chain(nil)
	since := int64(0)
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	ch, err := h.Subscribe(ctx, events.Filter{}, &since)
	if err != nil {
		t.Fatal(err)
	}
	f.adjust(t, 40)
	for i := int64(1); i <= 40; i++ {
		select {
		case c := <-ch:
			if c.Sequence != i {
				t.Fatalf("got sequence %d, want %d", c.Sequence, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("sequence %d did not arrive", i)
		}
	}
	t.Run("SlowSubscriberIsDropped", func(t *testing.T) {
		h.Buffer = 4
		ctx, cancel := context.WithCancel(f.ctx)
		defer cancel()
		slow, err := h.Subscribe(ctx, events.Filter{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		fast, err := h.Subscribe(ctx, events.Filter{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		f.adjust(t, 20) // nobody reads slow
		// The hub offers each event to every subscriber in turn: once the
		// fast one has all 20, the slow one has been offered all 20 too
		// and its 4-event buffer has overflowed — however slow the machine.
		for i := range 20 {
			select {
			case <-fast:
			case <-time.After(10 * time.Second):
				t.Fatalf("fast subscriber got %d of 20 events", i)
			}
		}
		// The hub was not blocked by the slow one (the fast one got all
		// 20). The slow one is closed once its buffer overflows, or — when
		// the relay handed the events over in small batches — catches up
		// from the stream; either way what it gets is in order, without
		// gaps or duplicates, and it ends.
		deadline := time.After(10 * time.Second)
		var last int64
		for n := 0; ; n++ {
			select {
			case c, ok := <-slow:
				if !ok {
					return
				}
				if last != 0 && c.Sequence != last+1 {
					t.Fatalf("slow subscriber: sequence %d after %d", c.Sequence, last)
				}
				last = c.Sequence
				if n+1 == 20 {
					return
				}
			case <-deadline:
				t.Fatal("the slow subscriber was neither closed nor caught up")
			}
		}
	})
}
