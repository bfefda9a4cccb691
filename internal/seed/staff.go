package seed

import (
	"context"
	"fmt"

	"cartograph/internal/auth"
	"cartograph/internal/shop"

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
	shops := shop.NewResolver(db, "", "", 0)
	for _, h := range DemoShops {
		sh, err := shops.ByHandle(ctx, h)
		if err != nil {
			return fmt.Errorf("seed staff for %s: %w", h, err)
		}
		if err := auth.EnsureOwner(ctx, db, sh.ID, DemoOwnerEmail(h), "Demo owner of "+h, DemoOwnerPassword); err != nil {
			return fmt.Errorf("seed staff for %s: %w", h, err)
		}
	}
	return nil
}
