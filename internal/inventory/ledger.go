package inventory

import (
	"context"
	"time"

	"cartograph/internal/auth"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"
	"cartograph/internal/relay"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Quantity names (Shopify's): staff write available and on_hand; reserved
// is what checkouts hold for unpaid orders.
const (
	NameAvailable = "available"
	NameOnHand    = "on_hand"
	NameReserved  = "reserved"
)

// Change is one ledger row: a movement of one level, the quantities after
// it, and why. Sequence orders a shop's changes without gaps, in commit
// order. It is also the event internal/events relays and subscribers get.
type Change struct {
	ShopID      uuid.UUID `json:"s"`
	Sequence    int64     `json:"q"`
	VariantID   uuid.UUID `json:"v"`
	ProductID   uuid.UUID `json:"p"`
	WarehouseID uuid.UUID `json:"w"`
	// Name is the quantity the movement is about; Delta its change.
	Name  string `json:"n"`
	Delta int    `json:"d"`
	// OnHandDelta and ReservedDelta are the exact level changes, so the
	// ledger sums to the level.
	OnHandDelta   int       `json:"od"`
	ReservedDelta int       `json:"rd"`
	OnHand        int       `json:"oh"`
	Reserved      int       `json:"r"`
	Reason        string    `json:"rs"`
	Actor         string    `json:"a"`
	ReferenceURI  *string   `json:"u,omitempty"`
	IdemKey       *string   `json:"k,omitempty"`
	At            time.Time `json:"t"`
	// StockAlert is AlertLow or AlertRestocked when this movement made its
	// variant cross its low-stock threshold (else empty); Availability is
	// AvailabilitySoldOut or AvailabilityAvailable when it flipped the
	// variant between sold out and available. With either: the variant's
	// total available stock after the movement, the threshold in force
	// (-1: none) and whether the product still has a variant in stock.
	StockAlert        string `json:"al,omitempty"`
	Availability      string `json:"av,omitempty"`
	VariantAvailable  int    `json:"va,omitempty"`
	LowStockThreshold int    `json:"lt,omitempty"`
	ProductAvailable  bool   `json:"pa,omitempty"`
}

// Available is on hand minus reserved.
func (c *Change) Available() int { return c.OnHand - c.Reserved }

// QuantityAfterChange is the named quantity after the movement (Shopify's
// InventoryChange.quantityAfterChange).
func (c *Change) QuantityAfterChange() int {
	switch c.Name {
	case NameOnHand:
		return c.OnHand
	case NameReserved:
		return c.Reserved
	}
	return c.Available()
}

// NodeID is the variant's global id (variants stand in for inventory items).
func (c *Change) NodeID() string { return relay.GlobalID("ProductVariant", c.VariantID) }

// LocationNodeID is the warehouse's global id.
func (c *Change) LocationNodeID() string { return relay.GlobalID("Warehouse", c.WarehouseID) }

// ChangeOf maps a ledger row.
func ChangeOf(r dbq.InventoryLedger) *Change {
	c := changeOf(r)
	c.StockAlert, c.Availability = deref(r.StockAlert), deref(r.Availability)
	c.VariantAvailable, c.LowStockThreshold = int(deref(r.VariantAvailable)), int(deref(r.LowStockThreshold))
	c.ProductAvailable = deref(r.ProductAvailable)
	return c
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func changeOf(r dbq.InventoryLedger) *Change {
	return &Change{ShopID: r.ShopID, Sequence: r.Sequence, VariantID: r.VariantID, ProductID: r.ProductID, WarehouseID: r.WarehouseID,
		Name: r.Name, Delta: int(r.Delta), OnHandDelta: int(r.OnHandDelta), ReservedDelta: int(r.ReservedDelta),
		OnHand: int(r.OnHand), Reserved: int(r.Reserved), Reason: r.Reason, Actor: r.Actor,
		ReferenceURI: r.ReferenceDocumentUri, IdemKey: r.IdempotencyKey, At: r.CreatedAt}
}

// meta is why a batch of movements happened.
type meta struct {
	Reason, Actor   string
	RefURI, IdemKey *string
}

func actorOf(ctx context.Context) string {
	return auth.FromContext(ctx).Ref()
}

func orderMeta(ctx context.Context, reason string, orderID uuid.UUID) meta {
	ref := relay.GlobalID("Order", orderID)
	return meta{Reason: reason, Actor: actorOf(ctx), RefURI: &ref}
}

// move is one ledger row to append.
type move struct {
	Level
	Name  string
	Delta int
	flip  flip
}

func movesOf(levels []Level, name string) []move {
	out := make([]move, 0, len(levels))
	for _, l := range levels {
		d := l.OnHandDelta
		if name == NameReserved {
			d = l.ReservedDelta
		}
		out = append(out, move{Level: l, Name: name, Delta: d})
	}
	return out
}

func ledgered(ctx context.Context, tx pgx.Tx, shopID uuid.UUID, m meta, name string, levels []Level, err error) ([]Level, error) {
	if err != nil {
		return nil, err
	}
	if err := appendLedger(ctx, tx, shopID, m, movesOf(levels, name)); err != nil {
		return nil, err
	}
	return levels, nil
}

// appendLedger numbers moves from the shop's counter (locked until the
// transaction ends) and writes their ledger and outbox rows. It runs last
// in every movement, so the counter is held for as short as possible and
// always after the level rows (one lock order: no deadlocks between
// movements).
func appendLedger(ctx context.Context, tx pgx.Tx, shopID uuid.UUID, m meta, moves []move) error {
	if len(moves) == 0 {
		return nil
	}
	if err := evaluateFlips(ctx, tx, shopID, moves); err != nil {
		return err
	}
	q := dbq.New(tx)
	last, err := q.InventorySequenceNext(ctx, dbq.InventorySequenceNextParams{ShopID: shopID, Cnt: int64(len(moves))})
	if err != nil {
		return pg.MapError(err)
	}
	p := dbq.InventoryLedgerAppendParams{ShopID: shopID, FirstSeq: last - int64(len(moves)) + 1, Reason: m.Reason, Actor: m.Actor,
		ReferenceDocumentUri: m.RefURI, IdempotencyKey: m.IdemKey}
	for _, mv := range moves {
		p.VariantIds = append(p.VariantIds, mv.VariantID)
		p.WarehouseIds = append(p.WarehouseIds, mv.WarehouseID)
		p.Names = append(p.Names, mv.Name)
		p.Deltas = append(p.Deltas, int32(mv.Delta))
		p.OnHandDeltas = append(p.OnHandDeltas, int32(mv.OnHandDelta))
		p.ReservedDeltas = append(p.ReservedDeltas, int32(mv.ReservedDelta))
		p.OnHands = append(p.OnHands, int32(mv.OnHand))
		p.Reserveds = append(p.Reserveds, int32(mv.Reserved))
		f := mv.flip
		va, th := int32(-1), int32(-1)
		if f.alert != "" || f.availability != "" {
			va, th = int32(f.available), int32(f.threshold)
		}
		p.StockAlerts = append(p.StockAlerts, f.alert)
		p.Availabilities = append(p.Availabilities, f.availability)
		p.VariantAvailables = append(p.VariantAvailables, va)
		p.Thresholds = append(p.Thresholds, th)
		p.ProductAvailables = append(p.ProductAvailables, f.productAvailable)
	}
	return pg.MapError(q.InventoryLedgerAppend(ctx, p))
}
