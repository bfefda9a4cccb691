package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"cartograph/internal/auth"

	"github.com/google/uuid"
)

// addStaff makes a non-owner staff member of shop holding scopes and
// returns a session token for them.
func (e *env) addStaff(t *testing.T, shop, email string, scopes []string) (staffID, token string) {
	t.Helper()
	ctx := context.Background()
	hash, err := auth.HashPassword("staff-password-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.Pool.QueryRow(ctx, `INSERT INTO staff_users (email, name, password_hash) VALUES ($1, 'Staff', $2) RETURNING id::text`, email, hash).Scan(&staffID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Pool.Exec(ctx, `INSERT INTO staff_memberships (shop_id, staff_id, role, scopes) SELECT id, $2, 'staff', $3 FROM shops WHERE handle = $1`, shop, staffID, scopes); err != nil {
		t.Fatal(err)
	}
	var out struct{ StaffLogin struct{ AccessToken string } }
	e.query(t, shop, `mutation($e: String!) { staffLogin(input: {email: $e, password: "staff-password-1"}) { accessToken } }`, map[string]any{"e": email}, &out)
	if out.StaffLogin.AccessToken == "" {
		t.Fatal("staff login failed")
	}
	return staffID, out.StaffLogin.AccessToken
}

func TestKeyScopesCannotEscalate(t *testing.T) {
	e := newEnv(t, 0)
	_, tok := e.addStaff(t, "apparel", "keys-only@apparel.example", []string{"apikeys:manage"})
	h := map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + tok}
	create := func(h map[string]string, input string) *gqlResponse {
		return e.do(t, h, `mutation { apiKeyCreate(input: {`+input+`}) { apiKey { id } key userErrors { message } } }`, nil)
	}
	for name, input := range map[string]string{
		"ErrAllScopesBySecretDefault":  `kind: SECRET`,
		"ErrScopeTheCreatorLacks":      `kind: SECRET, scopes: ["orders:write"]`,
		"ErrApikeysManageByNonOwner":   `kind: SECRET, scopes: ["apikeys:manage"]`,
		"ErrPublicKeyScopesNotHeldToo": `kind: PUBLIC`,
	} {
		t.Run(name, func(t *testing.T) {
			if r := create(h, input); r.code() != "FORBIDDEN" || strings.Contains(string(r.Data), `"key":"`) {
				t.Fatalf("escalation not refused: %s %+v", r.Data, r.Errors)
			}
		})
	}
	t.Run("OwnerMayGrantWhatTheyHold", func(t *testing.T) {
		if r := create(e.staff(t, "apparel"), `kind: SECRET, scopes: ["orders:read", "apikeys:manage"]`); len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"key":"sk_`) {
			t.Fatalf("owner: %s %+v", r.Data, r.Errors)
		}
	})
}

// TestRemovedMemberLosesAccessEverywhere: removing a membership ends the
// member's session on every instance within a second, and revokes the
// keys they created.
func TestRemovedMemberLosesAccessEverywhere(t *testing.T) {
	a := newEnv(t, 0)
	b := newServerOn(t, a)
	staffID, tok := a.addStaff(t, "apparel", "leaver@apparel.example", []string{"orders:read", "apikeys:manage", "catalog:read"})
	h := map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + tok}
	r := a.do(t, h, `mutation { apiKeyCreate(input: {kind: SECRET, scopes: ["orders:read"]}) { key } }`, nil)
	var out struct{ APIKeyCreate struct{ Key string } }
	mustData(t, r, &out)
	key := out.APIKeyCreate.Key
	kh := map[string]string{"X-Api-Key": key}
	if r := b.do(t, h, `{ orders(first: 1) { nodes { id } } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("member before removal: %+v", r.Errors)
	}
	if r := b.do(t, kh, `{ orders(first: 1) { nodes { id } } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("their key before removal: %+v", r.Errors)
	}
	if _, err := a.db.Pool.Exec(context.Background(), `DELETE FROM staff_memberships WHERE staff_id = $1`, staffID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(auth.PrincipalCacheTTL + 100*time.Millisecond)
	if r := b.do(t, h, `{ orders(first: 1) { nodes { id } } }`, nil); r.Status != http.StatusUnauthorized && r.code() != "UNAUTHENTICATED" {
		t.Fatalf("removed member still served on B: %d %+v", r.Status, r.Errors)
	}
	if r := b.do(t, kh, `{ orders(first: 1) { nodes { id } } }`, nil); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("key of a removed member still works on B: %d %+v", r.Status, r.Errors)
	}
}

func TestTokenForUnknownStaffRefused(t *testing.T) {
	e := newEnv(t, 0)
	signer, err := auth.NewSigner("test:" + strings.Repeat("k", 40))
	if err != nil {
		t.Fatal(err)
	}
	var shopID string
	_ = e.db.Pool.QueryRow(context.Background(), `SELECT id::text FROM shops WHERE handle = 'apparel'`).Scan(&shopID)
	tok := forgeStaffToken(t, signer, shopID)
	r := e.do(t, map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + tok}, `{ orders(first: 1) { nodes { id } } }`, nil)
	if r.code() != "UNAUTHENTICATED" {
		t.Fatalf("a validly signed token for a staff id that does not exist was accepted: %+v", r.Errors)
	}
}

func TestPublishedJWTSecretRefused(t *testing.T) {
	if _, err := auth.NewSigner("compose:change-me-to-a-long-random-secret-of-32-bytes-or-more"); err == nil {
		t.Fatal("the compose file's example secret was accepted")
	}
	if _, err := auth.NewSigner("k:short"); err == nil {
		t.Fatal("a short secret was accepted")
	}
}

func forgeStaffToken(t *testing.T, signer *auth.Signer, shopID string) string {
	t.Helper()
	tok, _, err := signer.Sign("staff", uuid.New(), uuid.MustParse(shopID), "owner", auth.AllScopes, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
