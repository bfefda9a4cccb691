package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/mail"
	"slices"
	"strings"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"
	"cartograph/internal/ratelimit"
	"cartograph/internal/shop"

	"github.com/google/uuid"
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

// Service implements sessions, registration and API key management. Every
// method authorizes first, with the shop taken from the context.
type Service struct {
	db      *pgxpool.Pool
	tenant  *dbq.Queries
	global  *dbq.Queries
	signer  *Signer
	keys    *Keys
	limiter *ratelimit.Limiter
	rdb     *redis.Client
	set     Settings
	now     func() time.Time
}

// NewService wires the auth service over the application pool.
func NewService(db *pgxpool.Pool, rdb *redis.Client, signer *Signer, keys *Keys, limiter *ratelimit.Limiter, set Settings) *Service {
	return &Service{db: db, tenant: dbq.New(pg.Tenant{Pool: db}), global: dbq.New(db), signer: signer, keys: keys,
		limiter: limiter, rdb: rdb, set: set, now: time.Now}
}

// UserError is a problem the caller can fix, returned in payloads.
type UserError struct {
	Field   []string
	Message string
	Code    string
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

// Require checks the context's principal holds scopes: UNAUTHENTICATED for
// anonymous callers, FORBIDDEN otherwise. It is what @hasPermission runs.
func Require(ctx context.Context, scopes ...string) error {
	p := FromContext(ctx)
	if p.Kind == Anonymous {
		return apperr.New(apperr.Unauthenticated, "authentication required")
	}
	if !p.Has(scopes...) {
		return apperr.New(apperr.Forbidden, "missing permission: %s", strings.Join(scopes, ", "))
	}
	return nil
}

type ipKey struct{}

// WithClientIP records the caller's IP for per-IP limits.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, ipKey{}, ip)
}

func clientIP(ctx context.Context) string {
	ip, _ := ctx.Value(ipKey{}).(string)
	return ip
}

