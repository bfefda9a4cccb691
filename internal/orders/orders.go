// Package orders owns the order state machine, the order timeline, and the
// flows that move an order: payment succeeded or failed (webhooks), staff
// actions (mark paid, fulfil, cancel, refund) and reservation expiry. Every
// transition goes through Transition, in the same transaction as the stock
// movement it implies (internal/inventory).
// Errors: NOT_FOUND, FORBIDDEN/UNAUTHENTICATED (scopes), INVALID_TRANSITION
// as a user error, INTERNAL.
package orders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/dbq"
	"cartograph/internal/discounts"
	"cartograph/internal/idempotency"
	"cartograph/internal/inventory"
	"cartograph/internal/metrics"
	"cartograph/internal/payments"
	"cartograph/internal/pg"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// transitions is the whole state machine.
var transitions = map[Status][]Status{
	// PENDING_PAYMENT → PENDING_PAYMENT records a failed payment attempt
	// on the timeline without changing anything else.
	PendingPayment:    {PendingPayment, Paid, Cancelled, Expired},
	Paid:              {Fulfilled, Refunded, PartiallyRefunded, Cancelled},
	PartiallyRefunded: {PartiallyRefunded, Refunded},
}

// Allowed reports whether from → to is a legal transition.
func Allowed(from, to Status) bool { return slices.Contains(transitions[from], to) }

// InvalidTransition is returned (as a user error code) for an illegal move.
const InvalidTransition = "INVALID_TRANSITION"

// TransitionError explains an illegal transition; nothing was changed.
type TransitionError struct{ From, To Status }

// Error says which move was refused.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("an order in status %s cannot become %s", e.From, e.To)
}

// Change is one requested transition.
type Change struct {
	To         Status
	Actor      string
	Note       string
	PaymentRef *string
	Refund     int64
	Reason     *string
	// From, when set, lists the only statuses the move may start from
	// (e.g. releasing stock is only right for an unpaid order, even where
	// the state machine would also allow the move from PAID).
	From []Status
}

// Transition locks the order, checks the move and applies it with a
// timeline event, inside tx. An illegal move returns *TransitionError and
// changes nothing.
func Transition(ctx context.Context, tx pgx.Tx, shopID, orderID uuid.UUID, c Change) (*Order, error) {
	q := dbq.New(tx)
	row, err := q.OrderLock(ctx, dbq.OrderLockParams{ShopID: shopID, ID: orderID})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "no such order")
	}
	if err != nil {
		return nil, pg.MapError(err)
	}
	o := orderFromRow(&row)
	if !Allowed(o.Status, c.To) || (c.From != nil && !slices.Contains(c.From, o.Status)) {
		return o, &TransitionError{From: o.Status, To: c.To}
	}
	if c.Refund > o.TotalAmount-o.RefundedAmount {
		return o, apperr.BadInput("amount", "refund exceeds the amount left to refund")
	}
	updated, err := q.OrderSetStatus(ctx, dbq.OrderSetStatusParams{Status: dbq.OrderStatus(c.To), CancelReason: c.Reason, RefundAmount: c.Refund, ShopID: shopID, ID: orderID})
	if err != nil {
		return nil, pg.MapError(err)
	}
	var amount *int64
	if c.Refund > 0 {
		amount = &c.Refund
	}
	if err := q.OrderEventInsert(ctx, dbq.OrderEventInsertParams{ShopID: shopID, OrderID: orderID,
		FromStatus: dbq.NullOrderStatus{OrderStatus: dbq.OrderStatus(o.Status), Valid: true}, ToStatus: dbq.OrderStatus(c.To), Actor: c.Actor, Note: c.Note, PaymentRef: c.PaymentRef, Amount: amount}); err != nil {
		return nil, pg.MapError(err)
	}
	return orderFromRow(&updated), nil
}

// CartClearer empties a cart once its order is paid (internal/cart).
type CartClearer interface {
	Clear(ctx context.Context, shopID uuid.UUID, cartID string) error
}

