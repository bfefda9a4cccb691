package orders

import (
	"context"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"
	"cartograph/internal/relay"
	"cartograph/internal/shop"

	"github.com/google/uuid"
)

// Filter narrows an order listing.
type Filter struct {
	Status      *Status
	CustomerID  *uuid.UUID
	CreatedFrom *time.Time
	CreatedTo   *time.Time
}

// withDetails loads lines and events of orders in two statements.
func (s *Service) withDetails(ctx context.Context, shopID uuid.UUID, rows []dbq.Order) ([]*Order, error) {
	out := make([]*Order, len(rows))
	ids := make([]uuid.UUID, len(rows))
	by := map[uuid.UUID]*Order{}
	for i := range rows {
		out[i] = orderFromRow(&rows[i])
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
		by[l.OrderID].Lines = append(by[l.OrderID].Lines, lineFromRow(l))
	}
	events, err := s.q.OrderEventsByOrderIDs(ctx, dbq.OrderEventsByOrderIDsParams{ShopID: shopID, OrderIds: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	for _, e := range events {
		by[e.OrderID].Events = append(by[e.OrderID].Events, eventFromRow(e))
	}
	refunds, err := s.q.RefundsByOrderIDs(ctx, dbq.RefundsByOrderIDsParams{ShopID: shopID, OrderIds: ids})
	if err != nil {
		return nil, pg.MapError(err)
	}
	for _, r := range refunds {
		by[r.OrderID].Refunds = append(by[r.OrderID].Refunds, refundFromRow(r))
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
	if restrict && !auth.Owns(ctx, rows[0].CustomerID) {
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
func (s *Service) List(ctx context.Context, f Filter, p relay.Page) (relay.Conn[*Order], error) {
	var none relay.Conn[*Order]
	if err := auth.Require(ctx, auth.ScopeOrdersRead); err != nil {
		return none, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return none, err
	}
	if own := auth.OwnCustomer(ctx); own != nil {
		f.CustomerID = own
	}
	params := dbq.OrdersPageParams{ShopID: sh.ID, CustomerID: f.CustomerID, CreatedFrom: f.CreatedFrom, CreatedTo: f.CreatedTo, Lim: int32(p.Limit + 1)}
	if f.Status != nil {
		params.Status = dbq.NullOrderStatus{OrderStatus: dbq.OrderStatus(*f.Status), Valid: true}
	}
	if p.After != "" {
		parts, err := relay.DecodeCursor("after", p.After, "ORD", 2)
		if err != nil {
			return none, err
		}
		id, err1 := uuid.Parse(parts[0])
		at, err2 := time.Parse(time.RFC3339Nano, parts[1])
		if err1 != nil || err2 != nil {
			return none, apperr.BadInput("after", "invalid cursor for this query")
		}
		params.AfterCreated, params.AfterID = &at, &id
	}
	rows, err := s.q.OrdersPage(ctx, params)
	if err != nil {
		return none, pg.MapError(err)
	}
	more := len(rows) > p.Limit
	if more {
		rows = rows[:p.Limit] // the probe row only says there is a next page
	}
	list, err := s.withDetails(ctx, sh.ID, rows)
	if err != nil {
		return none, err
	}
	c := relay.ForwardConn(list, p.Limit, p.After != "", func(o *Order) string {
		return relay.EncodeCursor("ORD", o.ID.String(), o.CreatedAt.UTC().Format(time.RFC3339Nano))
	})
	c.PageInfo.HasNextPage = more
	return c, nil
}

// CustomerOrders pages one customer's orders: the customer themself, or
// staff/keys with orders:read.
func (s *Service) CustomerOrders(ctx context.Context, customerID uuid.UUID, p relay.Page) (relay.Conn[*Order], error) {
	if err := auth.OwnerOrStaff(ctx, customerID, auth.ScopeOrdersRead); err != nil {
		return relay.Conn[*Order]{}, err
	}
	return s.List(ctx, Filter{CustomerID: &customerID}, p)
}
