package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/dbq"
	"cartograph/internal/metrics"
	"cartograph/internal/pg"
	"cartograph/internal/ratelimit"
	"cartograph/internal/relay"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Settings are the auth service's tunables (from internal/config).
type Settings struct {
	StaffTokenTTL    time.Duration
	RefreshTokenTTL  time.Duration
	CustomerTokenTTL time.Duration
	// LoginPerMinute limits login attempts per (shop, email); the per-IP
	// limit is four times that.
	LoginPerMinute int
	// DefaultKeyRateLimit is requests/minute for keys created without one.
	DefaultKeyRateLimit int
}

// CustomerCredentials looks up a customer's password hash for login (a
// *customers.Service; customers own that table).
type CustomerCredentials interface {
	Credentials(ctx context.Context, shopID uuid.UUID, email string) (id uuid.UUID, hash string, ok bool, err error)
	Exists(ctx context.Context, shopID, id uuid.UUID) (bool, error)
}

// Service implements sessions, registration and API key management. Every
// method authorizes first, with the shop taken from the context.
type Service struct {
	db      *pgxpool.Pool
	tenant  *dbq.Queries
	global  *dbq.Queries
	signer  *Signer
	keys    *Keys
	limiter *ratelimit.Limiter
	rdb     redis.UniversalClient
	set     Settings
	now     func() time.Time
	admin   *KeyAdmin
	// members and customerSeen cache principal checks for a second.
	members, customerSeen principalCache
	// customers answers customer logins; set by UseCustomers.
	customers CustomerCredentials

	revOnce  sync.Once
	revCache *lru.Cache[string, revocation]
}

// UseCustomers wires the customer store that customer logins check.
func (s *Service) UseCustomers(c CustomerCredentials) { s.customers = c }

// NewService wires the auth service over the application pool.
func NewService(db *pgxpool.Pool, rdb redis.UniversalClient, signer *Signer, keys *Keys, limiter *ratelimit.Limiter, set Settings) *Service {
	return &Service{db: db, tenant: dbq.New(pg.Tenant{Pool: db}), global: dbq.New(db), signer: signer, keys: keys,
		limiter: limiter, rdb: rdb, set: set, now: time.Now, admin: NewKeyAdmin(db, keys, set.DefaultKeyRateLimit)}
}

// KeyAdmin creates, lists and revokes API keys without looking at a
// request principal: the operator's command line (`cartograph keys`) and
// the authorized Service methods above it. It is the only writer of
// api_keys and api_key_index.
type KeyAdmin struct {
	db               *pgxpool.Pool
	tenant, global   *dbq.Queries
	keys             *Keys
	defaultRateLimit int
	now              func() time.Time
}

// NewKeyAdmin returns a key administrator; keys (may be nil) is this
// instance's verifier, told to forget revoked keys at once.
func NewKeyAdmin(db *pgxpool.Pool, keys *Keys, defaultRateLimit int) *KeyAdmin {
	return &KeyAdmin{db: db, tenant: dbq.New(pg.Tenant{Pool: db}), global: dbq.New(db), keys: keys, defaultRateLimit: defaultRateLimit, now: time.Now}
}

// Session is an issued access token (and, for staff, a refresh token).
type Session struct {
	AccessToken  string
	ExpiresAt    time.Time
	RefreshToken string
	CustomerID   uuid.UUID
	StaffID      uuid.UUID
	Role         string
	Scopes       []string
}

type ipKey struct{}

// WithClientIP records the caller's IP for per-IP limits.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, ipKey{}, ip)
}

// ClientIP is the caller's IP recorded by WithClientIP ("" when unknown).
func ClientIP(ctx context.Context) string { return clientIP(ctx) }

func clientIP(ctx context.Context) string {
	ip, _ := ctx.Value(ipKey{}).(string)
	return ip
}

func (s *Service) throttleLogin(ctx context.Context, shopID uuid.UUID, email string) error {
	if err := s.limiter.Allow(ctx, ratelimit.Key("login", shopID.String(), NormalizeEmail(email)), s.set.LoginPerMinute); err != nil {
		return err
	}
	return s.limiter.Allow(ctx, ratelimit.Key("loginip", clientIP(ctx)), s.set.LoginPerMinute*4)
}

