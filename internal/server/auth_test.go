package server_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testJWTSecret = "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" // harness: JWT_KEYS=test:<this>

func (e *env) customerLogin(t *testing.T, shop, email, pw string) (token string, userErrors []gqlError) {
	t.Helper()
	var out struct {
		CustomerLogin struct {
			AccessToken *string
			UserErrors  []gqlError
		}
	}
	e.query(t, shop, `mutation($e: String!, $p: String!) { customerLogin(input: {email: $e, password: $p}) { accessToken userErrors { field message code } } }`,
		map[string]any{"e": email, "p": pw}, &out)
	if out.CustomerLogin.AccessToken != nil {
		token = *out.CustomerLogin.AccessToken
	}
	return token, out.CustomerLogin.UserErrors
}

func (e *env) register(t *testing.T, shop, email, pw string) string {
	t.Helper()
	var out struct {
		CustomerRegister struct {
			Customer   *struct{ ID string }
			UserErrors []struct{ Code string }
		}
	}
	e.query(t, shop, `mutation($e: String!, $p: String!) { customerRegister(input: {email: $e, password: $p, firstName: "Jane"}) { customer { id } userErrors { code } } }`,
		map[string]any{"e": email, "p": pw}, &out)
	if out.CustomerRegister.Customer == nil {
		t.Fatalf("register %s at %s: %+v", email, shop, out.CustomerRegister.UserErrors)
	}
	return out.CustomerRegister.Customer.ID
}

func (e *env) staffToken(t *testing.T, shop string) string {
	t.Helper()
	var out struct{ StaffLogin struct{ AccessToken string } }
	e.query(t, shop, `mutation($e: String!) { staffLogin(input: {email: $e, password: "cartograph-demo"}) { accessToken } }`,
		map[string]any{"e": "owner@" + shop + ".example"}, &out)
	return out.StaffLogin.AccessToken
}

// createKey creates an API key at shop as its owner.
func (e *env) createKey(t *testing.T, shop, kind string, extra string) (id, key string) {
	t.Helper()
	tok := e.staffToken(t, shop)
	r := e.do(t, map[string]string{"X-Shop-Handle": shop, "Authorization": "Bearer " + tok},
		`mutation { apiKeyCreate(input: {kind: `+kind+` `+extra+`}) { apiKey { id displayPrefix } key userErrors { message } } }`, nil)
	var out struct {
		APIKeyCreate struct {
			APIKey     *struct{ ID, DisplayPrefix string }
			Key        *string
			UserErrors []gqlError
		}
	}
	if err := json.Unmarshal(r.Data, &out); err != nil || out.APIKeyCreate.Key == nil {
		t.Fatalf("apiKeyCreate: %s %+v", r.Data, r.Errors)
	}
	return out.APIKeyCreate.APIKey.ID, *out.APIKeyCreate.Key
}

