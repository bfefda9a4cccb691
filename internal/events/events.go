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
// bounded queues; a subscriber whose queue is full is dropped (its
// subscription completes and the client resumes with since), never
// buffered without bound. An idle subscriber costs no goroutine: one is
// started when its queue receives an entry and ends when the queue is
// empty. A transport that registered a Pusher in the subscription's
// context (the websocket transport) has each event handed to it on that
// goroutine, instead of parking a goroutine of its own on the channel.
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
	"cartograph/internal/relay"
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

	// idle hands a subscriber to a delivery worker waiting for one (run).
	idle chan *sub
}

type feed struct {
	cursor string // last stream id read
	subs   map[*sub]struct{}
}

// sub is one subscriber. Between events it is only this struct: dispatch
// appends to queue and, when no worker runs, starts one (work), which
// drains the queue, replays gaps and ends.
type sub struct {
	h      *Hub
	ctx    context.Context
	shopID uuid.UUID
	f      Filter
	// emit hands on one matching change; false ends the subscription.
	emit func(*inventory.Change) bool
	// finish closes the subscriber's channel, once, after the last emit.
	finish func()
	// last is the last sequence seen (owned by the running worker).
	last int64
	// known is the shop's latest sequence when the subscription started:
	// the first replay needs the ledger only below it.
	known int64

	mu       sync.Mutex
	queue    []*inventory.Change // at most h.Buffer
	fill     bool                // replay everything after last first
	running  bool
	dropped  bool // queue overflowed: end after what is queued
	finished bool
	stop     func() bool // detaches the ctx.Done callback
}

// Pusher is what a transport registers (WithPusher) to be handed each event
// instead of reading the subscription's channel from a goroutine of its
// own. Bind is called once, when Subscribe returns a channel that will be
// pushed (buffered, one value); from then on Push is called, never
// concurrently for one subscription, each time a value or the channel's
// close is ready on it, and must take it (by calling the gqlgen response
// handler) before returning.
type Pusher interface {
	Bind()
	Push()
}

type pusherKey struct{}

// WithPusher returns ctx under which Subscribe and SubscribeAvailability
// push to p.
func WithPusher(ctx context.Context, p Pusher) context.Context {
	return context.WithValue(ctx, pusherKey{}, p)
}

// sender returns emit/finish for a channel of T: pushed to p when a Pusher
// is in ctx (a full channel then means the transport stopped taking), else
// sent as the reader takes it.
func sender[T any](ctx context.Context, out chan T, p Pusher) (func(T) bool, func()) {
	if p == nil {
		return func(v T) bool {
				select {
				case out <- v:
					return true
				case <-ctx.Done():
					return false
				}
			}, func() {
				close(out)
			}
	}
	return func(v T) bool {
			select {
			case out <- v:
			default:
				return false
			}
			p.Push()
			return ctx.Err() == nil
		}, func() {
			close(out)
			p.Push()
		}
}