func randomToken() (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	t := hex.EncodeToString(b)
	return t, HashKey(t), nil
}

// StaffLogin checks a staff member's password and membership of the
// request's shop and issues a short access token plus a refresh token.
// Wrong email, wrong password and "not staff of this shop" are the same
// UNAUTHENTICATED answer.
func (s *Service) StaffLogin(ctx context.Context, email, password string) (*Session, error) {
	email = NormalizeEmail(email)
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.throttleLogin(ctx, sh.ID, email); err != nil {
		return nil, err
	}
	invalid := apperr.New(apperr.Unauthenticated, "invalid email or password")
	u, err := s.global.StaffByEmail(ctx, email)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := VerifyPassword(ctx, dummyHash(), password); err != nil {
			return nil, err
		}
		return nil, invalid
	}
	if err != nil {
		return nil, pg.MapError(err)
	}
	if ok, err := VerifyPassword(ctx, u.PasswordHash, password); err != nil {
		return nil, err
	} else if !ok {
		return nil, invalid
	}
	return s.staffSession(ctx, sh.ID, u.ID, invalid)
}

func (s *Service) staffSession(ctx context.Context, shopID, staffID uuid.UUID, notMember error) (*Session, error) {
	m, err := s.tenant.MembershipGet(ctx, dbq.MembershipGetParams{ShopID: shopID, StaffID: staffID})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notMember
	}
	if err != nil {
		return nil, pg.MapError(err)
	}
	scopes := m.Scopes
	if m.Role == "owner" {
		scopes = AllScopes
	}
	now := s.now()
	tok, claims, err := s.signer.Sign("staff", staffID, shopID, m.Role, scopes, s.set.StaffTokenTTL, now)
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Internal, "signing token")
	}
	refresh, hash, err := randomToken()
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Internal, "refresh token")
	}
	if err := s.tenant.RefreshTokenCreate(ctx, dbq.RefreshTokenCreateParams{ShopID: shopID, StaffID: staffID, TokenHash: hash, ExpiresAt: now.Add(s.set.RefreshTokenTTL)}); err != nil {
		return nil, pg.MapError(err)
	}
	return &Session{AccessToken: tok, ExpiresAt: claims.ExpiresAt.Time, RefreshToken: refresh, StaffID: staffID, Role: m.Role, Scopes: scopes}, nil
}

// StaffRefresh exchanges a refresh token (once: it is rotated) for a new
// session at the request's shop.
func (s *Service) StaffRefresh(ctx context.Context, refreshToken string) (*Session, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	invalid := apperr.New(apperr.Unauthenticated, "invalid or expired refresh token")
	staffID, err := s.tenant.RefreshTokenUse(ctx, dbq.RefreshTokenUseParams{ShopID: sh.ID, TokenHash: HashKey(refreshToken)})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, invalid
	}
	if err != nil {
		return nil, pg.MapError(err)
	}
	return s.staffSession(ctx, sh.ID, staffID, invalid)
}

// CustomerLogin checks a customer's password at the request's shop (and only
// there) and issues an access token bound to that shop.
func (s *Service) CustomerLogin(ctx context.Context, email, password string) (*Session, []apperr.UserError, error) {
	email = NormalizeEmail(email)
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := s.throttleLogin(ctx, sh.ID, email); err != nil {
		return nil, nil, err
	}
	unidentified := []apperr.UserError{{Field: []string{"input"}, Message: "Unidentified customer", Code: "UNIDENTIFIED_CUSTOMER"}}
	if s.customers == nil {
		return nil, nil, apperr.New(apperr.Internal, "customer logins are not wired")
	}
	id, hash, ok, err := s.customers.Credentials(ctx, sh.ID, email)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		hash = dummyHash()
	}
	if match, err := VerifyPassword(ctx, hash, password); err != nil {
		return nil, nil, err
	} else if !ok || !match {
		return nil, unidentified, nil
	}
	tok, claims, err := s.signer.Sign("customer", id, sh.ID, "", CustomerScopes, s.set.CustomerTokenTTL, s.now())
	if err != nil {
		return nil, nil, apperr.Wrap(err, apperr.Internal, "signing token")
	}
	return &Session{AccessToken: tok, ExpiresAt: claims.ExpiresAt.Time, CustomerID: id, Scopes: CustomerScopes}, nil, nil
}

