// Package discounts owns a shop's discounts (codes and automatic) and their
// redemptions. Cart pricing asks ForCart for the candidates of a cart (each
// entered code with the reason it cannot apply, if any); checkout counts
// uses with Redeem inside its transaction, and orders.release gives them
// back with Release when an unpaid order is cancelled or expires. Staff
// manage discounts with Create/Update/Deactivate (discounts:write).
// Errors: UNAUTHENTICATED/FORBIDDEN, NOT_FOUND, user errors for bad input,
// INTERNAL.
package discounts

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"

	"cartograph/internal/dbq"
	"cartograph/internal/pg"
	"cartograph/internal/pricing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// MaxCodeLength bounds a code (Shopify's 255).
const MaxCodeLength = 255

// Service reads and manages discounts.
type Service struct {
	db *pgxpool.Pool
	q  *dbq.Queries
	// now is the clock (tests move it).
	now func() time.Time
}

// New returns a discount service.
func New(db *pgxpool.Pool) *Service {
	return &Service{db: db, q: dbq.New(pg.Tenant{Pool: db}), now: time.Now}
}

// Candidate is a discount offered to the pricing engine, with what the
// cart shows of it.
type Candidate = pricing.Discount

// wellFormed reports whether code could be stored at all: 1..255
// characters, no control characters (NUL included).
func wellFormed(code string) bool {
	if code == "" || len(code) > MaxCodeLength {
		return false
	}
	return !strings.ContainsFunc(code, unicode.IsControl)
}

// ForCart returns the candidates for a cart: one per entered code, in the
// order entered (Reason set when the code cannot apply: not found —
// including malformed codes and other shops' codes, which RLS hides —,
// inactive, exhausted or used up by this customer), then the shop's live
// automatic discounts. customerKey is the customer id or the lower-cased
// email ("" when unknown: per-customer limits are then checked at
// checkout).
func (s *Service) ForCart(ctx context.Context, shopID uuid.UUID, codes []string, customerKey string) ([]Candidate, error) {
	lower := make([]string, 0, len(codes))
	for _, c := range codes {
		if wellFormed(c) {
			lower = append(lower, strings.ToLower(c))
		}
	}
	rows, err := s.q.DiscountsForCart(pg.WithShopID(ctx, shopID), dbq.DiscountsForCartParams{ShopID: shopID, Codes: lower})
	if err != nil {
		return nil, pg.MapError(err)
	}
	byCode := map[string]*dbq.Discount{}
	var ids []uuid.UUID
	for i := range rows {
		if rows[i].Code != nil {
			byCode[strings.ToLower(*rows[i].Code)] = &rows[i]
		}
		if rows[i].PerCustomerLimit != nil {
			ids = append(ids, rows[i].ID)
		}
	}
	uses := map[uuid.UUID]int32{}
	if customerKey != "" && len(ids) > 0 {
		us, err := s.q.DiscountCustomerUses(pg.WithShopID(ctx, shopID), dbq.DiscountCustomerUsesParams{ShopID: shopID, DiscountIds: ids, CustomerKey: customerKey})
		if err != nil {
			return nil, pg.MapError(err)
		}
		for _, u := range us {
			uses[u.DiscountID] = u.Uses
		}
	}
	now := s.now()
	out := make([]Candidate, 0, len(codes)+len(rows))
	for _, c := range codes {
		r := byCode[strings.ToLower(c)]
		if !wellFormed(c) || r == nil {
			out = append(out, Candidate{Code: c, Title: c, Reason: pricing.ReasonNotFound})
			continue
		}
		d := candidate(r)
		d.Code = c
		switch {
		case !r.Active || now.Before(r.StartsAt) || (r.EndsAt != nil && !now.Before(*r.EndsAt)):
			d.Reason = pricing.ReasonInactive
		case r.UsageLimit != nil && r.UsedCount >= *r.UsageLimit:
			d.Reason = pricing.ReasonUsageLimit
		case r.PerCustomerLimit != nil && uses[r.ID] >= *r.PerCustomerLimit:
			d.Reason = pricing.ReasonCustomerLimit
		}
		out = append(out, d)
	}
	for i := range rows {
		r := &rows[i]
		if r.Code != nil || (r.UsageLimit != nil && r.UsedCount >= *r.UsageLimit) || (r.PerCustomerLimit != nil && uses[r.ID] >= *r.PerCustomerLimit) {
			continue
		}
		out = append(out, candidate(r))
	}
	return out, nil
}

