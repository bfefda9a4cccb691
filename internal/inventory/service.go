package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/dbq"
	"cartograph/internal/idempotency"
	"cartograph/internal/pg"
	"cartograph/internal/relay"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// User error codes of the staff movements (Shopify's where it has one).
const (
	CodeStale         = "CHANGE_FROM_QUANTITY_STALE"
	CodeInvalidName   = "INVALID_QUANTITY_NAME"
	CodeInvalidReason = "INVALID_REASON"
	CodeNotFound      = "NOT_FOUND"
	CodeTooLow        = "INVALID_QUANTITY_TOO_LOW"
	CodeTooHigh       = "INVALID_QUANTITY_TOO_HIGH"
	CodeDuplicate     = "DUPLICATE_ITEM_LOCATION"
	CodeSameLocation  = "SAME_LOCATION"
	maxChanges        = 250
	maxQuantity       = 1_000_000_000
)

// Reasons are Shopify's inventory adjustment reasons.
var Reasons = []string{"correction", "cycle_count_available", "damaged", "movement_created", "movement_updated", "movement_received",
	"movement_canceled", "other", "promotion", "quality_control", "received", "reservation_created", "reservation_deleted",
	"reservation_updated", "restock", "safety_stock", "shrinkage"}

// Service runs staff stock movements and inventory reads. Every method
// authorizes first (inventory:write or inventory:read, staff or API key)
// with the shop taken from the context.
type Service struct {
	db   *pgxpool.Pool
	q    *dbq.Queries
	idem *idempotency.Store
	// OnStock observes committed staff movements, like the observers of
	// checkout and orders (the relay wakes up, the public cache drops the
	// shop's responses).
	OnStock Observer
	whCache sync.Map // [shop, warehouse] → whEntry
}

// New returns a Service over the application pool.
func New(db *pgxpool.Pool, idem *idempotency.Store) *Service {
	return &Service{db: db, q: dbq.New(pg.Tenant{Pool: db}), idem: idem}
}

// QuantityChange is one line of an adjustment: Delta to the named quantity
// of a variant at a warehouse, if that quantity is still ChangeFrom.
type QuantityChange struct {
	VariantID, WarehouseID uuid.UUID
	Delta                  int
	ChangeFrom             int
}

// QuantitySet is one line of a set: the named quantity becomes Quantity,
// if it is still ChangeFrom.
type QuantitySet struct {
	VariantID, WarehouseID uuid.UUID
	Quantity               int
	ChangeFrom             int
}

// Movement is a staff adjustment or set (exactly one of Changes and Sets).
type Movement struct {
	Name, Reason string
	ReferenceURI *string
	Changes      []QuantityChange
	Sets         []QuantitySet
}

// Group is the result of one staff movement (Shopify's
// InventoryAdjustmentGroup): the ledger rows it appended.
type Group struct {
	ID           uuid.UUID
	CreatedAt    time.Time
	Reason       string
	ReferenceURI *string
	Changes      []*Change
}

// NodeID is the group's global id.
func (g *Group) NodeID() string { return relay.GlobalID("InventoryAdjustmentGroup", g.ID) }

// Result is a movement's outcome: a group, or user errors and no change.
type Result struct {
	Group      *Group
	UserErrors []apperr.UserError
}

func authorize(ctx context.Context, scope string) (*shop.Shop, error) {
	if err := auth.StaffOrKey(ctx, "customers cannot see or move stock", scope); err != nil {
		return nil, err
	}
	return shop.FromContext(ctx)
}

// Adjust applies deltas (Shopify's inventoryAdjustQuantities). Every line is
// compare-and-swap on its ChangeFrom: one stale line and nothing changes.
// Idempotent per key. BAD_USER_INPUT, FORBIDDEN, IDEMPOTENCY_KEY_REUSED.
func (s *Service) Adjust(ctx context.Context, m Movement, key string) (Result, error) {
	m.Sets = nil
	return s.move(ctx, m, key, "inventoryAdjustQuantities")
}

// Set sets quantities (Shopify's inventorySetQuantities), compare-and-swap
// like Adjust.
func (s *Service) Set(ctx context.Context, m Movement, key string) (Result, error) {
	m.Changes = nil
	return s.move(ctx, m, key, "inventorySetQuantities")
}

