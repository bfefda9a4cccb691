package inventory

import (
	"context"
	"errors"

	"cartograph/internal/dbq"
	"cartograph/internal/pg"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrRelayBusy means another relay (this or another instance) holds the
// shop's outbox right now.
var ErrRelayBusy = errors.New("inventory: outbox busy")

// OutboxShops lists up to limit shops with events waiting for the relay.
// Only internal/events calls it.
func OutboxShops(ctx context.Context, db *pgxpool.Pool, limit int) ([]uuid.UUID, error) {
	ids, err := dbq.New(db).InventoryOutboxShops(ctx, int32(limit))
	return ids, pg.MapError(err)
}

// RelayOutbox hands up to limit of a shop's waiting events, oldest first,
// to publish, and deletes them from the outbox when publish succeeds — all
// under a per-shop transaction-scoped advisory lock, so one relay at a time
// drains a shop, in sequence order, on any number of instances. When
// publish fails nothing is deleted and the events are offered again later
// (publish must therefore be idempotent by sequence). ErrRelayBusy when
// another relay holds the shop. Only internal/events calls it.
func RelayOutbox(ctx context.Context, db *pgxpool.Pool, shopID uuid.UUID, limit int, publish func([]*Change) error) (int, error) {
	n := 0
	err := pg.WithTx(ctx, db, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		ok, err := q.InventoryOutboxTryLock(ctx, "inventory_outbox:"+shopID.String())
		if err != nil {
			return pg.MapError(err)
		}
		if !ok {
			return ErrRelayBusy
		}
		if err := pg.SetTenant(ctx, tx, shopID); err != nil {
			return err
		}
		rows, err := q.InventoryOutboxPending(ctx, dbq.InventoryOutboxPendingParams{ShopID: shopID, Lim: int32(limit)})
		if err != nil {
			return pg.MapError(err)
		}
		if len(rows) == 0 {
			return nil
		}
		changes := make([]*Change, len(rows))
		for i, r := range rows {
			changes[i] = ChangeOf(r)
		}
		if err := publish(changes); err != nil {
			return err
		}
		n = len(rows)
		return pg.MapError(q.InventoryOutboxDelete(ctx, dbq.InventoryOutboxDeleteParams{ShopID: shopID, Upto: rows[len(rows)-1].Sequence}))
	})
	return n, err
}