// Service runs order flows.
type Service struct {
	db       *pgxpool.Pool
	q        *dbq.Queries
	provider payments.Provider
	idem     *idempotency.Store
	carts    CartClearer
	log      *slog.Logger
	// OnStock observes every committed stock movement (live inventory).
	OnStock inventory.Observer
}

// NewService returns the orders service.
func NewService(db *pgxpool.Pool, provider payments.Provider, idem *idempotency.Store, carts CartClearer, log *slog.Logger) *Service {
	return &Service{db: db, q: dbq.New(pg.Tenant{Pool: db}), provider: provider, idem: idem, carts: carts, log: log}
}

// Result is the outcome of a staff action: the order, or user errors.
type Result struct {
	OrderID    uuid.UUID
	UserErrors []apperr.UserError
}

func (s *Service) notify(ctx context.Context, shopID uuid.UUID, levels []inventory.Level) {
	if s.OnStock != nil && len(levels) > 0 {
		s.OnStock(ctx, shopID, levels)
	}
}

// staffAction runs an authorized transition with optional idempotency.
func (s *Service) staffAction(ctx context.Context, orderID uuid.UUID, key, op string, req any, fn func(context.Context, *shop.Shop) (Result, error)) (Result, error) {
	if err := auth.StaffOrKey(ctx, "customers cannot change orders", auth.ScopeOrdersWrite); err != nil {
		return Result{}, err
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return Result{}, err
	}
	call := func(ctx context.Context) (Result, error) { return fn(ctx, sh) }
	if key == "" {
		return call(ctx)
	}
	return idempotency.Do(ctx, s.idem, sh.ID, auth.FromContext(ctx).Ref(), key, op, req, call)
}

func userErr(err error) (Result, error) {
	var te *TransitionError
	if errors.As(err, &te) {
		return Result{UserErrors: []apperr.UserError{{Field: []string{"id"}, Message: te.Error(), Code: InvalidTransition}}}, nil
	}
	if ae, ok := apperr.As(err); ok && ae.Code == apperr.BadUserInput {
		return Result{UserErrors: []apperr.UserError{{Field: []string{ae.Field}, Message: ae.Message, Code: "INVALID"}}}, nil
	}
	return Result{}, err
}

// MarkPaid confirms payment of a manual-provider order (orders:write):
// PENDING_PAYMENT → PAID, reservations committed.
func (s *Service) MarkPaid(ctx context.Context, orderID uuid.UUID, note, key string) (Result, error) {
	return s.staffAction(ctx, orderID, key, "orderMarkPaid", []any{orderID, note}, func(ctx context.Context, sh *shop.Shop) (Result, error) {
		o, err := s.order(ctx, sh.ID, orderID)
		if err != nil {
			return Result{}, err
		}
		if o.PaymentProvider != "manual" {
			return Result{UserErrors: []apperr.UserError{{Field: []string{"id"}, Message: "only manual-payment orders can be marked paid; card payments are confirmed by the provider", Code: "NOT_MANUAL"}}}, nil
		}
		if err := s.paid(ctx, sh.ID, orderID, auth.FromContext(ctx).Ref(), note, o.PaymentIntentID); err != nil {
			return userErr(err)
		}
		return Result{OrderID: orderID}, nil
	})
}

// PaidWithoutPayment confirms an order whose total is zero (a 100 %
// discount with free shipping): there is nothing to collect and Stripe
// refuses zero-amount intents, so no provider is asked and the order moves
// PENDING_PAYMENT → PAID with its stock committed, as a payment would move
// it. For checkout only (no scope check: checkout authorised the buyer);
// an order with anything to pay is CONFLICT, an order no longer awaiting
// payment a transition error (its current state stands).
func (s *Service) PaidWithoutPayment(ctx context.Context, shopID, orderID uuid.UUID) error {
	o, err := s.order(ctx, shopID, orderID)
	if err != nil {
		return err
	}
	if o.TotalAmount != 0 {
		return apperr.New(apperr.Conflict, "order %s has %d to pay", orderID, o.TotalAmount)
	}
	if o.Status != PendingPayment {
		return nil
	}
	return s.paid(ctx, shopID, orderID, "system:checkout", "nothing to pay: the order total is zero", nil)
}