func candidate(r *dbq.Discount) Candidate {
	d := Candidate{ID: r.ID, Title: r.Title, Kind: pricing.Kind(r.Kind), Scope: pricing.Scope(r.Scope), Value: r.Value,
		Currency: r.CurrencyCode, ProductIDs: r.ProductIds, CollectionIDs: r.CollectionIds, MinSubtotal: r.MinSubtotal, MinQuantity: int(r.MinQuantity)}
	if r.Code != nil {
		d.Code = *r.Code
	}
	return d
}

// ErrNotRedeemable is returned by Redeem when a discount can no longer be
// used (exhausted, inactive, or this customer's uses are spent); Reason
// says which.
type ErrNotRedeemable struct {
	DiscountID uuid.UUID
	Reason     string
}

func (e *ErrNotRedeemable) Error() string { return "discount not redeemable: " + e.Reason }

// Redeem records one use of each discount for orderID inside the checkout
// transaction tx. A discount with a total or per-customer limit has its
// row locked by a conditional UPDATE (live and under its limit), so
// concurrent checkouts of a code limited to N uses succeed exactly N
// times; the per-customer count is read after that lock, so it sees every
// committed use. An unlimited discount only gets its redemption row (no
// hot-row lock: checkouts with a popular unlimited code do not queue). An
// *ErrNotRedeemable aborts the checkout (the caller rolls back).
func Redeem(ctx context.Context, tx pgx.Tx, shopID, orderID uuid.UUID, customerKey string, ids []uuid.UUID) error {
	q := dbq.New(tx)
	ids = slices.Clone(ids)
	// A fixed lock order: two checkouts with the same codes never deadlock.
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	ids = slices.Compact(ids)
	for _, id := range ids {
		st, err := q.DiscountRedeemable(ctx, dbq.DiscountRedeemableParams{ShopID: shopID, ID: id})
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && !st.Live) {
			return &ErrNotRedeemable{DiscountID: id, Reason: pricing.ReasonUsageLimit}
		}
		if err != nil {
			return pg.MapError(err)
		}
		if st.Limited {
			perCustomer, err := q.DiscountTakeUse(ctx, dbq.DiscountTakeUseParams{ShopID: shopID, ID: id})
			if errors.Is(err, pgx.ErrNoRows) {
				return &ErrNotRedeemable{DiscountID: id, Reason: pricing.ReasonUsageLimit}
			}
			if err != nil {
				return pg.MapError(err)
			}
			if perCustomer != nil {
				us, err := q.DiscountCustomerUses(ctx, dbq.DiscountCustomerUsesParams{ShopID: shopID, DiscountIds: []uuid.UUID{id}, CustomerKey: customerKey})
				if err != nil {
					return pg.MapError(err)
				}
				if len(us) > 0 && us[0].Uses >= *perCustomer {
					return &ErrNotRedeemable{DiscountID: id, Reason: pricing.ReasonCustomerLimit}
				}
			}
		}
		if err := q.DiscountRedemptionInsert(ctx, dbq.DiscountRedemptionInsertParams{ShopID: shopID, OrderID: orderID, DiscountID: id, CustomerKey: customerKey}); err != nil {
			return pg.MapError(err)
		}
	}
	return nil
}

// Release gives back the uses an order took, inside the caller's
// transaction (orders.release: cancel or expiry of an unpaid order). Only
// redemptions not yet released are counted back, so a second release of
// the same order gives back nothing.
func Release(ctx context.Context, tx pgx.Tx, shopID, orderID uuid.UUID) error {
	q := dbq.New(tx)
	ids, err := q.DiscountRedemptionsRelease(ctx, dbq.DiscountRedemptionsReleaseParams{ShopID: shopID, OrderID: orderID})
	if err != nil || len(ids) == 0 {
		return pg.MapError(err)
	}
	return pg.MapError(q.DiscountGiveBack(ctx, dbq.DiscountGiveBackParams{ShopID: shopID, Ids: ids}))
}

// CustomerKey is the key per-customer limits count by: the customer id for
// a logged-in customer, else the lower-cased email.
func CustomerKey(customerID *uuid.UUID, email string) string {
	if customerID != nil {
		return "c:" + customerID.String()
	}
	return "e:" + strings.ToLower(strings.TrimSpace(email))
}

// Uses returns the live redemptions of a discount (for staff and tests).
func (s *Service) Uses(ctx context.Context, shopID, id uuid.UUID) (int, error) {
	n, err := s.q.DiscountRedemptionCount(pg.WithShopID(ctx, shopID), dbq.DiscountRedemptionCountParams{ShopID: shopID, DiscountID: id})
	return int(n), pg.MapError(err)
}
