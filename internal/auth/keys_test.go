package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/seed"
	"cartograph/internal/shop"
	"cartograph/internal/testdb"
)

func TestKeyLastUseIsRecordedOffThePath(t *testing.T) {
	db := testdb.New(t, "auth")
	ctx := context.Background()
	if err := seed.Demo(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	sh, err := shop.NewResolver(db.App, "", "", time.Second).ByHandle(ctx, "apparel")
	if err != nil {
		t.Fatal(err)
	}
	keys := auth.NewKeys(db.App)
	svc := auth.NewKeyAdmin(db.App, keys, 100)
	row, plain, ues, err := svc.CreateKey(ctx, sh, auth.KeyInput{Kind: "public"}, nil)
	if err != nil || len(ues) > 0 {
		t.Fatalf("create: %v %+v", err, ues)
	}
	if !strings.HasPrefix(plain, "pk_apparel_") || len(plain) != len("pk_apparel_")+64 {
		t.Fatalf("key format: %q", plain)
	}
	if _, err := keys.Verify(ctx, plain); err != nil {
		t.Fatal(err)
	}
	var used *time.Time
	_ = db.Pool.QueryRow(ctx, `SELECT last_used_at FROM api_keys WHERE id = $1`, row.ID).Scan(&used)
	if used != nil {
		t.Fatal("last use written on the request path")
	}
	if err := keys.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	_ = db.Pool.QueryRow(ctx, `SELECT last_used_at FROM api_keys WHERE id = $1`, row.ID).Scan(&used)
	if used == nil || time.Since(*used) > time.Minute {
		t.Fatalf("last use not flushed: %v", used)
	}
	t.Run("ErrRevokedAfterCacheExpiry", func(t *testing.T) {
		other := auth.NewKeys(db.App) // another instance with its own cache
		if _, err := other.Verify(ctx, plain); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.RevokeKey(ctx, sh.ID, row.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(auth.KeyCacheTTL + 50*time.Millisecond)
		if _, err := other.Verify(ctx, plain); apperr.CodeOf(err) != apperr.Unauthenticated {
			t.Fatalf("revoked key still verifies after %v: %v", auth.KeyCacheTTL, err)
		}
	})
}

func TestPasswords(t *testing.T) {
	h, err := auth.HashPassword("correct horse")
	if err != nil || !strings.HasPrefix(h, "$argon2id$") {
		t.Fatalf("hash %q %v", h, err)
	}
	if !auth.CheckPassword(h, "correct horse") || auth.CheckPassword(h, "correct horsE") || auth.CheckPassword("garbage", "x") {
		t.Fatal("password check wrong")
	}
	h2, _ := auth.HashPassword("correct horse")
	if h2 == h {
		t.Fatal("salt not random")
	}
}
