package loaders

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestMemo: primed keys are answered without a batch (and without
// allocating), other keys are batched together, Clear and ClearAll make
// keys load again, and a second Prime of a key keeps the first value.
func TestMemo(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var batches [][]uuid.UUID
	l := newLoader("test", func(_ context.Context, ids []uuid.UUID) ([]string, error) {
		mu.Lock()
		batches = append(batches, ids)
		mu.Unlock()
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = "loaded " + id.String()[:4]
		}
		return out, nil
	}, time.Millisecond)
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	l.Prime(ctx, a, "primed a")
	l.Prime(ctx, a, "primed again")
	if v, err := l.Load(ctx, a)(); v != "primed a" || err != nil {
		t.Fatalf("primed key: %q %v", v, err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = l.Load(ctx, a)() }); n != 0 {
		t.Errorf("a primed Load allocates %v times", n)
	}
	vals, errs := l.LoadMany(ctx, []uuid.UUID{a, b, c})()
	if errs != nil || vals[0] != "primed a" || vals[1] != "loaded "+b.String()[:4] || vals[2] != "loaded "+c.String()[:4] {
		t.Fatalf("LoadMany: %q %v", vals, errs)
	}
	if len(batches) != 1 || len(batches[0]) != 2 {
		t.Fatalf("batches %v, want one of b and c", batches)
	}
	l.Clear(ctx, a)
	if v, _ := l.Load(ctx, a)(); v != "loaded "+a.String()[:4] {
		t.Fatalf("after Clear: %q", v)
	}
	l.Prime(ctx, b, "primed b")
	l.ClearAll()
	if v, _ := l.Load(ctx, b)(); v != "loaded "+b.String()[:4] {
		t.Fatalf("after ClearAll: %q", v)
	}
	if len(batches) != 3 {
		t.Fatalf("%d batches, want 3", len(batches))
	}
}
