// Package events carries committed inventory changes to subscribers on
// every gateway instance.
//
// Path: internal/inventory writes a ledger row and an outbox row in the
// stock movement's own transaction. The relay (RelayShop, woken by Kick
// after a local commit and by RunRelay's poll for anything else) drains a
// shop's outbox under a per-shop advisory lock, oldest first, into one
// Redis stream per shop, with the stream entry id derived from the shop's
// sequence number ("<seq>-1"), then deletes the rows. Redis refuses an id
// not above the stream's last one, so a relay that crashed after XADD and
// before the delete, or two relays racing, cannot append an event twice or
// out of order. Streams are trimmed with MAXLEN ~ MaxLen.
//
// Each instance runs one consumer (a single XREAD BLOCK over the streams of
// the shops that currently have subscribers on this instance), not one per
// subscriber. It fans entries out to in-process subscribers through
// bounded buffers; a subscriber whose buffer is full is dropped (its
// subscription completes and the client resumes with since), never
// buffered without bound.
//
// Delivery guarantee: an event exists if and only if its movement
// committed. Every subscriber receives each committed change of its shop
// that matches its filter exactly once, in sequence order, with no gaps,
// for as long as its subscription lives: sequence numbers are gap-free per
// shop, a subscriber drops anything at or below the last sequence it has
// seen and fills any gap from the ledger (PostgreSQL, the source of truth)
// before going on. Across a reconnect, a client that passes the last
// sequence it saw as since gets everything after it (from the stream, or
// from the ledger once the stream was trimmed). The relay is at-least-once
// into Redis, made effectively-once by the sequence-derived ids.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/inventory"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Codes of subscription errors.
const (
	// CodeSinceTooOld: since is further back than MaxReplay events.
	CodeSinceTooOld apperr.Code = "SINCE_TOO_OLD"
)

// Hub is one instance's relay, consumer and subscriber registry.
type Hub struct {
	db  *pgxpool.Pool
	rdb redis.UniversalClient
	inv *inventory.Service
	log *slog.Logger

	// MaxLen bounds each shop's stream (approximately).
	MaxLen int64
	// Buffer is each subscriber's buffer; a full buffer drops it.
	Buffer int
	// MaxReplay bounds how far back since may reach.
	MaxReplay int64
	// Batch is how many events one relay or replay step moves.
	Batch int

	relayMu  sync.Mutex
	pending  map[uuid.UUID]bool
	relaying bool

	mu        sync.Mutex
	feeds     map[uuid.UUID]*feed
	consuming bool
	stopRead  context.CancelFunc
}

type feed struct {
	cursor string // last stream id read
	subs   map[*sub]struct{}
}

type sub struct {
	ch chan *inventory.Change
}

// New returns a Hub; nothing runs until the first Kick or subscriber.
func New(db *pgxpool.Pool, rdb redis.UniversalClient, inv *inventory.Service, log *slog.Logger) *Hub {
	return &Hub{db: db, rdb: rdb, inv: inv, log: log, MaxLen: 10_000, Buffer: 256, MaxReplay: 100_000, Batch: 500,
		pending: map[uuid.UUID]bool{}, feeds: map[uuid.UUID]*feed{}}
}

// StreamKey is the Redis stream of a shop's inventory changes.
//
// Every stream shares the {inventory} hash tag: the consumer reads all
// shops' streams in one XREAD, which Redis Cluster accepts only within one
// slot.
func StreamKey(shopID uuid.UUID) string { return streamPrefix + shopID.String() }

const streamPrefix = "cartograph:{inventory}:"

func entryID(seq int64) string { return strconv.FormatInt(seq, 10) + "-1" }

func seqOf(id string) int64 {
	n, _ := strconv.ParseInt(strings.SplitN(id, "-", 2)[0], 10, 64)
	return n
}

// Chain returns an inventory observer that runs next (if any) and then
// wakes the relay for the shop: used for movements made by checkout and
// orders, after their transaction committed.
func (h *Hub) Chain(next inventory.Observer) inventory.Observer {
	return func(ctx context.Context, shopID uuid.UUID, levels []inventory.Level) {
		if next != nil {
			next(ctx, shopID, levels)
		}
		h.Kick(shopID)
	}
}

// Kick wakes this instance's relay for a shop (after a local commit).
func (h *Hub) Kick(shopID uuid.UUID) {
	h.relayMu.Lock()
	h.pending[shopID] = true
	start := !h.relaying
	h.relaying = true
	h.relayMu.Unlock()
	if start {
		go h.relayPending()
	}
}

// relayPending drains kicked shops, then exits (no goroutine while idle).
func (h *Hub) relayPending() {
	for {
		h.relayMu.Lock()
		var shopID uuid.UUID
		found := false
		for id := range h.pending {
			shopID, found = id, true
			delete(h.pending, id)
			break
		}
		if !found {
			h.relaying = false
			h.relayMu.Unlock()
			return
		}
		h.relayMu.Unlock()
		if err := h.RelayShop(context.Background(), shopID, time.Second); err != nil {
			h.log.Warn("inventory relay failed; the poll retries", "shop", shopID, "err", err)
		}
	}
}

