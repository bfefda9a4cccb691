package orders

import (
	"context"
	"errors"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/dbq"
	"cartograph/internal/discounts"
	"cartograph/internal/inventory"
	"cartograph/internal/payments"
	"cartograph/internal/pg"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Refund states (refunds.state).
const (
	RefundPending   = "pending"
	RefundSucceeded = "succeeded"
	RefundFailed    = "failed"
)

// refundCallTimeout bounds one provider call; the request's own deadline
// does not apply (see refund), so a client that hangs up cannot strand it.
const refundCallTimeout = 30 * time.Second

// refundLease is how long a claimed pending refund is left alone by other
// recovery passes while one instance retries it.
const refundLease = time.Minute

// refund returns money for a paid order: record, then act, then confirm.
//
//  1. Under the order's row lock, check the status and that the amount fits
//     in what is left (total − refunded − pending refunds), and insert a
//     pending refund row: that row reserves the amount, so concurrent
//     refunds and cancels that do not fit fail here and never reach the
//     provider.
//  2. Ask the provider, with an idempotency key derived from the row id.
//  3. Mark the row succeeded and move the order (REFUNDED,
//     PARTIALLY_REFUNDED, or CANCELLED with restock when cancel is set).
//
// A definite provider refusal marks the row failed (the amount is released)
// and returns the error. Any other provider error leaves the row pending:
// the money may have moved, so only ResumeRefunds, with the same key, may
// settle it. amount nil means everything that is left.
//
// requestKey (the operation and idempotency key of the request, "" for
// none) is stored on the row: a retry of a request that died after step 1
// finds its row and finishes it with the same provider key, instead of
// being refused because that row still reserves the amount.
func (s *Service) refund(ctx context.Context, shopID, orderID uuid.UUID, amount *int64, cancel bool, reason, requestKey string) (Result, error) {
	actor := auth.FromContext(ctx).Ref()
	var rk *string
	if requestKey != "" {
		k := actor + " " + requestKey
		rk = &k
	}
	var r dbq.Refund
	var intent string
	var levels []inventory.Level
	done := false    // settled without a provider call (nothing to refund)
	resumed := false // r is the row an earlier attempt of this request recorded
	err := pg.WithTenantTx(pg.WithShopID(ctx, shopID), s.db, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		row, err := q.OrderLock(ctx, dbq.OrderLockParams{ShopID: shopID, ID: orderID})
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.New(apperr.NotFound, "no such order")
		}
		if err != nil {
			return pg.MapError(err)
		}
		o := orderFromRow(&row)
		if rk != nil && o.PaymentIntentID != nil {
			prior, err := q.RefundByRequestKey(ctx, dbq.RefundByRequestKeyParams{ShopID: shopID, OrderID: orderID, RequestKey: rk})
			if err != nil {
				return pg.MapError(err)
			}
			if len(prior) > 0 {
				r, intent, resumed = prior[0], *o.PaymentIntentID, true
				return nil
			}
		}
		pending, err := q.RefundPendingTotal(ctx, dbq.RefundPendingTotalParams{ShopID: shopID, OrderID: orderID})
		if err != nil {
			return pg.MapError(err)
		}
		left := o.TotalAmount - o.RefundedAmount - pending
		target := Refunded
		amt := left
		if cancel {
			target = Cancelled
			if o.Status != Paid {
				return &TransitionError{From: o.Status, To: Cancelled}
			}
			if pending > 0 {
				return apperr.BadInput("id", "a refund of this order is in progress; cancel it once that refund is settled")
			}
			if left == 0 { // a free order: nothing to return, just cancel
				if _, err := Transition(ctx, tx, shopID, orderID, Change{To: Cancelled, Actor: actor, Note: reason, Reason: nilIfEmpty(reason, true)}); err != nil {
					return err
				}
				levels, err = inventory.Restock(ctx, tx, shopID, orderID)
				done = true
				return err
			}
		} else {
			if amount != nil {
				amt = *amount
			}
			if amt <= 0 || amt > left {
				return apperr.BadInput("amount", "refund must be positive and at most what is left to refund")
			}
			if !Allowed(o.Status, Refunded) {
				return &TransitionError{From: o.Status, To: Refunded}
			}
		}
		if o.PaymentIntentID == nil {
			return apperr.New(apperr.Internal, "order has no payment to refund")
		}
		intent = *o.PaymentIntentID
		r, err = insertRefund(ctx, q, shopID, orderID, amt, target, o.PaymentProvider, reason, actor, rk)
		return err
	})
	if err != nil {
		return userErr(err)
	}
	if resumed && r.State == RefundSucceeded {
		return Result{OrderID: orderID}, nil
	}
	if done {
		s.notify(ctx, shopID, levels)
		return Result{OrderID: orderID}, nil
	}
	// The refund is recorded: finish it even if the caller goes away.
	if err := s.settleRefund(context.WithoutCancel(ctx), &r, intent); err != nil {
		return Result{}, err
	}
	return Result{OrderID: orderID}, nil
}