// order reads one order of the shop, NOT_FOUND when it does not exist.
func (s *Service) order(ctx context.Context, shopID, orderID uuid.UUID) (*Order, error) {
	o, err := s.q.OrderGet(ctx, dbq.OrderGetParams{ShopID: shopID, ID: orderID})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "no such order")
	}
	if err != nil {
		return nil, pg.MapError(err)
	}
	return orderFromRow(&o), nil
}

// paid moves an order to PAID and commits its stock, then clears its cart.
func (s *Service) paid(ctx context.Context, shopID, orderID uuid.UUID, actor, note string, ref *string) error {
	var levels []inventory.Level
	var cartID *string
	err := pg.WithTenantTx(pg.WithShopID(ctx, shopID), s.db, func(tx pgx.Tx) error {
		if err := dropExpiry(ctx, tx, shopID, orderID); err != nil {
			return err
		}
		o, err := Transition(ctx, tx, shopID, orderID, Change{To: Paid, Actor: actor, Note: note, PaymentRef: ref})
		if err != nil {
			return err
		}
		cartID = o.CartID
		levels, err = inventory.Commit(ctx, tx, shopID, orderID)
		return err
	})
	if err != nil {
		return err
	}
	metrics.OrderPaid()
	s.notify(ctx, shopID, levels)
	if cartID != nil && s.carts != nil {
		if err := s.carts.Clear(ctx, shopID, *cartID); err != nil {
			s.log.Warn("clearing cart of paid order", "order", orderID, "err", err)
		}
	}
	return nil
}

// release ends an unpaid order (CANCELLED or EXPIRED) and frees its stock.
// Returns the payment intent to cancel, if any.
func (s *Service) release(ctx context.Context, shopID, orderID uuid.UUID, to Status, actor, note string, reason *string, ref *string) (*Order, error) {
	var levels []inventory.Level
	var out *Order
	err := pg.WithTenantTx(pg.WithShopID(ctx, shopID), s.db, func(tx pgx.Tx) error {
		if err := dropExpiry(ctx, tx, shopID, orderID); err != nil {
			return err
		}
		o, err := Transition(ctx, tx, shopID, orderID, Change{To: to, Actor: actor, Note: note, Reason: reason, PaymentRef: ref, From: []Status{PendingPayment}})
		if err != nil {
			return err
		}
		out = o
		if levels, err = inventory.Release(ctx, tx, shopID, orderID); err != nil {
			return err
		}
		// The order's discount uses are given back with its stock, once.
		return discounts.Release(ctx, tx, shopID, orderID)
	})
	if err != nil {
		return nil, err
	}
	s.notify(ctx, shopID, levels)
	return out, nil
}

// Fulfill marks a paid order shipped (orders:write).
func (s *Service) Fulfill(ctx context.Context, orderID uuid.UUID, note, key string) (Result, error) {
	return s.staffAction(ctx, orderID, key, "orderFulfill", []any{orderID, note}, func(ctx context.Context, sh *shop.Shop) (Result, error) {
		err := pg.WithTenantTx(ctx, s.db, func(tx pgx.Tx) error {
			_, err := Transition(ctx, tx, sh.ID, orderID, Change{To: Fulfilled, Actor: auth.FromContext(ctx).Ref(), Note: note})
			return err
		})
		if err != nil {
			return userErr(err)
		}
		return Result{OrderID: orderID}, nil
	})
}