// Transfer moves quantity on-hand units of a variant from one warehouse to
// another atomically (both legs or neither), compare-and-swap on the
// source's available quantity.
func (s *Service) Transfer(ctx context.Context, variantID, from, to uuid.UUID, quantity, changeFrom int, reason string, ref *string, key string) (Result, error) {
	if from == to {
		return Result{UserErrors: []apperr.UserError{{Field: []string{"input", "toLocationId"}, Message: "source and destination are the same warehouse", Code: CodeSameLocation}}}, nil
	}
	if quantity <= 0 || quantity > maxQuantity {
		return Result{UserErrors: []apperr.UserError{{Field: []string{"input", "quantity"}, Message: "quantity must be positive", Code: CodeTooLow}}}, nil
	}
	m := Movement{Name: NameAvailable, Reason: reason, ReferenceURI: ref, Changes: []QuantityChange{
		{VariantID: variantID, WarehouseID: from, Delta: -quantity, ChangeFrom: changeFrom},
		{VariantID: variantID, WarehouseID: to, Delta: quantity, ChangeFrom: -1},
	}}
	return s.move(ctx, m, key, "inventoryTransfer")
}

type userErrs struct{ errs []apperr.UserError }

func (u *userErrs) Error() string { return "inventory: user errors" }

func (s *Service) move(ctx context.Context, m Movement, key, op string) (Result, error) {
	sh, err := authorize(ctx, auth.ScopeInventoryWrite)
	if err != nil {
		return Result{}, err
	}
	ctx = pg.WithShopID(ctx, sh.ID)
	if ue := validate(m, op == "inventoryTransfer"); len(ue) > 0 {
		return Result{UserErrors: ue}, nil
	}
	p := auth.FromContext(ctx)
	res, err := idempotency.Do(ctx, s.idem, sh.ID, p.Ref(), key, op, m, func(ctx context.Context) (Result, error) {
		var g *Group
		err := pg.WithTenantTx(ctx, s.db, func(tx pgx.Tx) error {
			var err error
			g, err = apply(ctx, tx, sh.ID, m, key)
			return err
		})
		var ue *userErrs
		if errors.As(err, &ue) {
			return Result{UserErrors: ue.errs}, nil
		}
		if err != nil {
			return Result{}, err
		}
		return Result{Group: g}, nil
	})
	if err != nil {
		return Result{}, err
	}
	if res.Group != nil && len(res.Group.Changes) > 0 && s.OnStock != nil {
		s.OnStock(ctx, sh.ID, nil)
	}
	return res, nil
}

func validate(m Movement, internalCAS bool) []apperr.UserError {
	var ue []apperr.UserError
	bad := func(msg, code string, field ...string) {
		ue = append(ue, apperr.UserError{Field: append([]string{"input"}, field...), Message: msg, Code: code})
	}
	if m.Name != NameAvailable && m.Name != NameOnHand {
		bad("name must be available or on_hand", CodeInvalidName, "name")
	}
	if !slices.Contains(Reasons, m.Reason) {
		bad("reason must be one of Shopify's adjustment reasons (correction, received, damaged, …)", CodeInvalidReason, "reason")
	}
	if m.ReferenceURI != nil && len(*m.ReferenceURI) > 2048 {
		bad("referenceDocumentUri is too long", "INVALID", "referenceDocumentUri")
	}
	n, list := len(m.Changes), "changes"
	if m.Sets != nil || n == 0 {
		n, list = len(m.Sets), "quantities"
	}
	if n == 0 || n > maxChanges {
		bad(fmt.Sprintf("give 1 to %d %s", maxChanges, list), "INVALID", list)
	}
	seen := map[[2]uuid.UUID]bool{}
	for i := 0; i < n && i < maxChanges; i++ {
		var k [2]uuid.UUID
		if list == "changes" {
			c := m.Changes[i]
			k = [2]uuid.UUID{c.VariantID, c.WarehouseID}
			if c.ChangeFrom < 0 && !internalCAS {
				bad("changeFromQuantity must not be negative", CodeTooLow, list, strconv.Itoa(i), "changeFromQuantity")
			}
			if c.Delta > maxQuantity || c.Delta < -maxQuantity {
				bad("delta is out of range", CodeTooHigh, list, strconv.Itoa(i), "delta")
			}
		} else {
			c := m.Sets[i]
			k = [2]uuid.UUID{c.VariantID, c.WarehouseID}
			if c.ChangeFrom < 0 {
				bad("changeFromQuantity must not be negative", CodeTooLow, list, strconv.Itoa(i), "changeFromQuantity")
			}
			if c.Quantity < 0 {
				bad("quantity must not be negative", CodeTooLow, list, strconv.Itoa(i), "quantity")
			} else if c.Quantity > maxQuantity {
				bad("quantity is too high", CodeTooHigh, list, strconv.Itoa(i), "quantity")
			}
		}
		if seen[k] {
			bad("the same inventory item and location appear twice", CodeDuplicate, list, strconv.Itoa(i))
		}
		seen[k] = true
	}
	return ue
}

