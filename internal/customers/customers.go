// Package customers owns a shop's customers: registration, profile reads,
// the admin listing and the batch lookup behind the customer dataloader.
// It is the only package that writes the customers table; passwords are
// hashed with internal/auth, which asks this package for credentials at
// login (auth.CustomerCredentials). A customer belongs to exactly one shop.
// Errors: UNAUTHENTICATED/FORBIDDEN (scopes, another customer's record),
// THROTTLED (registration per IP), NOT_FOUND, user errors for bad input
// (INVALID, PASSWORD_INVALID, TOO_LONG, TAKEN), INTERNAL.
package customers

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"
	"cartograph/internal/ratelimit"
	"cartograph/internal/relay"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Customer is a shop's customer as the API sees it: never the password hash.
type Customer struct {
	ID        uuid.UUID
	ShopID    uuid.UUID
	Email     string
	FirstName string
	LastName  string
	CreatedAt time.Time
}

// NodeID is the customer's global ID.
func (c *Customer) NodeID() string { return relay.GlobalID("Customer", c.ID) }

// IsNode marks Customer as a Node.
func (*Customer) IsNode() {}

// DisplayName is "First Last", or the email when no name is known.
func (c *Customer) DisplayName() string {
	if n := strings.TrimSpace(c.FirstName + " " + c.LastName); n != "" {
		return n
	}
	return c.Email
}

func fromRow(id, shopID uuid.UUID, email, first, last string, created time.Time) *Customer {
	return &Customer{ID: id, ShopID: shopID, Email: email, FirstName: first, LastName: last, CreatedAt: created}
}

// Limiter throttles registrations (a *ratelimit.Limiter).
type Limiter interface {
	Allow(ctx context.Context, key string, perMinute int) error
}

// Service serves customers of the request's shop.
type Service struct {
	q       *dbq.Queries
	limiter Limiter
	// RegisterPerMinute bounds registrations per client IP.
	RegisterPerMinute int
}

// New returns the customers service over the application pool.
func New(db *pgxpool.Pool, limiter Limiter, registerPerMinute int) *Service {
	return &Service{q: dbq.New(pg.Tenant{Pool: db}), limiter: limiter, RegisterPerMinute: registerPerMinute}
}

// RegisterInput is customerRegister's input.
type RegisterInput struct {
	Email, Password, FirstName, LastName string
}

// Register creates a customer of the request's shop. Problems the caller
// can fix come back as user errors (nothing is created).
func (s *Service) Register(ctx context.Context, in RegisterInput) (*Customer, []apperr.UserError, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	if s.limiter != nil {
		if err := s.limiter.Allow(ctx, ratelimit.Key("register", auth.ClientIP(ctx)), s.RegisterPerMinute); err != nil {
			return nil, nil, err
		}
	}
	var ues []apperr.UserError
	email := strings.TrimSpace(in.Email)
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		ues = append(ues, apperr.UserError{Field: []string{"input", "email"}, Message: "Email is invalid", Code: "INVALID"})
	}
	if n := len([]rune(in.Password)); n < 8 || n > 128 {
		ues = append(ues, apperr.UserError{Field: []string{"input", "password"}, Message: "Password must be 8 to 128 characters", Code: "PASSWORD_INVALID"})
	}
	if len(in.FirstName) > 100 || len(in.LastName) > 100 {
		ues = append(ues, apperr.UserError{Field: []string{"input", "firstName"}, Message: "Name is too long", Code: "TOO_LONG"})
	}
	if len(ues) > 0 {
		return nil, ues, nil
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return nil, nil, apperr.Wrap(err, apperr.Internal, "hashing password")
	}
	r, err := s.q.CustomerCreate(ctx, dbq.CustomerCreateParams{ShopID: sh.ID, Email: email, FirstName: strings.TrimSpace(in.FirstName), LastName: strings.TrimSpace(in.LastName), PasswordHash: hash})
	if err != nil {
		if apperr.CodeOf(pg.MapError(err)) == apperr.Conflict {
			return nil, []apperr.UserError{{Field: []string{"input", "email"}, Message: "Email has already been taken", Code: "TAKEN"}}, nil
		}
		return nil, nil, pg.MapError(err)
	}
	return fromRow(r.ID, r.ShopID, r.Email, r.FirstName, r.LastName, r.CreatedAt), nil, nil
}