// insertRefund records a pending refund and queues it for recovery; the
// caller holds the order's row lock and has checked the amount fits.
func insertRefund(ctx context.Context, q *dbq.Queries, shopID, orderID uuid.UUID, amt int64, target Status, provider, reason, actor string, requestKey *string) (dbq.Refund, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return dbq.Refund{}, apperr.Wrap(err, apperr.Internal, "refund id")
	}
	r, err := q.RefundInsert(ctx, dbq.RefundInsertParams{ShopID: shopID, OrderID: orderID, ID: id, Amount: amt,
		TargetStatus: dbq.OrderStatus(target), Provider: provider, ProviderKey: "refund-" + id.String(), Reason: reason, Actor: actor, RequestKey: requestKey})
	if err != nil {
		return dbq.Refund{}, pg.MapError(err)
	}
	return r, pg.MapError(q.RefundQueueInsert(ctx, dbq.RefundQueueInsertParams{ShopID: shopID, RefundID: id}))
}

// providerFor returns the provider that took the order's payment.
func (s *Service) providerFor(name string) payments.Provider {
	if name == (payments.Manual{}).Name() {
		return payments.Manual{}
	}
	return s.provider
}

// settleRefund performs steps 2 and 3 for a pending refund row. Safe to
// run more than once for the same row (the provider dedupes on the key,
// the confirmation only moves a pending row).
func (s *Service) settleRefund(ctx context.Context, r *dbq.Refund, intent string) error {
	cctx, cancel := context.WithTimeout(ctx, refundCallTimeout)
	ref, err := s.providerFor(r.Provider).Refund(cctx, intent, r.Amount, r.ProviderKey)
	cancel()
	if err != nil {
		if payments.Definite(err) {
			if ferr := s.failRefund(ctx, r, err); ferr != nil {
				s.log.Error("recording a failed refund", "refund", r.ID, "err", ferr)
			}
			return err
		}
		s.log.Warn("refund outcome unknown; left pending for retry", "refund", r.ID, "order", r.OrderID, "err", err)
		return apperr.Wrap(err, apperr.Internal, "the refund is pending at the payment provider and will be retried")
	}
	return s.confirmRefund(ctx, r, ref)
}

// failRefund marks a pending refund failed, releasing its reserved amount.
func (s *Service) failRefund(ctx context.Context, r *dbq.Refund, cause error) error {
	msg := cause.Error()
	return pg.WithTenantTx(pg.WithShopID(ctx, r.ShopID), s.db, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		cur, err := q.RefundLock(ctx, dbq.RefundLockParams{ShopID: r.ShopID, ID: r.ID})
		if err != nil {
			return pg.MapError(err)
		}
		if cur.State != RefundPending {
			return nil
		}
		if _, err := q.RefundFinish(ctx, dbq.RefundFinishParams{State: RefundFailed, Error: &msg, ShopID: r.ShopID, ID: r.ID}); err != nil {
			return pg.MapError(err)
		}
		return pg.MapError(q.RefundQueueDelete(ctx, dbq.RefundQueueDeleteParams{ShopID: r.ShopID, RefundID: r.ID}))
	})
}