// apply runs a validated movement in tx: levels are created at zero when
// missing, locked, compared and changed, and the ledger appended.
func apply(ctx context.Context, tx pgx.Tx, shopID uuid.UUID, m Movement, key string) (*Group, error) {
	q := dbq.New(tx)
	type line struct {
		v, w            uuid.UUID
		delta, set      int
		isSet           bool
		changeFrom, idx int
	}
	var lines []line
	list := "changes"
	for i, c := range m.Changes {
		lines = append(lines, line{v: c.VariantID, w: c.WarehouseID, delta: c.Delta, changeFrom: c.ChangeFrom, idx: i})
	}
	if m.Sets != nil {
		list = "quantities"
		for i, c := range m.Sets {
			lines = append(lines, line{v: c.VariantID, w: c.WarehouseID, set: c.Quantity, isSet: true, changeFrom: c.ChangeFrom, idx: i})
		}
	}
	vs, ws := make([]uuid.UUID, len(lines)), make([]uuid.UUID, len(lines))
	for i, l := range lines {
		vs[i], ws[i] = l.v, l.w
	}
	if err := q.InventoryEnsureLevels(ctx, dbq.InventoryEnsureLevelsParams{ShopID: shopID, VariantIds: vs, WarehouseIds: ws}); err != nil {
		return nil, pg.MapError(err)
	}
	rows, err := q.InventoryLockLevels(ctx, dbq.InventoryLockLevelsParams{ShopID: shopID, VariantIds: vs, WarehouseIds: ws})
	if err != nil {
		return nil, pg.MapError(err)
	}
	cur := map[[2]uuid.UUID]dbq.InventoryLockLevelsRow{}
	for _, r := range rows {
		cur[[2]uuid.UUID{r.VariantID, r.WarehouseID}] = r
	}
	var ue []apperr.UserError
	var moves []move
	for _, l := range lines {
		field := []string{"input", list, strconv.Itoa(l.idx)}
		r, ok := cur[[2]uuid.UUID{l.v, l.w}]
		if !ok {
			ue = append(ue, apperr.UserError{Field: append(field, "inventoryItemId"), Message: "inventory item or location not found in this shop", Code: CodeNotFound})
			continue
		}
		onHand, reserved := int(r.OnHand), int(r.Reserved)
		now := onHand - reserved
		if m.Name == NameOnHand {
			now = onHand
		}
		if l.changeFrom >= 0 && l.changeFrom != now {
			ue = append(ue, apperr.UserError{Field: append(field, "changeFromQuantity"),
				Message: fmt.Sprintf("changeFromQuantity %d is stale: the current %s quantity is %d", l.changeFrom, m.Name, now), Code: CodeStale})
			continue
		}
		d := l.delta
		if l.isSet {
			d = l.set - now
		}
		next := onHand + d
		if next < reserved || next < 0 {
			ue = append(ue, apperr.UserError{Field: field, Message: fmt.Sprintf("the %s quantity would fall below zero (it is %d)", m.Name, now), Code: CodeTooLow})
			continue
		}
		if next > maxQuantity {
			ue = append(ue, apperr.UserError{Field: field, Message: "the quantity would be too high", Code: CodeTooHigh})
			continue
		}
		if d == 0 {
			continue
		}
		moves = append(moves, move{Level: Level{VariantID: l.v, WarehouseID: l.w, OnHand: next, Reserved: reserved, OnHandDelta: d}, Name: m.Name, Delta: d})
	}
	if len(ue) > 0 {
		return nil, &userErrs{ue}
	}
	for _, mv := range moves {
		if err := q.InventorySetOnHand(ctx, dbq.InventorySetOnHandParams{ShopID: shopID, VariantID: mv.VariantID, WarehouseID: mv.WarehouseID, OnHand: int32(mv.OnHand)}); err != nil {
			return nil, pg.MapError(err)
		}
	}
	var k *string
	if key != "" {
		k = &key
	}
	md := meta{Reason: m.Reason, Actor: actorOf(ctx), RefURI: m.ReferenceURI, IdemKey: k}
	if err := appendLedger(ctx, tx, shopID, md, moves); err != nil {
		return nil, err
	}
	g := &Group{ID: uuid.Must(uuid.NewV7()), CreatedAt: time.Now(), Reason: m.Reason, ReferenceURI: m.ReferenceURI}
	if len(moves) > 0 {
		last, err := q.InventoryLastSequence(ctx, shopID)
		if err != nil {
			return nil, pg.MapError(err)
		}
		led, err := q.InventoryLedgerRange(ctx, dbq.InventoryLedgerRangeParams{ShopID: shopID, After: last - int64(len(moves)), Upto: last, Lim: int32(len(moves))})
		if err != nil {
			return nil, pg.MapError(err)
		}
		for _, r := range led {
			g.Changes = append(g.Changes, ChangeOf(r))
		}
		if len(led) > 0 {
			g.CreatedAt = led[0].CreatedAt
		}
	}
	return g, nil
}