// Cancel cancels an order (orders:write). Unpaid: the payment intent is
// cancelled at the provider first, then the stock released; if the
// provider answers that the buyer has already paid, the order is completed
// as paid and then cancelled like a paid one (refund and restock); if the
// provider cannot be reached, nothing changes and the error is
// SERVICE_UNAVAILABLE. Paid (not yet fulfilled): refunded in full through
// the provider and its units put back on hand.
func (s *Service) Cancel(ctx context.Context, orderID uuid.UUID, reason, key string) (Result, error) {
	return s.staffAction(ctx, orderID, key, "orderCancel", []any{orderID, reason}, func(ctx context.Context, sh *shop.Shop) (Result, error) {
		o, err := s.order(ctx, sh.ID, orderID)
		if err != nil {
			return Result{}, err
		}
		if o.Status == PendingPayment {
			switch err := s.cancelIntent(ctx, o); {
			case errors.Is(err, payments.ErrIntentSucceeded):
				if err := s.paid(ctx, sh.ID, orderID, "system", "payment found succeeded at the provider while cancelling", o.PaymentIntentID); err != nil && !isTransition(err) {
					return Result{}, err
				}
				o.Status = Paid
			case err != nil:
				return Result{}, err
			}
		}
		if o.Status == Paid {
			return s.refund(ctx, sh.ID, orderID, nil, true, reason, requestKey("orderCancel", key))
		}
		if _, err := s.release(ctx, sh.ID, orderID, Cancelled, auth.FromContext(ctx).Ref(), reason, &reason, nil); err != nil {
			return userErr(err)
		}
		return Result{OrderID: orderID}, nil
	})
}

func isTransition(err error) bool {
	var te *TransitionError
	return errors.As(err, &te)
}

// cancelIntent cancels the order's payment intent at the provider that
// holds it, before any stock is released: nil when it is cancelled (or the
// order has none), payments.ErrIntentSucceeded when the buyer paid first,
// SERVICE_UNAVAILABLE when the outcome is unknown.
func (s *Service) cancelIntent(ctx context.Context, o *Order) error {
	if o.PaymentIntentID == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refundCallTimeout)
	defer cancel()
	err := s.providerFor(o.PaymentProvider).Cancel(cctx, *o.PaymentIntentID)
	if err != nil && !errors.Is(err, payments.ErrIntentSucceeded) {
		s.log.Warn("cancelling payment intent failed; the order keeps its stock until it can be cancelled", "order", o.ID, "intent", *o.PaymentIntentID, "err", err)
		if ae, ok := apperr.As(err); ok && ae.Code == apperr.ServiceUnavailable {
			return err
		}
		return apperr.Wrap(err, apperr.ServiceUnavailable, "the payment provider could not cancel the payment; nothing was changed, try again")
	}
	return err
}

// Refund refunds amount (all that is left when amount is nil) of a paid
// order through the provider (orders:write). The idempotency key is
// required: refunds move money.
func (s *Service) Refund(ctx context.Context, orderID uuid.UUID, amount *int64, reason, key string) (Result, error) {
	if key == "" {
		return Result{}, apperr.BadInput("idempotencyKey", "orderRefund requires an idempotencyKey")
	}
	return s.staffAction(ctx, orderID, key, "orderRefund", []any{orderID, amount, reason}, func(ctx context.Context, sh *shop.Shop) (Result, error) {
		return s.refund(ctx, sh.ID, orderID, amount, false, reason, requestKey("orderRefund", key))
	})
}

// requestKey names a staff request for its refund row ("" without a key).
func requestKey(op, key string) string {
	if key == "" {
		return ""
	}
	return op + " " + key
}

func nilIfEmpty(s string, keep bool) *string {
	if !keep || s == "" {
		return nil
	}
	return &s
}