// RelayShop moves a shop's outbox into its stream until it is empty. When
// another relay holds the shop it retries for up to wait (that relay may
// have read its batch before our rows committed).
func (h *Hub) RelayShop(ctx context.Context, shopID uuid.UUID, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		n, err := inventory.RelayOutbox(ctx, h.db, shopID, h.Batch, func(cs []*inventory.Change) error { return h.publish(ctx, shopID, cs) })
		switch {
		case errors.Is(err, inventory.ErrRelayBusy):
			if time.Now().After(deadline) {
				return nil
			}
			time.Sleep(5 * time.Millisecond)
		case err != nil:
			return err
		case n < h.Batch:
			return nil
		}
	}
}

// RunRelay polls every interval for outbox rows no kick covered (other
// processes, a crashed relay, Redis down) until ctx ends.
func (h *Hub) RunRelay(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		shops, err := inventory.OutboxShops(ctx, h.db, 1000)
		if err != nil {
			h.log.Warn("inventory relay poll failed", "err", err)
			continue
		}
		for _, id := range shops {
			if err := h.RelayShop(ctx, id, 0); err != nil {
				h.log.Warn("inventory relay failed", "shop", id, "err", err)
			}
		}
	}
}

func (h *Hub) publish(ctx context.Context, shopID uuid.UUID, cs []*inventory.Change) error {
	key := StreamKey(shopID)
	cmds, err := h.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range cs {
			b, err := json.Marshal(c)
			if err != nil {
				return err
			}
			p.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: h.MaxLen, Approx: true, ID: entryID(c.Sequence), Values: []any{"c", b}})
		}
		return nil
	})
	for _, cmd := range cmds {
		if e := cmd.Err(); e != nil && !strings.Contains(e.Error(), "equal or smaller") {
			return fmt.Errorf("events: XADD: %w", e)
		}
	}
	if err != nil && !strings.Contains(err.Error(), "equal or smaller") {
		return fmt.Errorf("events: XADD: %w", err)
	}
	return nil
}

// Filter narrows a subscription; empty lists match everything.
type Filter struct {
	VariantIDs, ProductIDs, WarehouseIDs []uuid.UUID
}

func (f Filter) match(c *inventory.Change) bool {
	in := func(ids []uuid.UUID, id uuid.UUID) bool {
		if len(ids) == 0 {
			return true
		}
		for _, x := range ids {
			if x == id {
				return true
			}
		}
		return false
	}
	return in(f.VariantIDs, c.VariantID) && in(f.ProductIDs, c.ProductID) && in(f.WarehouseIDs, c.WarehouseID)
}