// New returns a Hub; nothing runs until the first Kick or subscriber.
func New(db *pgxpool.Pool, rdb redis.UniversalClient, inv *inventory.Service, log *slog.Logger) *Hub {
	return &Hub{db: db, rdb: rdb, inv: inv, log: log, MaxLen: 10_000, Buffer: 256, MaxReplay: 100_000, Batch: 500,
		pending: map[uuid.UUID]bool{}, feeds: map[uuid.UUID]*feed{}, idle: make(chan *sub)}
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

// Kind is what a subscription receives.
type Kind int

const (
	// KindChanges: every stock movement (inventoryChanged).
	KindChanges Kind = iota
	// KindAlerts: movements that crossed a variant's low-stock threshold
	// (inventoryLowStock).
	KindAlerts
	// KindAvailability: movements that flipped a variant between available
	// and sold out (productAvailabilityChanged).
	KindAvailability
)

// Filter narrows a subscription; empty lists match everything.
type Filter struct {
	Kind                                 Kind
	VariantIDs, ProductIDs, WarehouseIDs []uuid.UUID
}

func (f Filter) match(c *inventory.Change) bool {
	switch f.Kind {
	case KindAlerts:
		if !c.IsAlert() {
			return false
		}
	case KindAvailability:
		if !c.IsAvailabilityFlip() {
			return false
		}
	}
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
// match f (movements, or only low-stock alerts with KindAlerts), in
// sequence order: those after since first (replayed from the stream, or
// from the ledger when the stream no longer holds them), then live ones;
// without since, those committed after the call. The channel closes when
// ctx ends or the subscriber fell too far behind (the client resumes with
// since). inventory:read, staff or secret keys: UNAUTHENTICATED,
// FORBIDDEN, BAD_USER_INPUT, SINCE_TOO_OLD.
func (h *Hub) Subscribe(ctx context.Context, f Filter, since *int64) (<-chan *inventory.Change, error) {
	if err := auth.StaffOrKey(ctx, "customers cannot watch stock", auth.ScopeInventoryRead); err != nil {
		return nil, err
	}
	if f.Kind == KindAvailability {
		f.Kind = KindChanges
	}
	return stream(ctx, h, f, since, func(c *inventory.Change) *inventory.Change { return c })
}

// stream opens a subscription whose matching changes reach the channel
// as conv makes them (through the connection's Pusher when it has one).
func stream[T any](ctx context.Context, h *Hub, f Filter, since *int64, conv func(*inventory.Change) T) (<-chan T, error) {
	p, _ := ctx.Value(pusherKey{}).(Pusher)
	out := make(chan T, pushCap(p))
	emit, finish := sender(ctx, out, p)
	started, err := h.subscribe(ctx, f, since, func(c *inventory.Change) bool { return emit(conv(c)) }, finish)
	if err != nil {
		return nil, err
	}
	if !started {
		close(out)
	} else if p != nil {
		p.Bind()
	}
	return out, nil
}

func pushCap(p Pusher) int {
	if p != nil {
		return 1
	}
	return 0
}

// AvailabilityChange is what a storefront may learn about a stock
// movement: that a variant became sold out or available again, and
// whether its product still has a variant for sale. Never a quantity.
type AvailabilityChange struct {
	ProductID, VariantID    uuid.UUID
	AvailableForSale        bool
	ProductAvailableForSale bool
	At                      time.Time
}

// SubscribeAvailability streams the context shop's availability flips of
// the given products (all when empty), from now on. Public, like catalog
// reads: any principal of the shop, including pk_ keys. Only the flip is
// sent on, so no stock quantity reaches the subscriber.
func (h *Hub) SubscribeAvailability(ctx context.Context, productIDs []uuid.UUID) (<-chan *AvailabilityChange, error) {
	return stream(ctx, h, Filter{Kind: KindAvailability, ProductIDs: productIDs}, nil, func(c *inventory.Change) *AvailabilityChange {
		return &AvailabilityChange{ProductID: c.ProductID, VariantID: c.VariantID,
			AvailableForSale: c.Availability == inventory.AvailabilityAvailable, ProductAvailableForSale: c.ProductAvailable, At: c.At}
	})
}

// subscribe checks since, registers a subscriber that emits what matches
// f and starts its first replay. started is false when the client left
// while we started (nothing was registered; end quietly).
func (h *Hub) subscribe(ctx context.Context, f Filter, since *int64, emit func(*inventory.Change) bool, finish func()) (started bool, err error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return false, err
	}
	shopID := sh.ID
	last, err := h.inv.LastSequence(ctx, shopID)
	if err != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		return false, err
	}
	from := last
	if since != nil {
		switch {
		case *since < 0:
			return false, apperr.BadInput("since", "since must not be negative")
		case *since > last:
			return false, apperr.BadInput("since", "since %d is ahead of this shop's latest sequence %d", *since, last)
		case last-*since > h.MaxReplay:
			return false, apperr.New(CodeSinceTooOld, "since is more than %d changes behind; reload inventoryLevels and subscribe without since", h.MaxReplay)
		}
		from = *since
	}
	s := &sub{h: h, ctx: ctx, shopID: shopID, f: f, emit: emit, finish: finish, last: from, known: last, fill: true, running: true}
	if err := h.register(ctx, s); err != nil {
		return false, err
	}
	s.mu.Lock()
	s.stop = context.AfterFunc(ctx, s.cancelled)
	s.mu.Unlock()
	h.run(s)
	return true, nil
}

// register adds a subscriber to the shop's feed, following the shop's
// stream from its current end when it is new, and wakes the consumer.
func (h *Hub) register(ctx context.Context, s *sub) error {
	shopID := s.shopID
	h.mu.Lock()
	fd := h.feeds[shopID]
	h.mu.Unlock()
	cursor := ""
	if fd == nil {
		top, err := h.rdb.XRevRangeN(ctx, StreamKey(shopID), "+", "-", 1).Result()
		if err != nil {
			return apperr.Wrap(err, apperr.ServiceUnavailable, "live inventory is unavailable")
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
	return nil
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
				if !s.offer(c) { // too far behind: dropped; the client resumes with since
					delete(fd.subs, s)
				}
			}
		}
		if len(fd.subs) == 0 {
			delete(h.feeds, shopID)
		}
	}
}

// offer queues c for s, starting its worker when none runs; false when s
// is over its bound (it is then dropped: it ends after what it holds).
func (s *sub) offer(c *inventory.Change) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished || s.dropped {
		return false
	}
	if len(s.queue) >= s.h.Buffer {
		s.dropped = true
		if !s.running {
			s.running = true
			s.h.run(s)
		}
		return false
	}
	s.queue = append(s.queue, c)
	if !s.running {
		s.running = true
		s.h.run(s)
	}
	return true
}

// workerIdle is how long a delivery worker waits for the next subscriber
// to serve before it exits.
const workerIdle = time.Second