// PaymentSucceeded handles the provider's confirmation, exactly once per
// event id: PENDING_PAYMENT → PAID with stock committed and the cart
// cleared. A payment that lands on an order already CANCELLED or EXPIRED
// (its stock is gone) is refunded in full automatically: the refund is
// recorded in the same transaction as the event, then settled like any
// other refund (and resumed by the sweeper after a crash); the order keeps
// its status and the timeline says so. Unknown orders are acknowledged
// (false) and logged.
func (s *Service) PaymentSucceeded(ctx context.Context, eventID, eventType string, shopID, orderID uuid.UUID, intentID string) (bool, error) {
	var late *dbq.Refund
	applied, err := s.paymentEvent(ctx, eventID, eventType, shopID, orderID, intentID, func(tx pgx.Tx) ([]inventory.Level, *string, error) {
		q := dbq.New(tx)
		row, err := q.OrderLock(ctx, dbq.OrderLockParams{ShopID: shopID, ID: orderID})
		if err != nil {
			return nil, nil, pg.MapError(err)
		}
		if st := Status(row.Status); st == Cancelled || st == Expired {
			pending, err := q.RefundPendingTotal(ctx, dbq.RefundPendingTotalParams{ShopID: shopID, OrderID: orderID})
			if err != nil {
				return nil, nil, pg.MapError(err)
			}
			left := row.TotalAmount - row.RefundedAmount - pending
			if left <= 0 {
				return nil, nil, &TransitionError{From: st, To: Paid}
			}
			r, err := insertRefund(ctx, q, shopID, orderID, left, st, row.PaymentProvider,
				"payment arrived after the order was "+strings.ToLower(string(st))+"; refunded automatically", "stripe", nil)
			if err != nil {
				return nil, nil, err
			}
			late = &r
			return nil, nil, nil
		}
		if err := dropExpiry(ctx, tx, shopID, orderID); err != nil {
			return nil, nil, err
		}
		o, err := Transition(ctx, tx, shopID, orderID, Change{To: Paid, Actor: "stripe", Note: eventType, PaymentRef: &intentID})
		if err != nil {
			return nil, nil, err
		}
		levels, err := inventory.Commit(ctx, tx, shopID, orderID)
		return levels, o.CartID, err
	})
	if err == nil && applied && late == nil {
		metrics.OrderPaid()
	}
	if err != nil || late == nil {
		return applied, err
	}
	if err := s.settleRefund(context.WithoutCancel(ctx), late, intentID); err != nil {
		// Recorded: a definite refusal is on the refund row, anything else
		// is retried by the sweeper. The event itself is handled.
		s.log.Error("refunding a payment for a closed order", "order", orderID, "refund", late.ID, "err", err)
	}
	return applied, nil
}

// PaymentFailed handles a failed or cancelled payment, exactly once per
// event id: reservations released, order CANCELLED with the reason.
func (s *Service) PaymentFailed(ctx context.Context, eventID, eventType string, shopID, orderID uuid.UUID, intentID, reason string) (bool, error) {
	applied, err := s.paymentFailed(ctx, eventID, eventType, shopID, orderID, intentID, reason)
	if applied && err == nil {
		if eventType == "payment_intent.payment_failed" {
			metrics.PaymentFailed("failed")
		} else {
			metrics.PaymentFailed("canceled")
		}
	}
	return applied, err
}

func (s *Service) paymentFailed(ctx context.Context, eventID, eventType string, shopID, orderID uuid.UUID, intentID, reason string) (bool, error) {
	return s.paymentEvent(ctx, eventID, eventType, shopID, orderID, intentID, func(tx pgx.Tx) ([]inventory.Level, *string, error) {
		if eventType == "payment_intent.payment_failed" {
			// A declined attempt leaves the intent open: the buyer may
			// retry with another card. The order keeps its reservation
			// (until it expires, which cancels the intent) and the attempt
			// goes on its timeline.
			_, err := Transition(ctx, tx, shopID, orderID, Change{To: PendingPayment, Actor: "stripe", Note: "payment attempt failed: " + reason,
				PaymentRef: &intentID, From: []Status{PendingPayment}})
			return nil, nil, err
		}
		if err := dropExpiry(ctx, tx, shopID, orderID); err != nil {
			return nil, nil, err
		}
		if _, err := Transition(ctx, tx, shopID, orderID, Change{To: Cancelled, Actor: "stripe", Note: eventType, PaymentRef: &intentID, Reason: &reason, From: []Status{PendingPayment}}); err != nil {
			return nil, nil, err
		}
		levels, err := inventory.Release(ctx, tx, shopID, orderID)
		return levels, nil, err
	})
}