func denyKey(jti string) string { return "jwt:deny:" + jti }

// revokedNegativeTTL is how long this instance trusts "not logged out"
// without asking PostgreSQL again (Redis, when up, tells every instance at
// once; this bounds the delay after a Redis restart lost the deny-list).
const revokedNegativeTTL = 2 * time.Second

// maxRevocationCache bounds the per-instance revocation cache.
const maxRevocationCache = 50000

type revocation struct {
	revoked bool
	until   time.Time
}

// CustomerLogout revokes the calling customer's session token until it
// would have expired: durably in PostgreSQL (survives a Redis restart),
// then in the Redis deny-list (every instance sees it at once) and this
// instance's cache.
func (s *Service) CustomerLogout(ctx context.Context) error {
	p := FromContext(ctx)
	if p.Kind != Customer {
		return apperr.New(apperr.Forbidden, "only a customer session can log out")
	}
	until := s.now().Add(s.set.CustomerTokenTTL + time.Minute)
	if err := s.tenant.SessionRevoke(ctx, dbq.SessionRevokeParams{ShopID: p.ShopID, Jti: p.TokenID, ExpiresAt: until}); err != nil {
		return pg.MapError(err)
	}
	s.revocations().Add(p.TokenID, revocation{revoked: true, until: until})
	rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := s.rdb.Set(rctx, denyKey(p.TokenID), "1", s.set.CustomerTokenTTL+time.Minute).Err(); err != nil {
		metrics.RedisError("session") // durable already; other instances learn within revokedNegativeTTL
	}
	if s.now().UnixNano()%64 == 0 { // now and then, drop the shop's expired rows
		_ = s.tenant.SessionRevocationsPurge(ctx, p.ShopID)
	}
	return nil
}

func (s *Service) revocations() *lru.Cache[string, revocation] {
	s.revOnce.Do(func() { s.revCache, _ = lru.New[string, revocation](maxRevocationCache) })
	return s.revCache
}

// Revoked reports whether a session token id was logged out; ctx must
// carry the token's shop. It asks this instance's cache, then Redis (when
// reachable), then PostgreSQL, which is the durable record.
// SERVICE_UNAVAILABLE when PostgreSQL cannot answer.
func (s *Service) Revoked(ctx context.Context, jti string) (bool, error) {
	now := s.now()
	cache := s.revocations()
	c, cached := cache.Get(jti)
	if cached && c.revoked {
		return true, nil
	}
	if s.limiter == nil || !s.limiter.Degraded() {
		rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		n, err := s.rdb.Exists(rctx, denyKey(jti)).Result()
		cancel()
		if err == nil && n > 0 {
			cache.Add(jti, revocation{revoked: true, until: now.Add(s.set.CustomerTokenTTL)})
			return true, nil
		}
		if err != nil {
			metrics.RedisError("session")
		}
	}
	if cached && now.Before(c.until) {
		return false, nil
	}
	shopID, ok := pg.ShopIDFrom(ctx)
	if !ok {
		return false, apperr.New(apperr.Internal, "revocation check without a shop")
	}
	revoked, err := s.tenant.SessionRevoked(ctx, dbq.SessionRevokedParams{ShopID: shopID, Jti: jti})
	if err != nil {
		return false, pg.MapError(err)
	}
	if revoked {
		cache.Add(jti, revocation{revoked: true, until: now.Add(s.set.CustomerTokenTTL)})
	} else {
		cache.Add(jti, revocation{until: now.Add(revokedNegativeTTL)})
	}
	return revoked, nil
}