// LevelRow is a current stock level (Shopify's InventoryLevel).
type LevelRow struct {
	VariantID, WarehouseID uuid.UUID
	OnHand, Reserved       int
	UpdatedAt              time.Time
	// LowStockThreshold is the variant's effective threshold (its own, else
	// the shop's default; nil: none).
	LowStockThreshold *int
}

// Available is on hand minus reserved.
func (l *LevelRow) Available() int { return l.OnHand - l.Reserved }

// NodeID is the level's global id.
func (l *LevelRow) NodeID() string {
	return relay.GlobalID("InventoryLevel", l.VariantID) + ":" + l.WarehouseID.String()
}

// VariantNodeID is the variant's global id.
func (l *LevelRow) VariantNodeID() string { return relay.GlobalID("ProductVariant", l.VariantID) }

// LocationNodeID is the warehouse's global id.
func (l *LevelRow) LocationNodeID() string { return relay.GlobalID("Warehouse", l.WarehouseID) }

// Levels lists the shop's levels (optionally of some variants), in
// (variant, warehouse) order. inventory:read.
func (s *Service) Levels(ctx context.Context, variantIDs []uuid.UUID, p relay.Page) (relay.Conn[*LevelRow], error) {
	sh, err := authorize(ctx, auth.ScopeInventoryRead)
	if err != nil {
		return relay.Conn[*LevelRow]{}, err
	}
	var av, aw uuid.UUID
	if p.After != "" {
		parts, err := relay.DecodeCursor("after", p.After, "il", 2)
		if err != nil {
			return relay.Conn[*LevelRow]{}, err
		}
		v, e1 := uuid.Parse(parts[0])
		w, e2 := uuid.Parse(parts[1])
		if e1 != nil || e2 != nil {
			return relay.Conn[*LevelRow]{}, apperr.BadInput("after", "invalid cursor for this query")
		}
		av, aw = v, w
	}
	if variantIDs == nil {
		variantIDs = []uuid.UUID{}
	}
	rows, err := s.q.InventoryLevelsPage(pg.WithShopID(ctx, sh.ID), dbq.InventoryLevelsPageParams{ShopID: sh.ID, VariantIds: variantIDs, AfterVariant: av, AfterWarehouse: aw, Lim: int32(p.Limit + 1)})
	if err != nil {
		return relay.Conn[*LevelRow]{}, pg.MapError(err)
	}
	out := make([]*LevelRow, len(rows))
	for i, r := range rows {
		out[i] = &LevelRow{VariantID: r.VariantID, WarehouseID: r.WarehouseID, OnHand: int(r.OnHand), Reserved: int(r.Reserved), UpdatedAt: r.UpdatedAt}
		if r.LowStockThreshold >= 0 {
			t := int(r.LowStockThreshold)
			out[i].LowStockThreshold = &t
		}
	}
	return relay.ForwardConn(out, p.Limit, p.After != "", func(l *LevelRow) string {
		return relay.EncodeCursor("il", l.VariantID.String(), l.WarehouseID.String())
	}), nil
}