// paymentEvent records the event id and applies fn in one transaction: a
// concurrent duplicate blocks on the event's key and then finds it taken.
// A transition that is no longer legal (e.g. the order expired first) is
// recorded and acknowledged rather than retried forever.
func (s *Service) paymentEvent(ctx context.Context, eventID, eventType string, shopID, orderID uuid.UUID, intentID string, fn func(pgx.Tx) ([]inventory.Level, *string, error)) (bool, error) {
	var levels []inventory.Level
	var cartID *string
	applied := false
	err := pg.WithTenantTx(pg.WithShopID(ctx, shopID), s.db, func(tx pgx.Tx) error {
		n, err := dbq.New(tx).StripeEventRecord(ctx, dbq.StripeEventRecordParams{EventID: eventID, Type: eventType})
		if err != nil {
			return pg.MapError(err)
		}
		if n == 0 {
			return nil // already processed
		}
		// Queue row before order row, like every other path (dropExpiry).
		if err := dbq.New(tx).OrderExpiryLock(ctx, dbq.OrderExpiryLockParams{ShopID: shopID, OrderID: orderID}); err != nil {
			return pg.MapError(err)
		}
		o, err := dbq.New(tx).OrderLock(ctx, dbq.OrderLockParams{ShopID: shopID, ID: orderID})
		if errors.Is(err, pgx.ErrNoRows) {
			s.log.Warn("payment event for unknown order", "event", eventID, "type", eventType, "order", orderID)
			return nil
		}
		if err != nil {
			return pg.MapError(err)
		}
		if o.PaymentIntentID == nil || *o.PaymentIntentID != intentID {
			s.log.Warn("payment event for another payment of the order", "event", eventID, "order", orderID, "intent", intentID)
			return nil
		}
		// fn drops the order's expiry itself when it moves the order out
		// of PENDING_PAYMENT: a declined attempt must leave it queued, or
		// the reservation would never expire.
		levels, cartID, err = fn(tx)
		var te *TransitionError
		if errors.As(err, &te) || apperr.CodeOf(err) == apperr.NotFound {
			s.log.Warn("payment event not applicable", "event", eventID, "type", eventType, "order", orderID, "err", err)
			return nil // keep the event row: acknowledged, never retried
		}
		if err != nil {
			return err
		}
		applied = true
		return nil
	})
	if err != nil {
		return false, err
	}
	if applied {
		s.notify(ctx, shopID, levels)
		if cartID != nil && s.carts != nil {
			if err := s.carts.Clear(ctx, shopID, *cartID); err != nil {
				s.log.Warn("clearing cart of paid order", "order", orderID, "err", err)
			}
		}
	}
	return applied, nil
}

// dropExpiry removes the order from the expiry queue. Every path that
// moves an order takes the queue row before the order row, as the sweeper
// does, so the two can never deadlock; if the sweeper holds it, this waits
// and then finds the order already expired.
func dropExpiry(ctx context.Context, tx pgx.Tx, shopID, orderID uuid.UUID) error {
	return pg.MapError(dbq.New(tx).OrderExpiryDelete(ctx, dbq.OrderExpiryDeleteParams{ShopID: shopID, OrderID: orderID}))
}

// CancelRetryAfter is how long an expired order whose payment could not be
// cancelled at the provider (or is being cancelled by another instance)
// waits before the sweeper asks again.
const CancelRetryAfter = 30 * time.Second

