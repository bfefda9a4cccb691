// Package inventory is the single code path for stock movements: reserve
// (checkout), commit (payment succeeded), release (payment failed,
// cancelled or expired), restock (paid order cancelled), and the staff
// movements adjust, set and transfer (Service). Each runs inside one
// transaction — the caller's for order movements — and appends, in that same
// transaction, one ledger row per level it changed (numbered by the shop's
// gap-free sequence) and one outbox row per ledger row; internal/events
// relays the outbox to Redis once the transaction has committed. So an
// event exists if and only if its movement committed.
package inventory

import (
	"context"
	"slices"

	"cartograph/internal/dbq"
	"cartograph/internal/pg"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Line is a quantity of one variant.
type Line struct {
	VariantID uuid.UUID
	Quantity  int
}

// Shortage names a line that cannot be reserved in full.
type Shortage struct {
	VariantID uuid.UUID
	Requested int
	Available int
}

// Level is a stock level after a movement. OnHandDelta and ReservedDelta
// are what the movement changed (also written to the ledger).
type Level struct {
	VariantID, WarehouseID     uuid.UUID
	OnHand, Reserved           int
	OnHandDelta, ReservedDelta int
}

// Observer is told of every committed movement's new levels (the
// live-inventory publisher subscribes here). Called after the caller's
// transaction commits, via the hook returned by Reserve/Commit/Release.
type Observer func(ctx context.Context, shopID uuid.UUID, levels []Level)

// Reserve reserves every line for order, drawing from warehouses in
// priority order and splitting a line across warehouses when needed. It is
// all-or-nothing: when any line falls short, it returns the shortages and
// reserves nothing that the caller commits (the caller rolls back). Lines
// are locked in variant order so concurrent checkouts cannot deadlock.
func Reserve(ctx context.Context, tx pgx.Tx, shopID, orderID uuid.UUID, lines []Line) ([]Shortage, []Level, error) {
	q := dbq.New(tx)
	merged := map[uuid.UUID]int{}
	for _, l := range lines {
		merged[l.VariantID] += l.Quantity
	}
	ids := make([]uuid.UUID, 0, len(merged))
	for id := range merged {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	var short []Shortage
	var levels []Level
	for _, vid := range ids {
		want := merged[vid]
		rows, err := q.InventoryLockVariant(ctx, dbq.InventoryLockVariantParams{ShopID: shopID, VariantID: vid})
		if err != nil {
			return nil, nil, pg.MapError(err)
		}
		avail := 0
		for _, r := range rows {
			avail += int(max(r.OnHand-r.Reserved, 0))
		}
		if avail < want {
			short = append(short, Shortage{VariantID: vid, Requested: want, Available: avail})
			continue
		}
		if len(short) > 0 {
			continue // the checkout will roll back; do not reserve further
		}
		left := want
		for _, r := range rows {
			if left == 0 {
				break
			}
			take := min(int(r.OnHand-r.Reserved), left)
			if take <= 0 {
				continue
			}
			n, err := q.InventoryReserve(ctx, dbq.InventoryReserveParams{Qty: int32(take), ShopID: shopID, VariantID: vid, WarehouseID: r.WarehouseID})
			if err != nil {
				return nil, nil, pg.MapError(err)
			}
			if n != 1 { // impossible while the rows are locked; refuse rather than oversell
				short = append(short, Shortage{VariantID: vid, Requested: want, Available: avail})
				break
			}
			if err := q.ReservationInsert(ctx, dbq.ReservationInsertParams{ShopID: shopID, OrderID: orderID, VariantID: vid, WarehouseID: r.WarehouseID, Quantity: int32(take)}); err != nil {
				return nil, nil, pg.MapError(err)
			}
			levels = append(levels, Level{VariantID: vid, WarehouseID: r.WarehouseID, OnHand: int(r.OnHand), Reserved: int(r.Reserved) + take, ReservedDelta: take})
			left -= take
		}
	}
	if len(short) > 0 {
		return short, levels, nil
	}
	if err := appendLedger(ctx, tx, shopID, orderMeta(ctx, "reservation_created", orderID), movesOf(levels, NameReserved)); err != nil {
		return nil, nil, err
	}
	return short, levels, nil
}

// Commit turns an order's reservations into shipped stock (on_hand and
// reserved both drop). Idempotent: already committed or released
// reservations are untouched.
func Commit(ctx context.Context, tx pgx.Tx, shopID, orderID uuid.UUID) ([]Level, error) {
	rows, err := dbq.New(tx).InventoryCommitOrder(ctx, dbq.InventoryCommitOrderParams{ShopID: shopID, OrderID: orderID})
	levels, err := levelsOf(rows, err, func(r dbq.InventoryCommitOrderRow) Level {
		q := int(r.Quantity)
		return Level{VariantID: r.VariantID, WarehouseID: r.WarehouseID, OnHand: int(r.OnHand), Reserved: int(r.Reserved), OnHandDelta: -q, ReservedDelta: -q}
	})
	return ledgered(ctx, tx, shopID, orderMeta(ctx, "order_committed", orderID), NameOnHand, levels, err)
}

// Release puts an order's reserved units back on sale. Idempotent.
func Release(ctx context.Context, tx pgx.Tx, shopID, orderID uuid.UUID) ([]Level, error) {
	rows, err := dbq.New(tx).InventoryReleaseOrder(ctx, dbq.InventoryReleaseOrderParams{ShopID: shopID, OrderID: orderID})
	levels, err := levelsOf(rows, err, func(r dbq.InventoryReleaseOrderRow) Level {
		return Level{VariantID: r.VariantID, WarehouseID: r.WarehouseID, OnHand: int(r.OnHand), Reserved: int(r.Reserved), ReservedDelta: -int(r.Quantity)}
	})
	return ledgered(ctx, tx, shopID, orderMeta(ctx, "reservation_deleted", orderID), NameReserved, levels, err)
}

func levelsOf[R any](rows []R, err error, f func(R) Level) ([]Level, error) {
	if err != nil {
		return nil, pg.MapError(err)
	}
	out := make([]Level, len(rows))
	for i, r := range rows {
		out[i] = f(r)
	}
	return out, nil
}

// Restock puts an order's committed units back on hand (a paid order
// cancelled before it shipped). Idempotent.
func Restock(ctx context.Context, tx pgx.Tx, shopID, orderID uuid.UUID) ([]Level, error) {
	rows, err := dbq.New(tx).InventoryRestockOrder(ctx, dbq.InventoryRestockOrderParams{ShopID: shopID, OrderID: orderID})
	levels, err := levelsOf(rows, err, func(r dbq.InventoryRestockOrderRow) Level {
		return Level{VariantID: r.VariantID, WarehouseID: r.WarehouseID, OnHand: int(r.OnHand), Reserved: int(r.Reserved), OnHandDelta: int(r.Quantity)}
	})
	return ledgered(ctx, tx, shopID, orderMeta(ctx, "restock", orderID), NameOnHand, levels, err)
}