// History lists a variant's ledger, newest first. inventory:read.
func (s *Service) History(ctx context.Context, variantID uuid.UUID, p relay.Page) (relay.Conn[*Change], error) {
	sh, err := authorize(ctx, auth.ScopeInventoryRead)
	if err != nil {
		return relay.Conn[*Change]{}, err
	}
	var before int64
	if p.After != "" {
		parts, err := relay.DecodeCursor("after", p.After, "ih", 1)
		if err != nil {
			return relay.Conn[*Change]{}, err
		}
		if before, err = strconv.ParseInt(parts[0], 10, 64); err != nil || before <= 0 {
			return relay.Conn[*Change]{}, apperr.BadInput("after", "invalid cursor for this query")
		}
	}
	rows, err := s.q.InventoryLedgerByVariant(pg.WithShopID(ctx, sh.ID), dbq.InventoryLedgerByVariantParams{ShopID: sh.ID, VariantID: variantID, Before: before, Lim: int32(p.Limit + 1)})
	if err != nil {
		return relay.Conn[*Change]{}, pg.MapError(err)
	}
	out := make([]*Change, len(rows))
	for i, r := range rows {
		out[i] = ChangeOf(r)
	}
	return relay.ForwardConn(out, p.Limit, p.After != "", func(c *Change) string {
		return relay.EncodeCursor("ih", strconv.FormatInt(c.Sequence, 10))
	}), nil
}

// Warehouse is a stock location (Shopify's Location).
type Warehouse struct {
	ID       uuid.UUID
	Name     string
	Priority int
}

// NodeID is the warehouse's global id.
func (w *Warehouse) NodeID() string { return relay.GlobalID("Warehouse", w.ID) }

// WarehousesByIDs returns the shop's warehouses in key order (nil for
// unknown ids).
func (s *Service) WarehousesByIDs(ctx context.Context, ids []uuid.UUID) ([]*Warehouse, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.InventoryWarehousesByIDs(pg.WithShopID(ctx, sh.ID), dbq.InventoryWarehousesByIDsParams{ShopID: sh.ID, Ids: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	by := map[uuid.UUID]*Warehouse{}
	for _, r := range rows {
		by[r.ID] = &Warehouse{ID: r.ID, Name: r.Name, Priority: int(r.Priority)}
	}
	out := make([]*Warehouse, len(ids))
	for i, id := range ids {
		out[i] = by[id]
	}
	return out, nil
}

// Since returns up to limit of a shop's ledger rows after sequence after,
// up to upto (0: no bound), in order: replay for subscribers whose events
// are no longer in the stream. The caller has authorized.
func (s *Service) Since(ctx context.Context, shopID uuid.UUID, after, upto int64, limit int) ([]*Change, error) {
	rows, err := s.q.InventoryLedgerRange(pg.WithShopID(ctx, shopID), dbq.InventoryLedgerRangeParams{ShopID: shopID, After: after, Upto: upto, Lim: int32(limit)})
	if err != nil {
		return nil, pg.MapError(err)
	}
	out := make([]*Change, len(rows))
	for i, r := range rows {
		out[i] = ChangeOf(r)
	}
	return out, nil
}

// LastSequence is the shop's latest committed sequence number.
func (s *Service) LastSequence(ctx context.Context, shopID uuid.UUID) (int64, error) {
	n, err := s.q.InventoryLastSequence(pg.WithShopID(ctx, shopID), shopID)
	return n, pg.MapError(err)
}

// IsNode marks Warehouse as a GraphQL Node.
func (*Warehouse) IsNode() {}

type whEntry struct {
	w  *Warehouse
	at time.Time
}

// WarehouseByID returns one of the context shop's warehouses (nil when
// unknown). Warehouses change rarely and every inventory change names one,
// so they are cached per instance for a few seconds.
func (s *Service) WarehouseByID(ctx context.Context, id uuid.UUID) (*Warehouse, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	key := [2]uuid.UUID{sh.ID, id}
	if v, ok := s.whCache.Load(key); ok && time.Since(v.(whEntry).at) < 10*time.Second {
		return v.(whEntry).w, nil
	}
	ws, err := s.WarehousesByIDs(ctx, []uuid.UUID{id})
	if err != nil {
		return nil, err
	}
	s.whCache.Store(key, whEntry{w: ws[0], at: time.Now()})
	return ws[0], nil
}