func TestCustomersAreScopedToOneShop(t *testing.T) {
	e := newEnv(t, 0)
	e.register(t, "apparel", "jane@example.com", "apparel-secret-1")
	e.register(t, "electronics", "jane@example.com", "gadgets-secret-2")

	t.Run("ErrDuplicateEmailInSameShop", func(t *testing.T) {
		var out struct {
			CustomerRegister struct{ UserErrors []struct{ Code string } }
		}
		e.query(t, "apparel", `mutation { customerRegister(input: {email: "JANE@example.com", password: "whatever-123"}) { userErrors { code } } }`, nil, &out)
		if len(out.CustomerRegister.UserErrors) != 1 || out.CustomerRegister.UserErrors[0].Code != "TAKEN" {
			t.Fatalf("want TAKEN, got %+v", out)
		}
	})
	t.Run("ErrOtherShopsPassword", func(t *testing.T) {
		if tok, ues := e.customerLogin(t, "apparel", "jane@example.com", "gadgets-secret-2"); tok != "" || len(ues) == 0 || ues[0].Message == "" {
			t.Fatalf("login at apparel with electronics' password succeeded")
		}
	})
	tokA, _ := e.customerLogin(t, "apparel", "jane@example.com", "apparel-secret-1")
	tokB, _ := e.customerLogin(t, "electronics", "jane@example.com", "gadgets-secret-2")
	if tokA == "" || tokB == "" {
		t.Fatal("logins failed")
	}
	t.Run("MeIsTheShopsOwnJane", func(t *testing.T) {
		var a, b struct{ Me struct{ ID, Email string } }
		ra := e.do(t, map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + tokA}, `{ me { id email } }`, nil)
		rb := e.do(t, map[string]string{"X-Shop-Handle": "electronics", "Authorization": "Bearer " + tokB}, `{ me { id email } }`, nil)
		_ = json.Unmarshal(ra.Data, &a)
		_ = json.Unmarshal(rb.Data, &b)
		if a.Me.ID == "" || b.Me.ID == "" || a.Me.ID == b.Me.ID {
			t.Fatalf("two shops' Janes must be two customers: %s / %s", a.Me.ID, b.Me.ID)
		}
	})
	t.Run("ErrTokenOfShopARefusedAtShopB", func(t *testing.T) {
		r := e.do(t, map[string]string{"X-Shop-Handle": "electronics", "Authorization": "Bearer " + tokA}, `{ me { id } }`, nil)
		if r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
			t.Fatalf("want 401 UNAUTHENTICATED, got %d %+v", r.Status, r.Errors)
		}
	})
	t.Run("ErrAnonymousMe", func(t *testing.T) {
		r := e.do(t, map[string]string{"X-Shop-Handle": "apparel"}, `{ me { id } }`, nil)
		if r.code() != "UNAUTHENTICATED" {
			t.Fatalf("got %+v", r.Errors)
		}
	})
	t.Run("CustomerCannotListCustomers", func(t *testing.T) {
		r := e.do(t, map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + tokA}, `{ customers(first: 5) { nodes { id } } }`, nil)
		if r.code() != "FORBIDDEN" {
			t.Fatalf("got %+v", r.Errors)
		}
	})
	t.Run("LogoutRevokesToken", func(t *testing.T) {
		tok, _ := e.customerLogin(t, "apparel", "jane@example.com", "apparel-secret-1")
		h := map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + tok}
		if r := e.do(t, h, `mutation { customerLogout { loggedOut } }`, nil); len(r.Errors) > 0 {
			t.Fatalf("logout: %+v", r.Errors)
		}
		if r := e.do(t, h, `{ me { id } }`, nil); r.code() != "UNAUTHENTICATED" {
			t.Fatalf("token still works after logout: %+v", r.Errors)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t, 0)
	pkID, pk := e.createKey(t, "apparel", "PUBLIC", "")
	_, sk := e.createKey(t, "apparel", "SECRET", `scopes: ["catalog:read", "customers:read"]`)

	t.Run("PublicKeyBrowsesItsShop", func(t *testing.T) {
		for _, h := range []map[string]string{{"X-Api-Key": pk}, {"Authorization": "Bearer " + pk}, {"X-Shopify-Storefront-Access-Token": pk}} {
			r := e.do(t, h, `{ shop { name } }`, nil)
			if r.Status != 200 || !strings.Contains(string(r.Data), "Northwind") {
				t.Fatalf("%v: %d %s %+v", h, r.Status, r.Data, r.Errors)
			}
		}
	})
	t.Run("ErrPublicKeyCallingSecretOnlyField", func(t *testing.T) {
		r := e.do(t, map[string]string{"X-Api-Key": pk}, `{ customers(first: 1) { nodes { id } } }`, nil)
		if r.code() != "FORBIDDEN" {
			t.Fatalf("got %+v", r.Errors)
		}
		r = e.do(t, map[string]string{"X-Api-Key": pk}, `mutation { apiKeyCreate(input: {kind: SECRET}) { key } }`, nil)
		if r.code() != "FORBIDDEN" {
			t.Fatalf("pk created a key: %+v", r.Errors)
		}
	})
	t.Run("SecretKeyWithScope", func(t *testing.T) {
		r := e.do(t, map[string]string{"X-Api-Key": sk}, `{ customers(first: 1) { nodes { id } } }`, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("got %+v", r.Errors)
		}
	})
	t.Run("ErrPublicKeyWithSecretScopes", func(t *testing.T) {
		tok := e.staffToken(t, "apparel")
		r := e.do(t, map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + tok},
			`mutation { apiKeyCreate(input: {kind: PUBLIC, scopes: ["orders:read"]}) { key userErrors { code } } }`, nil)
		if !strings.Contains(string(r.Data), "NOT_ALLOWED_FOR_PUBLIC_KEY") || strings.Contains(string(r.Data), `"key":"pk_`) {
			t.Fatalf("got %s", r.Data)
		}
	})
	t.Run("ErrKeyOfAnotherShop", func(t *testing.T) {
		r := e.do(t, map[string]string{"X-Api-Key": pk, "X-Shop-Handle": "electronics"}, `{ shop { name } }`, nil)
		if r.Status != 401 || r.code() != "UNAUTHENTICATED" {
			t.Fatalf("got %d %+v", r.Status, r.Errors)
		}
	})

	bad := map[string]struct{ key, msg string }{
		"ErrWrongPrefix":           {"xk_apparel_" + pk[len(pk)-64:], "pk_ or sk_"},
		"ErrTruncated":             {pk[:len(pk)-5], "malformed"},
		"ErrUnknown":               {pk[:len(pk)-4] + "abcd", "unknown"},
		"ErrSecretInShopifyHeader": {sk, "public (pk_) key only"},
	}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			h := map[string]string{"X-Api-Key": c.key}
			if name == "ErrSecretInShopifyHeader" {
				h = map[string]string{"X-Shopify-Storefront-Access-Token": c.key}
			}
			r := e.do(t, h, `{ shop { name } }`, nil)
			if r.Status != 401 || r.code() != "UNAUTHENTICATED" || !strings.Contains(r.Errors[0].Message, c.msg) {
				t.Fatalf("want 401 mentioning %q, got %d %+v", c.msg, r.Status, r.Errors)
			}
		})
	}

	t.Run("ErrExpired", func(t *testing.T) {
		_, k := e.createKey(t, "apparel", "PUBLIC", "expiresInSeconds: 1")
		if r := e.do(t, map[string]string{"X-Api-Key": k}, `{ shop { name } }`, nil); r.Status != 200 {
			t.Fatalf("fresh key refused: %+v", r.Errors)
		}
		time.Sleep(1100 * time.Millisecond)
		r := e.do(t, map[string]string{"X-Api-Key": k}, `{ shop { name } }`, nil)
		if r.Status != 401 || !strings.Contains(r.Errors[0].Message, "expired") {
			t.Fatalf("expired key: %d %+v", r.Status, r.Errors)
		}
	})

	t.Run("ErrRevokedWithinOneSecondOnEveryInstance", func(t *testing.T) {
		other := newServerOn(t, e) // a second gateway instance, same database and Redis
		id, k := e.createKey(t, "apparel", "PUBLIC", "")
		h := map[string]string{"X-Api-Key": k}
		if r := other.do(t, h, `{ shop { name } }`, nil); r.Status != 200 {
			t.Fatal("other instance refuses a live key")
		}
		tok := e.staffToken(t, "apparel")
		if r := e.do(t, map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + tok}, `mutation($id: ID!) { apiKeyRevoke(id: $id) { apiKey { revokedAt } } }`, map[string]any{"id": id}); len(r.Errors) > 0 {
			t.Fatalf("revoke: %+v", r.Errors)
		}
		if r := e.do(t, h, `{ shop { name } }`, nil); r.Status != 401 || !strings.Contains(r.Errors[0].Message, "revoked") {
			t.Fatalf("revoking instance still accepts: %d %+v", r.Status, r.Errors)
		}
		time.Sleep(1050 * time.Millisecond)
		if r := other.do(t, h, `{ shop { name } }`, nil); r.Status != 401 || !strings.Contains(r.Errors[0].Message, "revoked") {
			t.Fatalf("other instance still accepts after 1s: %d %+v", r.Status, r.Errors)
		}
	})

	t.Run("PlaintextKeyIsNeverStored", func(t *testing.T) {
		var n int
		secret := pk[len(pk)-64:]
		if err := e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM api_keys WHERE position($1 in display_prefix) > 0 OR encode(key_hash, 'hex') = $1 OR name = $2`, secret, pk).Scan(&n); err != nil || n != 0 {
			t.Fatalf("plaintext found in api_keys: %d %v", n, err)
		}
		tok := e.staffToken(t, "apparel")
		r := e.do(t, map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + tok}, `{ apiKeys(first: 50) { nodes { id displayPrefix scopes lastUsedAt } } }`, nil)
		if len(r.Errors) > 0 || strings.Contains(string(r.Data), secret) || !strings.Contains(string(r.Data), pkID) {
			t.Fatalf("apiKeys: %s %+v", r.Data, r.Errors)
		}
	})
}

func TestSessionTokensAreVerified(t *testing.T) {
	e := newEnv(t, 0)
	good := e.staffToken(t, "apparel")
	var shopID string
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT id::text FROM shops WHERE handle = 'apparel'`).Scan(&shopID); err != nil {
		t.Fatal(err)
	}
	// The forged tokens name the real owner: a token for a staff id that
	// does not exist is refused for that reason alone (issue 9).
	var ownerID string
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT id::text FROM staff_users WHERE email = 'owner@apparel.example'`).Scan(&ownerID); err != nil {
		t.Fatal(err)
	}
	claims := func(mut func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "cartograph", "aud": []string{"cartograph-api"}, "sub": ownerID,
			"shop": shopID, "typ": "staff", "role": "owner", "scopes": []string{"apikeys:manage"},
			"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "jti": "x"}
		if mut != nil {
			mut(c)
		}
		return c
	}
	hs := func(c jwt.MapClaims, secret string) string {
		tk := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
		tk.Header["kid"] = "test"
		s, err := tk.SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&rsaKey.PublicKey))})
	none := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"test"}`))
		p, _ := json.Marshal(claims(nil))
		return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
	}
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"role":"owner"`, `"role":"owner","x":1`, 1))) + "." + parts[2]

	if hs(claims(nil), testJWTSecret) == "" {
		t.Fatal("control token")
	}
	cases := map[string]string{
		"ErrAlgNone":                    none(),
		"ErrHSWithRSAPublicKeyAsSecret": hs(claims(nil), string(pubPEM)),
		"ErrRS256":                      must(jwt.NewWithClaims(jwt.SigningMethodRS256, claims(nil)).SignedString(rsaKey)),
		"ErrWrongAudience":              hs(claims(func(c jwt.MapClaims) { c["aud"] = []string{"someone-else"} }), testJWTSecret),
		"ErrWrongIssuer":                hs(claims(func(c jwt.MapClaims) { c["iss"] = "evil" }), testJWTSecret),
		"ErrExpired":                    hs(claims(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), testJWTSecret),
		"ErrNoExpiry":                   hs(claims(func(c jwt.MapClaims) { delete(c, "exp") }), testJWTSecret),
		"ErrWrongSecret":                hs(claims(nil), strings.Repeat("x", 40)),
		"ErrTamperedPayload":            tampered,
		"ErrGarbage":                    "not.a.jwt",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.do(t, map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + tok}, `{ apiKeys(first: 1) { nodes { id } } }`, nil)
			if r.Status != 401 || r.code() != "UNAUTHENTICATED" {
				t.Fatalf("want 401 UNAUTHENTICATED, got %d %+v", r.Status, r.Errors)
			}
		})
	}
	t.Run("ControlForgedWithRightSecretIsAccepted", func(t *testing.T) {
		// Proves the cases above fail for the reason named, not because the
		// harness cannot make a valid token.
		r := e.do(t, map[string]string{"X-Shop-Handle": "apparel", "Authorization": "Bearer " + hs(claims(nil), testJWTSecret)}, `{ apiKeys(first: 1) { nodes { id } } }`, nil)
		if r.Status != 200 || len(r.Errors) > 0 {
			t.Fatalf("control: %d %+v", r.Status, r.Errors)
		}
	})
	t.Run("StaffRefreshRotates", func(t *testing.T) {
		var out struct{ StaffLogin struct{ RefreshToken string } }
		e.query(t, "apparel", `mutation { staffLogin(input: {email: "owner@apparel.example", password: "cartograph-demo"}) { refreshToken } }`, nil, &out)
		q := `mutation($r: String!) { staffTokenRefresh(refreshToken: $r) { accessToken } }`
		if r := e.do(t, map[string]string{"X-Shop-Handle": "apparel"}, q, map[string]any{"r": out.StaffLogin.RefreshToken}); len(r.Errors) > 0 {
			t.Fatalf("first refresh: %+v", r.Errors)
		}
		if r := e.do(t, map[string]string{"X-Shop-Handle": "apparel"}, q, map[string]any{"r": out.StaffLogin.RefreshToken}); r.code() != "UNAUTHENTICATED" {
			t.Fatalf("refresh token reused: %+v", r.Errors)
		}
	})
	t.Run("ErrStaffOfAnotherShop", func(t *testing.T) {
		r := e.do(t, map[string]string{"X-Shop-Handle": "electronics"}, `mutation { staffLogin(input: {email: "owner@apparel.example", password: "cartograph-demo"}) { accessToken } }`, nil)
		if r.code() != "UNAUTHENTICATED" {
			t.Fatalf("apparel's owner logged in at electronics: %+v", r.Errors)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