// run starts s's worker: an idle delivery worker takes it, else a new one
// starts. Workers outlive the subscriber they served by workerIdle so
// that the next event is delivered on a goroutine whose stack has
// already grown: a fresh goroutine per event grew its stack from 2 KB by
// copying, several times per event and subscriber (a sixth of the CPU of
// an instance fanning out 50 changes/s to 500 subscribers). An idle
// subscription still costs no goroutine once the workers have gone.
func (h *Hub) run(s *sub) {
	select {
	case h.idle <- s:
	default:
		go h.worker(s)
	}
}

func (h *Hub) worker(s *sub) {
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		s.work()
		t.Reset(workerIdle)
		select {
		case s = <-h.idle:
		case <-t.C:
			return
		}
	}
}

// cancelled runs when the subscriber's context ends.
func (s *sub) cancelled() {
	s.h.unregister(s.shopID, s)
	s.mu.Lock()
	if s.running || s.finished {
		s.mu.Unlock()
		return // the worker ends it
	}
	s.finished = true
	s.queue = nil
	s.mu.Unlock()
	s.finish()
}

// end finishes s from its worker.
func (s *sub) end() {
	s.h.unregister(s.shopID, s)
	s.mu.Lock()
	already := s.finished
	s.finished, s.running, s.queue = true, false, nil
	stop := s.stop
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	if !already {
		s.finish()
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

// work replays then follows, delivering each sequence once, in order,
// until the queue is empty (then it exits: no goroutine while idle) or the
// subscription ends.
func (s *sub) work() {
	for {
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			s.end()
			return
		}
		if s.fill {
			s.fill = false
			s.mu.Unlock()
			if !s.replay(0) {
				s.end()
				return
			}
			continue
		}
		if len(s.queue) == 0 {
			if s.dropped {
				s.mu.Unlock()
				s.end()
				return
			}
			s.running = false
			if cap(s.queue) > 16 {
				s.queue = nil
			}
			s.mu.Unlock()
			return
		}
		// Pop the front, keeping the (usually one-slot) array for the next
		// event.
		c := s.queue[0]
		n := copy(s.queue, s.queue[1:])
		s.queue[n] = nil
		s.queue = s.queue[:n]
		s.mu.Unlock()
		if c.Sequence <= s.last {
			continue
		}
		if c.Sequence > s.last+1 && !s.replay(c.Sequence-1) {
			s.end()
			return
		}
		if !s.deliver(c) {
			s.end()
			return
		}
	}
}

func (s *sub) deliver(c *inventory.Change) bool {
	if c.Sequence != s.last+1 {
		return true
	}
	s.last = c.Sequence
	if !s.f.match(c) {
		return true
	}
	return s.emit(c)
}

// replay delivers everything after last up to upto (0: up to the newest),
// from the stream while it holds them contiguously, else from the ledger.
func (s *sub) replay(upto int64) bool {
	h, ctx, shopID := s.h, s.ctx, s.shopID
	for upto == 0 || s.last < upto {
		msgs, err := h.rdb.XRangeN(ctx, StreamKey(shopID), entryID(s.last+1), "+", int64(h.Batch)).Result()
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			h.log.Warn("inventory replay from stream failed; using the ledger", "shop", shopID, "err", err)
			msgs = nil
		}
		var cs []*inventory.Change
		if len(msgs) > 0 && seqOf(msgs[0].ID) == s.last+1 {
			for _, m := range msgs {
				if c := decode(m); c != nil && (upto == 0 || c.Sequence <= upto) {
					cs = append(cs, c)
				}
			}
		}
		if len(cs) == 0 && len(msgs) == 0 && upto == 0 && s.last >= s.known {
			// Nothing in the stream after last, and nothing committed
			// before the subscription that was not seen: what comes next
			// is dispatched live (its stream id is past the feed's cursor).
			return true
		}
		if len(cs) == 0 {
			bound := upto
			if len(msgs) > 0 {
				if b := seqOf(msgs[0].ID) - 1; bound == 0 || b < bound {
					bound = b
				}
			}
			cs, err = h.inv.Since(ctx, shopID, s.last, bound, h.Batch)
			if err != nil {
				if ctx.Err() == nil {
					h.log.Warn("inventory replay from ledger failed", "shop", shopID, "err", err)
				}
				return false
			}
			if len(cs) == 0 {
				return true
			}
		}
		before := s.last
		for _, c := range cs {
			if !s.deliver(c) {
				return false
			}
		}
		if s.last == before {
			return true
		}
	}
	return true
}

// ProductNodeID is the product's global id.
func (a *AvailabilityChange) ProductNodeID() string { return relay.GlobalID("Product", a.ProductID) }

// VariantNodeID is the variant's global id.
func (a *AvailabilityChange) VariantNodeID() string {
	return relay.GlobalID("ProductVariant", a.VariantID)
}
