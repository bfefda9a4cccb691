package discounts

import (
	"context"
	"errors"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/dbq"
	"cartograph/internal/money"
	"cartograph/internal/pg"
	"cartograph/internal/pricing"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Discount is a discount as staff see it.
type Discount struct {
	ID               uuid.UUID
	Code             *string
	Title            string
	Kind             pricing.Kind
	Scope            pricing.Scope
	Value            int64
	Currency         money.Currency
	ProductIDs       []uuid.UUID
	CollectionIDs    []uuid.UUID
	MinSubtotal      int64
	MinQuantity      int
	StartsAt         time.Time
	EndsAt           *time.Time
	UsageLimit       *int
	PerCustomerLimit *int
	UsedCount        int
	Active           bool
}

// Input creates or updates a discount. Value is hundredths of a percent
// for PERCENTAGE (≤ 10000) and minor units of Currency for FIXED_AMOUNT.
type Input struct {
	Code             *string
	Title            string
	Kind             pricing.Kind
	Scope            pricing.Scope
	Value            int64
	Currency         money.Currency
	ProductIDs       []uuid.UUID
	CollectionIDs    []uuid.UUID
	MinSubtotal      int64
	MinQuantity      int
	StartsAt         *time.Time
	EndsAt           *time.Time
	UsageLimit       *int
	PerCustomerLimit *int
	Active           bool
}

// Validate returns the coded user errors of in (nothing is written when
// there are any).
func Validate(in Input) []apperr.UserError {
	var ues []apperr.UserError
	add := func(field, code, msg string) {
		ues = append(ues, apperr.UserError{Field: []string{"input", field}, Code: code, Message: msg})
	}
	if in.Code != nil && !wellFormed(*in.Code) {
		add("code", "INVALID", "a code has 1 to 255 characters and no control characters")
	}
	if in.Title == "" || len(in.Title) > 255 {
		add("title", "INVALID", "the title has 1 to 255 characters")
	}
	switch in.Kind {
	case pricing.Percentage:
		if in.Value <= 0 || in.Value > pricing.PercentScale {
			add("value", "INVALID_PERCENTAGE", "a percentage is between 0.01 and 100")
		}
	case pricing.FixedAmount:
		if in.Value <= 0 {
			add("value", "INVALID_AMOUNT", "the amount must be positive")
		}
	case pricing.FreeShipping:
	default:
		add("kind", "INVALID", "unknown discount kind")
	}
	switch in.Scope {
	case pricing.ScopeOrder:
	case pricing.ScopeProducts:
		if len(in.ProductIDs) == 0 {
			add("productIds", "INVALID", "a product discount names at least one product")
		}
	case pricing.ScopeCollections:
		if len(in.CollectionIDs) == 0 {
			add("collectionIds", "INVALID", "a collection discount names at least one collection")
		}
	default:
		add("scope", "INVALID", "unknown discount scope")
	}
	if in.Kind == pricing.FreeShipping && in.Scope != pricing.ScopeOrder {
		add("scope", "INVALID", "free shipping applies to the order")
	}
	if len(in.ProductIDs) > 250 || len(in.CollectionIDs) > 250 {
		add("productIds", "TOO_MANY", "at most 250 products and 250 collections")
	}
	if !in.Currency.Valid() {
		add("currencyCode", "UNKNOWN_CURRENCY", "unknown currency")
	}
	if in.MinSubtotal < 0 {
		add("minimumSubtotal", "INVALID_AMOUNT", "the minimum must not be negative")
	}
	if in.MinQuantity < 0 || in.MinQuantity > 100000 {
		add("minimumQuantity", "INVALID", "the minimum quantity is between 0 and 100000")
	}
	if in.StartsAt != nil && in.EndsAt != nil && !in.EndsAt.After(*in.StartsAt) {
		add("endsAt", "INVALID_DATES", "the end must be after the start")
	}
	if in.UsageLimit != nil && (*in.UsageLimit <= 0 || *in.UsageLimit > 1<<30) {
		add("usageLimit", "INVALID", "the usage limit must be positive")
	}
	if in.PerCustomerLimit != nil && (*in.PerCustomerLimit <= 0 || *in.PerCustomerLimit > 1<<30) {
		add("perCustomerLimit", "INVALID", "the per-customer limit must be positive")
	}
	return ues
}

func i32(p *int) *int32 {
	if p == nil {
		return nil
	}
	v := int32(*p)
	return &v
}

// Create creates a discount (discounts:write). A code already used by
// another discount of the shop (case-insensitively) is a TAKEN user error.
func (s *Service) Create(ctx context.Context, in Input) (*Discount, []apperr.UserError, error) {
	if err := auth.Require(ctx, auth.ScopeDiscountsWrite); err != nil {
		return nil, nil, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	if in.Currency == "" {
		in.Currency = sh.CurrencyCode
	}
	if ues := Validate(in); len(ues) > 0 {
		return nil, ues, nil
	}
	starts := s.now()
	if in.StartsAt != nil {
		starts = *in.StartsAt
	}
	row, err := s.q.DiscountInsert(pg.WithShopID(ctx, sh.ID), dbq.DiscountInsertParams{ShopID: sh.ID, Code: in.Code, Title: in.Title,
		Kind: dbq.DiscountKind(in.Kind), Scope: dbq.DiscountScope(in.Scope), Value: in.Value, CurrencyCode: in.Currency,
		ProductIds: nonNil(in.ProductIDs), CollectionIds: nonNil(in.CollectionIDs), MinSubtotal: in.MinSubtotal, MinQuantity: int32(in.MinQuantity),
		StartsAt: starts, EndsAt: in.EndsAt, UsageLimit: i32(in.UsageLimit), PerCustomerLimit: i32(in.PerCustomerLimit), Active: in.Active})
	if err != nil {
		if e := pg.MapError(err); apperr.CodeOf(e) == apperr.Conflict {
			return nil, []apperr.UserError{{Field: []string{"input", "code"}, Code: "TAKEN", Message: "another discount has this code"}}, nil
		}
		return nil, nil, pg.MapError(err)
	}
	return fromRow(&row), nil, nil
}

// Update changes a discount's title, value, minimums, window, limits and
// active flag (discounts:write); its code, kind, scope and currency are
// fixed once created. NOT_FOUND for another shop's discount.
func (s *Service) Update(ctx context.Context, id uuid.UUID, in Input) (*Discount, []apperr.UserError, error) {
	if err := auth.Require(ctx, auth.ScopeDiscountsWrite); err != nil {
		return nil, nil, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	rows, err := s.q.DiscountsByIDs(pg.WithShopID(ctx, sh.ID), dbq.DiscountsByIDsParams{ShopID: sh.ID, Ids: []uuid.UUID{id}})
	if err != nil {
		return nil, nil, pg.MapError(err)
	}
	if len(rows) == 0 {
		return nil, nil, apperr.New(apperr.NotFound, "no such discount")
	}
	cur := fromRow(&rows[0])
	in.Code, in.Kind, in.Scope, in.Currency, in.ProductIDs, in.CollectionIDs = cur.Code, cur.Kind, cur.Scope, cur.Currency, cur.ProductIDs, cur.CollectionIDs
	if in.StartsAt == nil {
		in.StartsAt = &cur.StartsAt
	}
	if ues := Validate(in); len(ues) > 0 {
		return nil, ues, nil
	}
	if in.UsageLimit != nil && *in.UsageLimit < cur.UsedCount {
		return nil, []apperr.UserError{{Field: []string{"input", "usageLimit"}, Code: "INVALID", Message: "the limit is below the uses already made"}}, nil
	}
	row, err := s.q.DiscountUpdate(pg.WithShopID(ctx, sh.ID), dbq.DiscountUpdateParams{ShopID: sh.ID, ID: id, Title: in.Title, Value: in.Value,
		MinSubtotal: in.MinSubtotal, MinQuantity: int32(in.MinQuantity), StartsAt: *in.StartsAt, EndsAt: in.EndsAt,
		UsageLimit: i32(in.UsageLimit), PerCustomerLimit: i32(in.PerCustomerLimit), Active: in.Active})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, apperr.New(apperr.NotFound, "no such discount")
	}
	if err != nil {
		return nil, nil, pg.MapError(err)
	}
	return fromRow(&row), nil, nil
}

// Deactivate stops a discount from applying (discounts:write); uses already
// made stay counted.
func (s *Service) Deactivate(ctx context.Context, id uuid.UUID) (*Discount, []apperr.UserError, error) {
	if err := auth.Require(ctx, auth.ScopeDiscountsWrite); err != nil {
		return nil, nil, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	rows, err := s.q.DiscountsByIDs(pg.WithShopID(ctx, sh.ID), dbq.DiscountsByIDsParams{ShopID: sh.ID, Ids: []uuid.UUID{id}})
	if err != nil {
		return nil, nil, pg.MapError(err)
	}
	if len(rows) == 0 {
		return nil, nil, apperr.New(apperr.NotFound, "no such discount")
	}
	d := fromRow(&rows[0])
	in := Input{Title: d.Title, Value: d.Value, MinSubtotal: d.MinSubtotal, MinQuantity: d.MinQuantity, StartsAt: &d.StartsAt, EndsAt: d.EndsAt,
		UsageLimit: d.UsageLimit, PerCustomerLimit: d.PerCustomerLimit}
	return s.Update(ctx, id, in)
}

func nonNil(ids []uuid.UUID) []uuid.UUID {
	if ids == nil {
		return []uuid.UUID{}
	}
	return ids
}

func fromRow(r *dbq.Discount) *Discount {
	d := &Discount{ID: r.ID, Code: r.Code, Title: r.Title, Kind: pricing.Kind(r.Kind), Scope: pricing.Scope(r.Scope), Value: r.Value,
		Currency: r.CurrencyCode, ProductIDs: r.ProductIds, CollectionIDs: r.CollectionIds, MinSubtotal: r.MinSubtotal, MinQuantity: int(r.MinQuantity),
		StartsAt: r.StartsAt, EndsAt: r.EndsAt, UsedCount: int(r.UsedCount), Active: r.Active}
	if r.UsageLimit != nil {
		v := int(*r.UsageLimit)
		d.UsageLimit = &v
	}
	if r.PerCustomerLimit != nil {
		v := int(*r.PerCustomerLimit)
		d.PerCustomerLimit = &v
	}
	return d
}

// List returns the shop's discounts, codes and automatic ones, oldest
// first (discounts:write): first 1 to 250, after the last id of the
// previous page. BAD_USER_INPUT for first out of range.
func (s *Service) List(ctx context.Context, first int, after *uuid.UUID) ([]*Discount, error) {
	sh, err := auth.RequireIn(ctx, auth.ScopeDiscountsWrite)
	if err != nil {
		return nil, err
	}
	if first < 1 || first > 250 {
		return nil, apperr.BadInput("first", "first is 1 to 250")
	}
	rows, err := s.q.DiscountsList(pg.WithShopID(ctx, sh.ID), dbq.DiscountsListParams{ShopID: sh.ID, After: after, Lim: int32(first)})
	if err != nil {
		return nil, pg.MapError(err)
	}
	out := make([]*Discount, len(rows))
	for i := range rows {
		out[i] = fromRow(&rows[i])
	}
	return out, nil
}