// KeyInput describes a key to create.
type KeyInput struct {
	Kind      string // public | secret
	Name      string
	Scopes    []string // nil: the kind's default
	RateLimit int      // 0: default
	CostLimit int      // 0: the configured default bucket
	ExpiresIn time.Duration
}

// APIKeyCreate creates a key for the request's shop (apikeys:manage). The
// plaintext key is returned once and never stored.
func (s *Service) APIKeyCreate(ctx context.Context, in KeyInput) (*Key, string, []apperr.UserError, error) {
	if err := Require(ctx, ScopeAPIKeysManage); err != nil {
		return nil, "", nil, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	p := FromContext(ctx)
	var by *uuid.UUID
	if p.Kind == Staff {
		by = &p.StaffID
	}
	requested := in.Scopes
	if requested == nil {
		requested = defaultScopes(in.Kind)
	}
	if err := grantable(p, requested); err != nil {
		return nil, "", nil, err
	}
	return s.admin.CreateKey(ctx, sh, in, by)
}

// CreateKey creates a key without checking the caller: for the operator's
// command line (`cartograph keys create`) and for APIKeyCreate.
func (s *KeyAdmin) CreateKey(ctx context.Context, sh *shop.Shop, in KeyInput, createdBy *uuid.UUID) (*Key, string, []apperr.UserError, error) {
	var ues []apperr.UserError
	if in.Kind != "public" && in.Kind != "secret" {
		ues = append(ues, apperr.UserError{Field: []string{"input", "kind"}, Message: "kind must be public or secret", Code: "INVALID"})
	}
	scopes := in.Scopes
	if scopes == nil {
		scopes = defaultScopes(in.Kind)
	}
	for _, sc := range scopes {
		switch {
		case !ValidScope(sc):
			ues = append(ues, apperr.UserError{Field: []string{"input", "scopes"}, Message: "unknown scope " + sc, Code: "INVALID"})
		case in.Kind == "public" && !slices.Contains(PublicKeyScopes, sc):
			ues = append(ues, apperr.UserError{Field: []string{"input", "scopes"}, Message: "public keys may only hold " + strings.Join(PublicKeyScopes, ", "), Code: "NOT_ALLOWED_FOR_PUBLIC_KEY"})
		}
	}
	if in.CostLimit < 0 || in.CostLimit > 100_000_000 {
		ues = append(ues, apperr.UserError{Field: []string{"input", "costLimit"}, Message: "costLimit must be 1..100000000 points", Code: "INVALID"})
	}
	if in.RateLimit < 0 || in.RateLimit > 1_000_000 {
		ues = append(ues, apperr.UserError{Field: []string{"input", "rateLimit"}, Message: "rateLimit must be 1..1000000 per minute", Code: "INVALID"})
	}
	if in.ExpiresIn < 0 {
		ues = append(ues, apperr.UserError{Field: []string{"input", "expiresIn"}, Message: "expiry must be in the future", Code: "INVALID"})
	}
	if len(ues) > 0 {
		return nil, "", ues, nil
	}
	rl := in.RateLimit
	if rl == 0 {
		rl = s.defaultRateLimit
	}
	var exp *time.Time
	if in.ExpiresIn > 0 {
		t := s.now().Add(in.ExpiresIn)
		exp = &t
	}
	plain, err := NewKeySecret(in.Kind, sh.Handle)
	if err != nil {
		return nil, "", nil, apperr.Wrap(err, apperr.Internal, "generating key")
	}
	hash := HashKey(plain)
	var row Key
	err = pg.WithTenantTx(pg.WithShopID(ctx, sh.ID), s.db, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		var err error
		r, err := q.APIKeyCreate(ctx, dbq.APIKeyCreateParams{ShopID: sh.ID, Kind: in.Kind, Name: in.Name,
			DisplayPrefix: plain[:len(plain)-keySecretHex+4], KeyHash: hash, Scopes: scopes, RateLimit: int32(rl), ExpiresAt: exp, CreatedBy: createdBy, CostLimit: costLimit(in.CostLimit)})
		if err != nil {
			return pg.MapError(err)
		}
		row = Key(r)
		return pg.MapError(q.APIKeyIndexInsert(ctx, dbq.APIKeyIndexInsertParams{KeyHash: hash, ShopID: sh.ID, KeyID: row.ID}))
	})
	if err != nil {
		return nil, "", nil, err
	}
	return &row, plain, nil, nil
}