// confirmRefund marks a pending refund succeeded and applies it to the
// order with a timeline event, in one transaction. The money has moved,
// so the amount is always recorded; if the intended status move is no
// longer legal (the order was fulfilled, or another refund settled it
// first) the status moves as far as it legally can.
func (s *Service) confirmRefund(ctx context.Context, r *dbq.Refund, ref string) error {
	var levels []inventory.Level
	err := pg.WithTenantTx(pg.WithShopID(ctx, r.ShopID), s.db, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		row, err := q.OrderLock(ctx, dbq.OrderLockParams{ShopID: r.ShopID, ID: r.OrderID})
		if err != nil {
			return pg.MapError(err)
		}
		o := orderFromRow(&row)
		cur, err := q.RefundLock(ctx, dbq.RefundLockParams{ShopID: r.ShopID, ID: r.ID})
		if err != nil {
			return pg.MapError(err)
		}
		if cur.State != RefundPending {
			return nil // settled by someone else (a concurrent recovery pass)
		}
		if _, err := q.RefundFinish(ctx, dbq.RefundFinishParams{State: RefundSucceeded, ProviderRef: &ref, ShopID: r.ShopID, ID: r.ID}); err != nil {
			return pg.MapError(err)
		}
		if err := q.RefundQueueDelete(ctx, dbq.RefundQueueDeleteParams{ShopID: r.ShopID, RefundID: r.ID}); err != nil {
			return pg.MapError(err)
		}
		to := PartiallyRefunded
		if o.RefundedAmount+cur.Amount >= o.TotalAmount {
			to = Refunded
		}
		if Status(cur.TargetStatus) == Cancelled && Allowed(o.Status, Cancelled) {
			to = Cancelled
		}
		if !Allowed(o.Status, to) {
			to = o.Status // record the money, keep the status
		}
		amt := cur.Amount
		updated, err := q.OrderSetStatus(ctx, dbq.OrderSetStatusParams{Status: dbq.OrderStatus(to), CancelReason: nilIfEmpty(cur.Reason, to == Cancelled && o.Status != Cancelled),
			RefundAmount: amt, ShopID: r.ShopID, ID: r.OrderID})
		if err != nil {
			return pg.MapError(err)
		}
		_ = updated
		if err := q.OrderEventInsert(ctx, dbq.OrderEventInsertParams{ShopID: r.ShopID, OrderID: r.OrderID,
			FromStatus: dbq.NullOrderStatus{OrderStatus: dbq.OrderStatus(o.Status), Valid: true}, ToStatus: dbq.OrderStatus(to),
			Actor: cur.Actor, Note: cur.Reason, PaymentRef: &ref, Amount: &amt}); err != nil {
			return pg.MapError(err)
		}
		if to == Cancelled && o.Status == Paid {
			// Cancelled before shipping: the goods never left, put them back.
			if levels, err = inventory.Restock(ctx, tx, r.ShopID, r.OrderID); err != nil {
				return err
			}
			// A cancelled order gives its discount uses back (once).
			return discounts.Release(ctx, tx, r.ShopID, r.OrderID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.notify(ctx, r.ShopID, levels)
	return nil
}

// ResumeRefunds settles up to limit refunds left pending for longer than
// olderThan (a crash or an unknown provider outcome between record and
// confirm): each is retried with its original idempotency key, so the
// provider returns the refund it already made instead of making another.
// Safe on every instance at once (rows are claimed with SKIP LOCKED and
// leased). Called by RunSweeper; returns how many were settled.
func (s *Service) ResumeRefunds(ctx context.Context, olderThan time.Duration, limit int) (int, error) {
	settled := 0
	for i := 0; i < limit; i++ {
		var claimed *dbq.RefundQueueClaimRow
		err := pg.WithTx(ctx, s.db, func(tx pgx.Tx) error {
			q := dbq.New(tx)
			rows, err := q.RefundQueueClaim(ctx, dbq.RefundQueueClaimParams{Before: time.Now().Add(-olderThan), Lim: 1})
			if err != nil || len(rows) == 0 {
				return pg.MapError(err)
			}
			claimed = &rows[0]
			return pg.MapError(q.RefundQueueLease(ctx, dbq.RefundQueueLeaseParams{DueAt: time.Now().Add(refundLease), ShopID: claimed.ShopID, RefundID: claimed.RefundID}))
		})
		if err != nil {
			return settled, err
		}
		if claimed == nil {
			break
		}
		tctx := pg.WithShopID(ctx, claimed.ShopID)
		tq := dbq.New(pg.Tenant{Pool: s.db})
		r, err := tq.RefundGet(tctx, dbq.RefundGetParams{ShopID: claimed.ShopID, ID: claimed.RefundID})
		if err != nil {
			return settled, pg.MapError(err)
		}
		o, err := tq.OrderGet(tctx, dbq.OrderGetParams{ShopID: r.ShopID, ID: r.OrderID})
		if err != nil {
			return settled, pg.MapError(err)
		}
		if r.State != RefundPending || o.PaymentIntentID == nil {
			continue
		}
		if err := s.settleRefund(ctx, &r, *o.PaymentIntentID); err != nil {
			s.log.Warn("resuming a pending refund", "refund", r.ID, "order", r.OrderID, "err", err)
			continue
		}
		settled++
	}
	return settled, nil
}
