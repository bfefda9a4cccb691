package seed

import (
	"context"
	"fmt"

	"cartograph/internal/auth"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DemoOwnerPassword is the password of the demo shops' owners (printed by
// `make run`; development data only).
const DemoOwnerPassword = "cartograph-demo"

// DemoOwnerEmail is the owner login of a demo shop.
func DemoOwnerEmail(shopHandle string) string { return "owner@" + shopHandle + ".example" }

// DemoStaff creates (idempotently) one owner per demo shop. Run as the
// database owner, like the rest of the seed.
func DemoStaff(ctx context.Context, db *pgxpool.Pool) error {
	for _, h := range DemoShops {
		hash, err := auth.HashPassword(DemoOwnerPassword)
		if err != nil {
			return err
		}
		_, err = db.Exec(ctx, `
			WITH s AS (INSERT INTO staff_users (email, name, password_hash) VALUES ($1, $2, $3)
			           ON CONFLICT (email) DO UPDATE SET name = staff_users.name RETURNING id)
			INSERT INTO staff_memberships (shop_id, staff_id, role)
			SELECT shops.id, s.id, 'owner' FROM shops, s WHERE shops.handle = $4
			ON CONFLICT (shop_id, staff_id) DO NOTHING`,
			DemoOwnerEmail(h), "Demo owner of "+h, hash, h)
		if err != nil {
			return fmt.Errorf("seed staff for %s: %w", h, err)
		}
	}
	return nil
}