// APIKeyRevoke revokes a key of the request's shop (apikeys:manage);
// another shop's key id is NOT_FOUND. It stops working here at once and on
// every other instance within KeyCacheTTL.
func (s *Service) APIKeyRevoke(ctx context.Context, id uuid.UUID) (*Key, error) {
	if err := Require(ctx, ScopeAPIKeysManage); err != nil {
		return nil, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	return s.admin.RevokeKey(ctx, sh.ID, id)
}

// RevokeKey revokes without checking the caller (operator command line).
func (s *KeyAdmin) RevokeKey(ctx context.Context, shopID, id uuid.UUID) (*Key, error) {
	row, err := s.tenant.APIKeyRevoke(pg.WithShopID(ctx, shopID), dbq.APIKeyRevokeParams{ShopID: shopID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "no such API key")
	}
	if err != nil {
		return nil, pg.MapError(err)
	}
	if s.keys != nil {
		s.keys.Forget(row.KeyHash)
	}
	key := Key{ID: row.ID, ShopID: row.ShopID, Kind: row.Kind, Name: row.Name, DisplayPrefix: row.DisplayPrefix, Scopes: row.Scopes,
		RateLimit: row.RateLimit, ExpiresAt: row.ExpiresAt, RevokedAt: row.RevokedAt, CreatedBy: row.CreatedBy, CreatedAt: row.CreatedAt, LastUsedAt: row.LastUsedAt, CostLimit: row.CostLimit}
	return &key, nil
}

// APIKeys pages the shop's keys by id (apikeys:manage). Hashes never leave.
func (s *Service) APIKeys(ctx context.Context, p relay.Page) (relay.Conn[*Key], error) {
	if err := Require(ctx, ScopeAPIKeysManage); err != nil {
		return relay.Conn[*Key]{}, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return relay.Conn[*Key]{}, err
	}
	return s.admin.ListKeys(ctx, sh.ID, p)
}

// ListKeys lists without checking the caller (operator command line).
func (s *KeyAdmin) ListKeys(ctx context.Context, shopID uuid.UUID, p relay.Page) (relay.Conn[*Key], error) {
	after, err := relay.AfterID(p, "KEY")
	if err != nil {
		return relay.Conn[*Key]{}, err
	}
	rows, err := s.tenant.APIKeysPage(pg.WithShopID(ctx, shopID), dbq.APIKeysPageParams{ShopID: shopID, AfterID: after, Lim: int32(p.Limit + 1)})
	if err != nil {
		return relay.Conn[*Key]{}, pg.MapError(err)
	}
	keys := make([]*Key, len(rows))
	for i := range rows {
		k := Key(rows[i])
		keys[i] = &k
	}
	return relay.ForwardConn(keys, p.Limit, after != nil, func(k *Key) string { return relay.IDCursor("KEY", k.ID) }), nil
}

// ShopOfKey returns the shop a key id belongs to (operator command line:
// `keys revoke ID`). NOT_FOUND when there is no such key.
func (s *KeyAdmin) ShopOfKey(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
	shopID, err := s.global.APIKeyShop(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, apperr.New(apperr.NotFound, "no such API key")
	}
	return shopID, pg.MapError(err)
}

// defaultScopes are a new key's scopes when none are asked for: the
// storefront scopes for public keys, everything but apikeys:manage for
// secret ones.
func defaultScopes(kind string) []string {
	if kind == "secret" {
		return slices.DeleteFunc(slices.Clone(AllScopes), func(s string) bool { return s == ScopeAPIKeysManage })
	}
	return PublicKeyScopes
}

func costLimit(n int) *int32 {
	if n <= 0 {
		return nil
	}
	v := int32(n)
	return &v
}
