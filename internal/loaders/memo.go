package loaders

import (
	"context"
	"sync"

	"github.com/google/uuid"
	"github.com/graph-gophers/dataloader/v7"
)

// memo is a dataloader with the values parent resolvers primed held in
// front of it. A listing primes every product's variants and images with
// one statement each, then each product's fields load them again: from
// dataloader's own cache every such Load costs a tracer closure, a
// channel and a result cell, from the memo nothing (its thunk is made
// once, at Prime). Keys that were not primed go to the dataloader and are
// batched as before.
type memo[V any] struct {
	dataloader.Interface[uuid.UUID, V]
	mu     sync.RWMutex
	primed map[uuid.UUID]dataloader.Thunk[V]
}

func newMemo[V any](l dataloader.Interface[uuid.UUID, V]) *memo[V] {
	return &memo[V]{Interface: l}
}

func (m *memo[V]) thunk(key uuid.UUID) (dataloader.Thunk[V], bool) {
	m.mu.RLock()
	t, ok := m.primed[key]
	m.mu.RUnlock()
	return t, ok
}

// Load answers a primed key from the memo, any other from the dataloader.
func (m *memo[V]) Load(ctx context.Context, key uuid.UUID) dataloader.Thunk[V] {
	if t, ok := m.thunk(key); ok {
		return t
	}
	return m.Interface.Load(ctx, key)
}

// LoadMany is Load per key; the keys not primed share one batch.
func (m *memo[V]) LoadMany(ctx context.Context, keys []uuid.UUID) dataloader.ThunkMany[V] {
	thunks := make([]dataloader.Thunk[V], len(keys))
	for i, k := range keys {
		thunks[i] = m.Load(ctx, k)
	}
	return func() ([]V, []error) {
		vals := make([]V, len(thunks))
		var errs []error
		for i, t := range thunks {
			v, err := t()
			vals[i] = v
			if err != nil {
				if errs == nil {
					errs = make([]error, len(thunks))
				}
				errs[i] = err
			}
		}
		return vals, errs
	}
}

// Prime keeps value for key unless key was primed already (as
// dataloader's Prime keeps what its cache holds).
func (m *memo[V]) Prime(_ context.Context, key uuid.UUID, value V) dataloader.Interface[uuid.UUID, V] {
	m.mu.Lock()
	if _, ok := m.primed[key]; !ok {
		if m.primed == nil {
			m.primed = make(map[uuid.UUID]dataloader.Thunk[V])
		}
		m.primed[key] = func() (V, error) { return value, nil }
	}
	m.mu.Unlock()
	return m
}

// Clear forgets key in the memo and in the dataloader's cache.
func (m *memo[V]) Clear(ctx context.Context, key uuid.UUID) dataloader.Interface[uuid.UUID, V] {
	m.mu.Lock()
	delete(m.primed, key)
	m.mu.Unlock()
	m.Interface.Clear(ctx, key)
	return m
}

// ClearAll forgets everything.
func (m *memo[V]) ClearAll() dataloader.Interface[uuid.UUID, V] {
	m.mu.Lock()
	clear(m.primed)
	m.mu.Unlock()
	m.Interface.ClearAll()
	return m
}
