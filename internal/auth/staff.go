package auth

import (
	"context"
	"fmt"

	"cartograph/internal/dbq"
	"cartograph/internal/pg"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnsureOwner creates (idempotently) a staff user with password and makes
// them owner of the shop. For the operator's seed and bootstrap commands:
// it checks no principal. An existing user keeps their name and password.
func EnsureOwner(ctx context.Context, db *pgxpool.Pool, shopID uuid.UUID, email, name, password string) error {
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return pg.WithTx(ctx, db, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		u, err := q.StaffCreate(ctx, dbq.StaffCreateParams{Email: email, Name: name, PasswordHash: hash})
		if err != nil {
			return fmt.Errorf("staff user %s: %w", email, pg.MapError(err))
		}
		if err := pg.SetTenant(ctx, tx, shopID); err != nil {
			return err
		}
		return pg.MapError(q.MembershipUpsert(ctx, dbq.MembershipUpsertParams{ShopID: shopID, StaffID: u.ID, Role: "owner", Scopes: []string{}}))
	})
}