func (s *Service) throttleLogin(ctx context.Context, shopID uuid.UUID, email string) error {
	if err := s.limiter.Allow(ctx, ratelimit.Key("login", shopID.String(), strings.ToLower(email)), s.set.LoginPerMinute); err != nil {
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
		CheckPassword(dummyHash(), password)
		return nil, invalid
	}
	if err != nil {
		return nil, pg.MapError(err)
	}
	if !CheckPassword(u.PasswordHash, password) {
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

// RegisterInput is customerRegister's input.
type RegisterInput struct {
	Email, Password, FirstName, LastName string
}

// CustomerRegister creates a customer of the request's shop. Problems the
// caller can fix come back as user errors (nothing is created).
func (s *Service) CustomerRegister(ctx context.Context, in RegisterInput) (*dbq.Customer, []UserError, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := s.limiter.Allow(ctx, ratelimit.Key("register", clientIP(ctx)), s.set.LoginPerMinute*4); err != nil {
		return nil, nil, err
	}
	var ues []UserError
	email := strings.TrimSpace(in.Email)
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		ues = append(ues, UserError{Field: []string{"input", "email"}, Message: "Email is invalid", Code: "INVALID"})
	}
	if n := len([]rune(in.Password)); n < 8 || n > 128 {
		ues = append(ues, UserError{Field: []string{"input", "password"}, Message: "Password must be 8 to 128 characters", Code: "PASSWORD_INVALID"})
	}
	if len(in.FirstName) > 100 || len(in.LastName) > 100 {
		ues = append(ues, UserError{Field: []string{"input", "firstName"}, Message: "Name is too long", Code: "TOO_LONG"})
	}
	if len(ues) > 0 {
		return nil, ues, nil
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return nil, nil, apperr.Wrap(err, apperr.Internal, "hashing password")
	}
	c, err := s.tenant.CustomerCreate(ctx, dbq.CustomerCreateParams{ShopID: sh.ID, Email: email, FirstName: strings.TrimSpace(in.FirstName), LastName: strings.TrimSpace(in.LastName), PasswordHash: hash})
	if err != nil {
		if apperr.CodeOf(pg.MapError(err)) == apperr.Conflict {
			return nil, []UserError{{Field: []string{"input", "email"}, Message: "Email has already been taken", Code: "TAKEN"}}, nil
		}
		return nil, nil, pg.MapError(err)
	}
	return &c, nil, nil
}

// CustomerLogin checks a customer's password at the request's shop (and only
// there) and issues an access token bound to that shop.
func (s *Service) CustomerLogin(ctx context.Context, email, password string) (*Session, []UserError, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := s.throttleLogin(ctx, sh.ID, email); err != nil {
		return nil, nil, err
	}
	unidentified := []UserError{{Field: []string{"input"}, Message: "Unidentified customer", Code: "UNIDENTIFIED_CUSTOMER"}}
	c, err := s.tenant.CustomerByEmail(ctx, dbq.CustomerByEmailParams{ShopID: sh.ID, Email: strings.TrimSpace(email)})
	if errors.Is(err, pgx.ErrNoRows) {
		CheckPassword(dummyHash(), password)
		return nil, unidentified, nil
	}
	if err != nil {
		return nil, nil, pg.MapError(err)
	}
	if !CheckPassword(c.PasswordHash, password) {
		return nil, unidentified, nil
	}
	tok, claims, err := s.signer.Sign("customer", c.ID, sh.ID, "", CustomerScopes, s.set.CustomerTokenTTL, s.now())
	if err != nil {
		return nil, nil, apperr.Wrap(err, apperr.Internal, "signing token")
	}
	return &Session{AccessToken: tok, ExpiresAt: claims.ExpiresAt.Time, CustomerID: c.ID, Scopes: CustomerScopes}, nil, nil
}

func denyKey(jti string) string { return "jwt:deny:" + jti }

// CustomerLogout revokes the calling customer's session token until it
// would have expired (a Redis deny-list shared by all instances).
func (s *Service) CustomerLogout(ctx context.Context) error {
	p := FromContext(ctx)
	if p.Kind != Customer {
		return apperr.New(apperr.Forbidden, "only a customer session can log out")
	}
	if err := s.rdb.Set(ctx, denyKey(p.TokenID), "1", s.set.CustomerTokenTTL+time.Minute).Err(); err != nil {
		return apperr.Wrap(err, apperr.Internal, "logout")
	}
	return nil
}

// Revoked reports whether a session token id was logged out.
func (s *Service) Revoked(ctx context.Context, jti string) (bool, error) {
	n, err := s.rdb.Exists(ctx, denyKey(jti)).Result()
	return n > 0, err
}

// Me returns the logged-in customer (nil for any other principal).
func (s *Service) Me(ctx context.Context) (*dbq.Customer, error) {
	p := FromContext(ctx)
	if p.Kind != Customer {
		return nil, nil
	}
	return s.customer(ctx, p.CustomerID)
}

// customer reads one customer of the request's shop (nil when unknown).
func (s *Service) customer(ctx context.Context, id uuid.UUID) (*dbq.Customer, error) {
	cs, err := s.CustomersByIDs(ctx, []uuid.UUID{id})
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// Customer returns one customer of the shop: staff/keys with customers:read
// see any, a customer only themself (others are NOT_FOUND-as-null).
func (s *Service) Customer(ctx context.Context, id uuid.UUID) (*dbq.Customer, error) {
	if err := Require(ctx, ScopeCustomersRead); err != nil {
		return nil, err
	}
	p := FromContext(ctx)
	if p.Kind == Customer && p.CustomerID != id {
		return nil, nil
	}
	return s.customer(ctx, id)
}

// Customers pages the shop's customers (staff and secret keys only).
func (s *Service) Customers(ctx context.Context, after *uuid.UUID, limit int) ([]dbq.Customer, bool, error) {
	if err := Require(ctx, ScopeCustomersRead); err != nil {
		return nil, false, err
	}
	p := FromContext(ctx)
	if p.Kind == Customer {
		return nil, false, apperr.New(apperr.Forbidden, "customers can only read their own profile (use me)")
	}
	rows, err := s.tenant.CustomersPage(ctx, dbq.CustomersPageParams{ShopID: p.ShopID, AfterID: after, Lim: int32(limit + 1)})
	if err != nil {
		return nil, false, pg.MapError(err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	return rows, more, nil
}

// KeyInput describes a key to create.
type KeyInput struct {
	Kind      string // public | secret
	Name      string
	Scopes    []string // nil: the kind's default
	RateLimit int      // 0: default
	ExpiresIn time.Duration
}

// APIKeyCreate creates a key for the request's shop (apikeys:manage). The
// plaintext key is returned once and never stored.
func (s *Service) APIKeyCreate(ctx context.Context, in KeyInput) (*dbq.ApiKey, string, []UserError, error) {
	if err := Require(ctx, ScopeAPIKeysManage); err != nil {
		return nil, "", nil, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	var by *uuid.UUID
	if p := FromContext(ctx); p.Kind == Staff {
		by = &p.StaffID
	}
	return s.CreateKey(ctx, sh, in, by)
}

// CreateKey creates a key without checking the caller: for the operator's
// command line (`cartograph keys create`) and for APIKeyCreate.
func (s *Service) CreateKey(ctx context.Context, sh *shop.Shop, in KeyInput, createdBy *uuid.UUID) (*dbq.ApiKey, string, []UserError, error) {
	var ues []UserError
	if in.Kind != "public" && in.Kind != "secret" {
		ues = append(ues, UserError{Field: []string{"input", "kind"}, Message: "kind must be public or secret", Code: "INVALID"})
	}
	scopes := in.Scopes
	if scopes == nil {
		scopes = PublicKeyScopes
		if in.Kind == "secret" {
			scopes = slices.DeleteFunc(slices.Clone(AllScopes), func(s string) bool { return s == ScopeAPIKeysManage })
		}
	}
	for _, sc := range scopes {
		switch {
		case !ValidScope(sc):
			ues = append(ues, UserError{Field: []string{"input", "scopes"}, Message: "unknown scope " + sc, Code: "INVALID"})
		case in.Kind == "public" && !slices.Contains(PublicKeyScopes, sc):
			ues = append(ues, UserError{Field: []string{"input", "scopes"}, Message: "public keys may only hold " + strings.Join(PublicKeyScopes, ", "), Code: "NOT_ALLOWED_FOR_PUBLIC_KEY"})
		}
	}
	if in.RateLimit < 0 || in.RateLimit > 1_000_000 {
		ues = append(ues, UserError{Field: []string{"input", "rateLimit"}, Message: "rateLimit must be 1..1000000 per minute", Code: "INVALID"})
	}
	if in.ExpiresIn < 0 {
		ues = append(ues, UserError{Field: []string{"input", "expiresIn"}, Message: "expiry must be in the future", Code: "INVALID"})
	}
	if len(ues) > 0 {
		return nil, "", ues, nil
	}
	rl := in.RateLimit
	if rl == 0 {
		rl = s.set.DefaultKeyRateLimit
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
	var row dbq.ApiKey
	err = pg.WithTenantTx(pg.WithShopID(ctx, sh.ID), s.db, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		var err error
		row, err = q.APIKeyCreate(ctx, dbq.APIKeyCreateParams{ShopID: sh.ID, Kind: in.Kind, Name: in.Name,
			DisplayPrefix: plain[:len(plain)-keySecretHex+4], KeyHash: hash, Scopes: scopes, RateLimit: int32(rl), ExpiresAt: exp, CreatedBy: createdBy})
		if err != nil {
			return pg.MapError(err)
		}
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
func (s *Service) APIKeyRevoke(ctx context.Context, id uuid.UUID) (*dbq.ApiKey, error) {
	if err := Require(ctx, ScopeAPIKeysManage); err != nil {
		return nil, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	return s.RevokeKey(ctx, sh.ID, id)
}

// RevokeKey revokes without checking the caller (operator command line).
func (s *Service) RevokeKey(ctx context.Context, shopID, id uuid.UUID) (*dbq.ApiKey, error) {
	row, err := s.tenant.APIKeyRevoke(pg.WithShopID(ctx, shopID), dbq.APIKeyRevokeParams{ShopID: shopID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "no such API key")
	}
	if err != nil {
		return nil, pg.MapError(err)
	}
	s.keys.Forget(row.KeyHash)
	return &row, nil
}

// APIKeys pages the shop's keys (apikeys:manage). Hashes never leave.
func (s *Service) APIKeys(ctx context.Context, after *uuid.UUID, limit int) ([]dbq.ApiKey, bool, error) {
	if err := Require(ctx, ScopeAPIKeysManage); err != nil {
		return nil, false, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, false, err
	}
	return s.ListKeys(ctx, sh.ID, after, limit)
}

// ListKeys lists without checking the caller (operator command line).
func (s *Service) ListKeys(ctx context.Context, shopID uuid.UUID, after *uuid.UUID, limit int) ([]dbq.ApiKey, bool, error) {
	rows, err := s.tenant.APIKeysPage(pg.WithShopID(ctx, shopID), dbq.APIKeysPageParams{ShopID: shopID, AfterID: after, Lim: int32(limit + 1)})
	if err != nil {
		return nil, false, pg.MapError(err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	return rows, more, nil
}

// CustomerByID returns a customer of the request's shop (internal use by
// resolvers after login; no principal check). NOT_FOUND when unknown.
func (s *Service) CustomerByID(ctx context.Context, id uuid.UUID) (*dbq.Customer, error) {
	c, err := s.customer(ctx, id)
	if err == nil && c == nil {
		err = apperr.New(apperr.NotFound, "no such customer")
	}
	return c, err
}

// CustomersByIDs returns customers of the request's shop in key order (nil
// for unknown ids), for the dataloader behind fields whose parent was
// already authorized (Order.customer, Cart.buyerIdentity.customer).
func (s *Service) CustomersByIDs(ctx context.Context, ids []uuid.UUID) ([]*dbq.Customer, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.tenant.CustomersByIDs(ctx, dbq.CustomersByIDsParams{ShopID: sh.ID, Ids: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	byID := make(map[uuid.UUID]*dbq.Customer, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &rows[i]
	}
	out := make([]*dbq.Customer, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
}