// Credentials returns the id and password hash of the shop's customer with
// email (case-insensitive); ok is false when there is none. Only
// internal/auth's login calls it.
func (s *Service) Credentials(ctx context.Context, shopID uuid.UUID, email string) (id uuid.UUID, hash string, ok bool, err error) {
	r, err := s.q.CustomerCredentialsByEmail(pg.WithShopID(ctx, shopID), dbq.CustomerCredentialsByEmailParams{ShopID: shopID, Email: strings.TrimSpace(email)})
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, "", false, nil
	}
	if err != nil {
		return uuid.Nil, "", false, pg.MapError(err)
	}
	return r.ID, r.PasswordHash, true, nil
}

// Exists reports whether the shop has a customer with id (session tokens
// of deleted customers are refused; internal/auth caches the answer).
func (s *Service) Exists(ctx context.Context, shopID, id uuid.UUID) (bool, error) {
	rows, err := s.q.CustomersByIDs(pg.WithShopID(ctx, shopID), dbq.CustomersByIDsParams{ShopID: shopID, Ids: []uuid.UUID{id}})
	if err != nil {
		return false, pg.MapError(err)
	}
	return len(rows) == 1, nil
}

// Me returns the logged-in customer (nil for any other principal).
func (s *Service) Me(ctx context.Context) (*Customer, error) {
	own := auth.OwnCustomer(ctx)
	if own == nil {
		return nil, nil
	}
	return s.one(ctx, *own)
}

// Get returns one customer of the shop (customers:read): staff and keys see
// any, a customer only themself (others are null).
func (s *Service) Get(ctx context.Context, id uuid.UUID) (*Customer, error) {
	if err := auth.Require(ctx, auth.ScopeCustomersRead); err != nil {
		return nil, err
	}
	if !auth.Owns(ctx, &id) {
		return nil, nil
	}
	return s.one(ctx, id)
}

// ByIDInternal returns a customer of the request's shop without a
// principal check, for payloads of calls that were themselves authorized
// (customerLogin). NOT_FOUND when unknown.
func (s *Service) ByIDInternal(ctx context.Context, id uuid.UUID) (*Customer, error) {
	c, err := s.one(ctx, id)
	if err == nil && c == nil {
		err = apperr.New(apperr.NotFound, "no such customer")
	}
	return c, err
}

func (s *Service) one(ctx context.Context, id uuid.UUID) (*Customer, error) {
	cs, err := s.ByIDs(ctx, []uuid.UUID{id})
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// List pages the shop's customers by id (customers:read; staff and keys
// only).
func (s *Service) List(ctx context.Context, p relay.Page) (relay.Conn[*Customer], error) {
	if err := auth.StaffOrKey(ctx, "customers can only read their own profile (use me)", auth.ScopeCustomersRead); err != nil {
		return relay.Conn[*Customer]{}, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return relay.Conn[*Customer]{}, err
	}
	after, err := relay.AfterID(p, "CUST")
	if err != nil {
		return relay.Conn[*Customer]{}, err
	}
	rows, err := s.q.CustomersPage(ctx, dbq.CustomersPageParams{ShopID: sh.ID, AfterID: after, Lim: int32(p.Limit + 1)})
	if err != nil {
		return relay.Conn[*Customer]{}, pg.MapError(err)
	}
	out := make([]*Customer, len(rows))
	for i, r := range rows {
		out[i] = fromRow(r.ID, r.ShopID, r.Email, r.FirstName, r.LastName, r.CreatedAt)
	}
	return relay.ForwardConn(out, p.Limit, after != nil, func(c *Customer) string { return relay.IDCursor("CUST", c.ID) }), nil
}

// ByIDs returns customers of the request's shop in key order (nil for
// unknown ids), for the dataloader behind fields whose parent was already
// authorized (Order.customer, Cart.buyerIdentity.customer).
func (s *Service) ByIDs(ctx context.Context, ids []uuid.UUID) ([]*Customer, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.CustomersByIDs(ctx, dbq.CustomersByIDsParams{ShopID: sh.ID, Ids: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	byID := make(map[uuid.UUID]*Customer, len(rows))
	for _, r := range rows {
		byID[r.ID] = fromRow(r.ID, r.ShopID, r.Email, r.FirstName, r.LastName, r.CreatedAt)
	}
	out := make([]*Customer, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
}
