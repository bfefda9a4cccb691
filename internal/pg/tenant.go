package pg

import (
	"context"

	"cartograph/internal/apperr"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

type shopKey struct{}

// WithShopID returns ctx whose tenant queries run with app.shop_id = id.
// internal/shop calls it when it resolves the request's shop.
func WithShopID(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, shopKey{}, id)
}

// ShopIDFrom returns the tenant set by WithShopID.
func ShopIDFrom(ctx context.Context) (uuid.UUID, bool) {
	id, ok := ctx.Value(shopKey{}).(uuid.UUID)
	return id, ok
}

// setShop is sent in the same pipeline as each tenant statement: is_local =
// true scopes it to the implicit transaction the batch runs in, so it can
// never leak to the next user of the pooled connection.
const setShop = "SELECT set_config('app.shop_id', $1, true)"

// Tenant runs every statement with the context's shop as app.shop_id, which
// the row-level security policies compare against each row's shop_id. The
// setting and the statement travel in one pgx batch: one round trip, one
// implicit transaction. A context without a shop gets SHOP_NOT_FOUND rather
// than silently reading nothing. Tenant satisfies sqlc's DBTX.
type Tenant struct{ Pool *pgxpool.Pool }

func shopOf(ctx context.Context) (string, error) {
	id, ok := ShopIDFrom(ctx)
	if !ok {
		return "", apperr.New(apperr.ShopNotFound, "no shop in context for a tenant query")
	}
	return id.String(), nil
}

// Query runs sql with the tenant set.
func (t Tenant) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	shopID, err := shopOf(ctx)
	if err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	b.Queue(setShop, shopID)
	b.Queue(sql, args...)
	br := t.Pool.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// QueryRow runs sql with the tenant set and returns its single row.
func (t Tenant) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := t.Query(ctx, sql, args...)
	return &row{rows: rows, err: err}
}

// Exec runs sql with the tenant set.
func (t Tenant) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	shopID, err := shopOf(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	b := &pgx.Batch{}
	b.Queue(setShop, shopID)
	b.Queue(sql, args...)
	br := t.Pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return pgconn.CommandTag{}, err
	}
	return br.Exec()
}

// CopyFrom is not supported outside a transaction; use WithTenantTx.
func (t Tenant) CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error) {
	return 0, apperr.New(apperr.Internal, "pg: CopyFrom needs WithTenantTx")
}

// SetTenant sets app.shop_id for the rest of tx (for transactions that
// learn their shop from the rows they read, like the expiry sweeper).
func SetTenant(ctx context.Context, tx pgx.Tx, shopID uuid.UUID) error {
	_, err := tx.Exec(ctx, setShop, shopID.String())
	return MapError(err)
}

// WithTenantTx runs fn in a transaction whose app.shop_id is the context's
// shop (committed when fn returns nil, rolled back otherwise).
func WithTenantTx(ctx context.Context, db *pgxpool.Pool, fn func(pgx.Tx) error) error {
	shopID, ok := ShopIDFrom(ctx)
	if !ok {
		return apperr.New(apperr.ShopNotFound, "no shop in context for a tenant query")
	}
	return WithTx(ctx, db, func(tx pgx.Tx) error {
		if err := SetTenant(ctx, tx, shopID); err != nil {
			return err
		}
		return fn(tx)
	})
}

type batchRows struct {
	pgx.Rows
	br     pgx.BatchResults
	closed bool
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if !r.closed {
		r.closed = true
		_ = r.br.Close()
	}
}

func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

type row struct {
	rows pgx.Rows
	err  error
}

func (r *row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}