// Subscribe streams the context shop's committed inventory changes that
// match f, in sequence order: those after since first (replayed from the
// stream, or from the ledger when the stream no longer holds them), then
// live ones; without since, those committed after the call. The channel
// closes when ctx ends or the subscriber fell too far behind (the client
// resumes with since). inventory:read, staff or secret keys: UNAUTHENTICATED,
// FORBIDDEN, BAD_USER_INPUT, SINCE_TOO_OLD.
func (h *Hub) Subscribe(ctx context.Context, f Filter, since *int64) (<-chan *inventory.Change, error) {
	if err := auth.StaffOrKey(ctx, "customers cannot watch stock", auth.ScopeInventoryRead); err != nil {
		return nil, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	shopID := sh.ID
	last, err := h.inv.LastSequence(ctx, shopID)
	if err != nil {
		return nil, err
	}
	from := last
	if since != nil {
		switch {
		case *since < 0:
			return nil, apperr.BadInput("since", "since must not be negative")
		case *since > last:
			return nil, apperr.BadInput("since", "since %d is ahead of this shop's latest sequence %d", *since, last)
		case last-*since > h.MaxReplay:
			return nil, apperr.New(CodeSinceTooOld, "since is more than %d changes behind; reload inventoryLevels and subscribe without since", h.MaxReplay)
		}
		from = *since
	}
	s, err := h.register(ctx, shopID)
	if err != nil {
		return nil, err
	}
	out := make(chan *inventory.Change)
	go h.run(ctx, shopID, f, from, s, out)
	return out, nil
}

// register adds a subscriber to the shop's feed, following the shop's
// stream from its current end when it is new, and wakes the consumer.
func (h *Hub) register(ctx context.Context, shopID uuid.UUID) (*sub, error) {
	s := &sub{ch: make(chan *inventory.Change, h.Buffer)}
	h.mu.Lock()
	fd := h.feeds[shopID]
	h.mu.Unlock()
	cursor := ""
	if fd == nil {
		top, err := h.rdb.XRevRangeN(ctx, StreamKey(shopID), "+", "-", 1).Result()
		if err != nil {
			return nil, apperr.Wrap(err, apperr.ServiceUnavailable, "live inventory is unavailable")
		}
		cursor = "0-0"
		if len(top) == 1 {
			cursor = top[0].ID
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	fd = h.feeds[shopID]
	fresh := fd == nil
	if fresh {
		fd = &feed{cursor: cursor, subs: map[*sub]struct{}{}}
		h.feeds[shopID] = fd
	}
	fd.subs[s] = struct{}{}
	if !h.consuming {
		h.consuming = true
		go h.consume()
	} else if fresh && h.stopRead != nil {
		h.stopRead() // re-issue XREAD with the new stream
	}
	return s, nil
}

func (h *Hub) unregister(shopID uuid.UUID, s *sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if fd := h.feeds[shopID]; fd != nil {
		delete(fd.subs, s)
		if len(fd.subs) == 0 {
			delete(h.feeds, shopID)
		}
	}
}

// consume is the instance's one Redis reader; it exits when no shop has a
// subscriber here.
func (h *Hub) consume() {
	for {
		h.mu.Lock()
		if len(h.feeds) == 0 {
			h.consuming, h.stopRead = false, nil
			h.mu.Unlock()
			return
		}
		keys := make([]string, 0, 2*len(h.feeds))
		ids := make([]string, 0, len(h.feeds))
		for id, fd := range h.feeds {
			keys = append(keys, StreamKey(id))
			ids = append(ids, fd.cursor)
		}
		ctx, cancel := context.WithCancel(context.Background())
		h.stopRead = cancel
		h.mu.Unlock()
		res, err := h.rdb.XRead(ctx, &redis.XReadArgs{Streams: append(keys, ids...), Count: int64(h.Batch), Block: 5 * time.Second}).Result()
		cancel()
		if err != nil {
			if !errors.Is(err, redis.Nil) && ctx.Err() == nil {
				h.log.Warn("inventory consumer read failed", "err", err)
				time.Sleep(200 * time.Millisecond)
			}
			continue
		}
		h.dispatch(res)
	}
}

func (h *Hub) dispatch(res []redis.XStream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, st := range res {
		shopID, err := uuid.Parse(strings.TrimPrefix(st.Stream, streamPrefix))
		if err != nil {
			continue
		}
		fd := h.feeds[shopID]
		if fd == nil {
			continue
		}
		for _, m := range st.Messages {
			fd.cursor = m.ID
			c := decode(m)
			if c == nil || c.ShopID != shopID {
				continue
			}
			for s := range fd.subs {
				select {
				case s.ch <- c:
				default: // too far behind: drop it; the client resumes with since
					close(s.ch)
					delete(fd.subs, s)
				}
			}
		}
		if len(fd.subs) == 0 {
			delete(h.feeds, shopID)
		}
	}
}

func decode(m redis.XMessage) *inventory.Change {
	raw, _ := m.Values["c"].(string)
	var c inventory.Change
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return nil
	}
	if c.Sequence != seqOf(m.ID) {
		return nil
	}
	return &c
}

// run replays then follows, delivering each sequence once, in order.
func (h *Hub) run(ctx context.Context, shopID uuid.UUID, f Filter, last int64, s *sub, out chan<- *inventory.Change) {
	defer close(out)
	defer h.unregister(shopID, s)
	deliver := func(c *inventory.Change) bool {
		if c.Sequence != last+1 {
			return true
		}
		last = c.Sequence
		if !f.match(c) {
			return true
		}
		select {
		case out <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	// fill delivers everything after last up to upto (0: up to the newest),
	// from the stream while it holds them contiguously, else from the ledger.
	fill := func(upto int64) bool {
		for upto == 0 || last < upto {
			msgs, err := h.rdb.XRangeN(ctx, StreamKey(shopID), entryID(last+1), "+", int64(h.Batch)).Result()
			if err != nil {
				h.log.Warn("inventory replay from stream failed; using the ledger", "shop", shopID, "err", err)
				msgs = nil
			}
			var cs []*inventory.Change
			if len(msgs) > 0 && seqOf(msgs[0].ID) == last+1 {
				for _, m := range msgs {
					if c := decode(m); c != nil && (upto == 0 || c.Sequence <= upto) {
						cs = append(cs, c)
					}
				}
			}
			if len(cs) == 0 {
				bound := upto
				if len(msgs) > 0 {
					if b := seqOf(msgs[0].ID) - 1; bound == 0 || b < bound {
						bound = b
					}
				}
				cs, err = h.inv.Since(ctx, shopID, last, bound, h.Batch)
				if err != nil {
					h.log.Warn("inventory replay from ledger failed", "shop", shopID, "err", err)
					return false
				}
				if len(cs) == 0 {
					return true
				}
			}
			before := last
			for _, c := range cs {
				if !deliver(c) {
					return false
				}
			}
			if last == before {
				return true
			}
		}
		return true
	}
	if !fill(0) {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-s.ch:
			if !ok {
				return // dropped: too slow
			}
			if c.Sequence <= last {
				continue
			}
			if c.Sequence > last+1 && !fill(c.Sequence-1) {
				return
			}
			if !deliver(c) {
				return
			}
		}
	}
}
