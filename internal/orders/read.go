package orders

import (
	"context"
	"strconv"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"
	"cartograph/internal/relay"
	"cartograph/internal/shop"

	"github.com/google/uuid"
)

// Order is an order with its line snapshot and timeline.
type Order struct {
	dbq.Order
	Lines  []dbq.OrderLine
	Events []dbq.OrderEvent
}

// NodeID is the order's global ID.
func (o *Order) NodeID() string { return relay.GlobalID("Order", o.ID) }

// IsNode marks Order as a Node.
func (*Order) IsNode() {}

// Name is the human order number, "#1001".
func (o *Order) Name() string { return "#" + strconv.FormatInt(o.Number, 10) }

// Filter narrows an order listing.
type Filter struct {
	Status      *Status
	CustomerID  *uuid.UUID
	CreatedFrom *time.Time
	CreatedTo   *time.Time
}

// Cursor marks a position in the newest-first order listing.
type Cursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// withDetails loads lines and events of orders in two statements.
func (s *Service) withDetails(ctx context.Context, shopID uuid.UUID, rows []dbq.Order) ([]*Order, error) {
	out := make([]*Order, len(rows))
	ids := make([]uuid.UUID, len(rows))
	by := map[uuid.UUID]*Order{}
	for i := range rows {
		out[i] = &Order{Order: rows[i]}
		ids[i] = rows[i].ID
		by[rows[i].ID] = out[i]
	}
	if len(ids) == 0 {
		return out, nil
	}
	lines, err := s.q.OrderLinesByOrderIDs(ctx, dbq.OrderLinesByOrderIDsParams{ShopID: shopID, OrderIds: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	for _, l := range lines {
		by[l.OrderID].Lines = append(by[l.OrderID].Lines, l)
	}
	events, err := s.q.OrderEventsByOrderIDs(ctx, dbq.OrderEventsByOrderIDsParams{ShopID: shopID, OrderIds: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	for _, e := range events {
		by[e.OrderID].Events = append(by[e.OrderID].Events, e)
	}
	return out, nil
}

// Get returns one order: staff and keys with orders:read see any order of
// the shop, a customer only their own (others are null).
func (s *Service) Get(ctx context.Context, id uuid.UUID) (*Order, error) {
	if err := auth.Require(ctx, auth.ScopeOrdersRead); err != nil {
		return nil, err
	}
	return s.byID(ctx, id, true)
}

// ByIDInternal returns an order without a scope check: for payloads of
// mutations that were themselves authorized (checkoutBegin).
func (s *Service) ByIDInternal(ctx context.Context, id uuid.UUID) (*Order, error) {
	return s.byID(ctx, id, false)
}

func (s *Service) byID(ctx context.Context, id uuid.UUID, restrict bool) (*Order, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.OrdersByIDs(ctx, dbq.OrdersByIDsParams{ShopID: sh.ID, Ids: []uuid.UUID{id}})
	if err != nil {
		return nil, pg.MapError(err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	if p := auth.FromContext(ctx); restrict && p.Kind == auth.Customer && (rows[0].CustomerID == nil || *rows[0].CustomerID != p.CustomerID) {
		return nil, nil
	}
	out, err := s.withDetails(ctx, sh.ID, rows)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// List pages the shop's orders, newest first (orders:read). A customer is
// limited to their own orders whatever the filter says.
func (s *Service) List(ctx context.Context, f Filter, after *Cursor, limit int) ([]*Order, bool, error) {
	if err := auth.Require(ctx, auth.ScopeOrdersRead); err != nil {
		return nil, false, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, false, err
	}
	if p := auth.FromContext(ctx); p.Kind == auth.Customer {
		f.CustomerID = &p.CustomerID
	}
	params := dbq.OrdersPageParams{ShopID: sh.ID, CustomerID: f.CustomerID, CreatedFrom: f.CreatedFrom, CreatedTo: f.CreatedTo, Lim: int32(limit + 1)}
	if f.Status != nil {
		params.Status = dbq.NullOrderStatus{OrderStatus: *f.Status, Valid: true}
	}
	if after != nil {
		params.AfterCreated, params.AfterID = &after.CreatedAt, &after.ID
	}
	rows, err := s.q.OrdersPage(ctx, params)
	if err != nil {
		return nil, false, pg.MapError(err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	out, err := s.withDetails(ctx, sh.ID, rows)
	return out, more, err
}

// CustomerOrders pages one customer's orders: the customer themself, or
// staff/keys with orders:read.
func (s *Service) CustomerOrders(ctx context.Context, customerID uuid.UUID, after *Cursor, limit int) ([]*Order, bool, error) {
	p := auth.FromContext(ctx)
	if p.Kind == auth.Customer && p.CustomerID != customerID {
		return nil, false, apperr.New(apperr.Forbidden, "customers can only read their own orders")
	}
	return s.List(ctx, Filter{CustomerID: &customerID}, after, limit)
}