// SweepExpired ends up to limit expired reservations. Safe on every
// instance at once: each due order is claimed with FOR UPDATE SKIP LOCKED.
// An order paid through a provider is not released at once: its claim is
// postponed by CancelRetryAfter and committed, the intent is cancelled at
// the provider, and only then is the order EXPIRED and its stock released.
// If the provider answers that the buyer paid first, the order becomes
// PAID instead (stock committed); if the provider cannot be reached,
// nothing is released and the postponed claim makes a later sweep retry.
// A webhook that settles the order meanwhile wins (the later move is then
// refused by the state machine and dropped). Orders without a provider
// intent (manual payments) expire in the claiming transaction.
func (s *Service) SweepExpired(ctx context.Context, limit int) (int, error) {
	done := 0
	for range limit {
		var shopID uuid.UUID
		var expired, ask *Order
		var levels []inventory.Level
		found := false
		err := pg.WithTx(ctx, s.db, func(tx pgx.Tx) error {
			q := dbq.New(tx)
			rows, err := q.OrderExpiriesDue(ctx, 1)
			if err != nil || len(rows) == 0 {
				return pg.MapError(err)
			}
			found = true
			shopID = rows[0].ShopID
			orderID := rows[0].OrderID
			if err := pg.SetTenant(ctx, tx, shopID); err != nil {
				return err
			}
			row, err := q.OrderGet(ctx, dbq.OrderGetParams{ShopID: shopID, ID: orderID})
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return pg.MapError(err)
			}
			if err == nil && Status(row.Status) == PendingPayment && row.PaymentIntentID != nil && row.PaymentProvider != (payments.Manual{}).Name() {
				ask = orderFromRow(&row)
				return pg.MapError(q.OrderExpiryPostpone(ctx, dbq.OrderExpiryPostponeParams{ExpiresAt: time.Now().Add(CancelRetryAfter), ShopID: shopID, OrderID: orderID}))
			}
			if err := dropExpiry(ctx, tx, shopID, orderID); err != nil {
				return err
			}
			o, err := Transition(ctx, tx, shopID, orderID, Change{To: Expired, Actor: "system", Note: "reservation expired", From: []Status{PendingPayment}})
			if isTransition(err) || apperr.CodeOf(err) == apperr.NotFound {
				return nil // paid or cancelled meanwhile: just drop the queue row
			}
			if err != nil {
				return err
			}
			expired = o
			if levels, err = inventory.Release(ctx, tx, shopID, orderID); err != nil {
				return err
			}
			// The expired order's discount uses are given back, once.
			return discounts.Release(ctx, tx, shopID, orderID)
		})
		if err != nil {
			return done, err
		}
		if !found {
			break
		}
		if ask != nil {
			ok, err := s.expireAfterCancel(ctx, ask)
			if err != nil {
				return done, err
			}
			if ok {
				done++
			}
			continue
		}
		if expired != nil {
			metrics.CheckoutAbandoned()
			done++
			s.notify(ctx, shopID, levels)
		}
	}
	return done, nil
}

// expireAfterCancel cancels o's intent at the provider and then expires
// the order (true), or completes it when the buyer paid first (true), or
// leaves it for a later sweep when the provider cannot be reached (false).
func (s *Service) expireAfterCancel(ctx context.Context, o *Order) (bool, error) {
	switch err := s.cancelIntent(ctx, o); {
	case errors.Is(err, payments.ErrIntentSucceeded):
		err := s.paid(ctx, o.ShopID, o.ID, "system", "reservation expired, but the payment had succeeded at the provider", o.PaymentIntentID)
		if isTransition(err) {
			return false, nil // the webhook got there first
		}
		return err == nil, err
	case err != nil:
		return false, nil // logged; retried after CancelRetryAfter
	}
	_, err := s.release(ctx, o.ShopID, o.ID, Expired, "system", "reservation expired; payment cancelled at the provider", nil, nil)
	if isTransition(err) {
		return false, nil
	}
	if err == nil {
		metrics.CheckoutAbandoned()
	}
	return err == nil, err
}

// ResumeRefundsAfter is how long a refund may stay pending before the
// sweeper retries it: longer than any live provider call (refundCallTimeout).
const ResumeRefundsAfter = 45 * time.Second

// RunSweeper expires reservations and resumes stranded refunds every interval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.SweepExpired(ctx, 100); err != nil && ctx.Err() == nil {
				s.log.Warn("reservation sweep failed", "err", err)
			}
			if _, err := s.ResumeRefunds(ctx, ResumeRefundsAfter, 100); err != nil && ctx.Err() == nil {
				s.log.Warn("resuming pending refunds failed", "err", err)
			}
		}
	}
}
