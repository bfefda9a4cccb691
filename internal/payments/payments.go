// Package payments is the small provider interface checkout and orders use
// to take and return money: Stripe (stripe-go v76, PaymentIntents; its API
// base is configurable so tests and `make run` can use stripe-mock) and
// manual (the default without a Stripe key: staff mark orders paid). Every
// call carries an idempotency key derived from the order, so a retry can
// never create a second intent or refund twice at Stripe.
package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"cartograph/internal/apperr"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// Intent is a created payment.
type Intent struct {
	Provider     string
	ID           string
	ClientSecret *string
}

// Provider takes and returns money for orders.
type Provider interface {
	Name() string
	// CreateIntent asks for amount (minor units of currency) for an order.
	CreateIntent(ctx context.Context, shopID, orderID uuid.UUID, amount int64, currency string) (Intent, error)
	// Cancel cancels an unpaid intent, so it can no longer be paid. It is
	// nil when the intent is cancelled (now or before), ErrIntentSucceeded
	// when it was paid first, and any other error when the outcome is
	// unknown (the caller must keep the order's stock and retry later).
	Cancel(ctx context.Context, intentID string) error
	// Refund returns amount of a paid intent; key makes retries safe.
	Refund(ctx context.Context, intentID string, amount int64, key string) (string, error)
}

// ErrIntentSucceeded is Cancel's answer for an intent that was already
// paid: the order must be completed (or refunded), never just released.
var ErrIntentSucceeded = errors.New("payment intent already succeeded")

// Manual records payments taken outside Cartograph (bank transfer, cash):
// nothing is charged; staff confirm with orderMarkPaid.
type Manual struct{}

// Name is "manual".
func (Manual) Name() string { return "manual" }

// CreateIntent returns a reference for the order; there is no client secret.
func (Manual) CreateIntent(_ context.Context, _, orderID uuid.UUID, _ int64, _ string) (Intent, error) {
	return Intent{Provider: "manual", ID: "manual_" + orderID.String()}, nil
}

// Cancel does nothing: no money moved.
func (Manual) Cancel(context.Context, string) error { return nil }

// Refund records a manual refund reference.
func (Manual) Refund(_ context.Context, intentID string, amount int64, key string) (string, error) {
	return fmt.Sprintf("manual_refund_%s_%d", key, amount), nil
}

// Stripe creates PaymentIntents through stripe-go.
type Stripe struct {
	sc      *client.API
	creates atomic.Int64
}

// NewStripe returns a Stripe provider. apiBase overrides the API URL (e.g.
// http://127.0.0.1:12111 for stripe-mock); empty means Stripe itself.
func NewStripe(secretKey, apiBase string) *Stripe {
	var backends *stripe.Backends
	cfg := &stripe.BackendConfig{
		HTTPClient:        &http.Client{Timeout: 20 * time.Second},
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelError},
		MaxNetworkRetries: stripe.Int64(2),
	}
	if apiBase != "" {
		cfg.URL = stripe.String(strings.TrimRight(apiBase, "/"))
	}
	backends = &stripe.Backends{API: stripe.GetBackendWithConfig(stripe.APIBackend, cfg), Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, cfg), Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, cfg)}
	sc := &client.API{}
	sc.Init(secretKey, backends)
	return &Stripe{sc: sc}
}

// Name is "stripe".
func (*Stripe) Name() string { return "stripe" }

// IntentCreates counts CreateIntent calls that reached Stripe (tests).
func (s *Stripe) IntentCreates() int64 { return s.creates.Load() }

// CreateIntent creates a PaymentIntent for the order's server-side total,
// with the order and shop in metadata and an Idempotency-Key derived from
// the order, so a retried checkout cannot create a second intent.
func (s *Stripe) CreateIntent(ctx context.Context, shopID, orderID uuid.UUID, amount int64, currency string) (Intent, error) {
	p := &stripe.PaymentIntentParams{
		Amount:                  stripe.Int64(amount),
		Currency:                stripe.String(strings.ToLower(currency)),
		AutomaticPaymentMethods: &stripe.PaymentIntentAutomaticPaymentMethodsParams{Enabled: stripe.Bool(true)},
	}
	p.Context = ctx
	p.AddMetadata("order_id", orderID.String())
	p.AddMetadata("shop_id", shopID.String())
	p.SetIdempotencyKey("cartograph-order-" + orderID.String() + "-intent")
	s.creates.Add(1)
	pi, err := s.sc.PaymentIntents.New(p)
	if err != nil {
		return Intent{}, apperr.Wrap(err, apperr.Internal, "payment provider unavailable")
	}
	return Intent{Provider: "stripe", ID: pi.ID, ClientSecret: &pi.ClientSecret}, nil
}

// Cancel cancels an unpaid PaymentIntent. Stripe refuses to cancel an
// intent that is no longer cancellable (payment_intent_unexpected_state);
// then the intent's status decides: succeeded → ErrIntentSucceeded,
// canceled → nil (cancelled before), anything else (processing) → an
// error, so the caller retries later.
func (s *Stripe) Cancel(ctx context.Context, intentID string) error {
	p := &stripe.PaymentIntentCancelParams{}
	p.Context = ctx
	p.SetIdempotencyKey("cartograph-cancel-" + intentID)
	_, err := s.sc.PaymentIntents.Cancel(intentID, p)
	if err == nil {
		return nil
	}
	var se *stripe.Error
	if errors.As(err, &se) && se.Code == stripe.ErrorCodeResourceMissing {
		return nil // an intent the provider does not know can never be paid
	}
	if !errors.As(err, &se) || se.Code != stripe.ErrorCodePaymentIntentUnexpectedState {
		return apperr.Wrap(err, apperr.ServiceUnavailable, "payment provider unavailable")
	}
	status := stripe.PaymentIntentStatus("")
	if se.PaymentIntent != nil {
		status = se.PaymentIntent.Status
	}
	if status == "" {
		gp := &stripe.PaymentIntentParams{}
		gp.Context = ctx
		pi, gerr := s.sc.PaymentIntents.Get(intentID, gp)
		if gerr != nil {
			return apperr.Wrap(gerr, apperr.ServiceUnavailable, "payment provider unavailable")
		}
		status = pi.Status
	}
	switch status {
	case stripe.PaymentIntentStatusSucceeded:
		return ErrIntentSucceeded
	case stripe.PaymentIntentStatusCanceled:
		return nil
	}
	return apperr.Wrap(err, apperr.ServiceUnavailable, "the payment cannot be cancelled while it is %s", status)
}

// Refund refunds amount of a PaymentIntent.
func (s *Stripe) Refund(ctx context.Context, intentID string, amount int64, key string) (string, error) {
	p := &stripe.RefundParams{PaymentIntent: stripe.String(intentID), Amount: stripe.Int64(amount)}
	p.Context = ctx
	p.SetIdempotencyKey("cartograph-refund-" + key)
	r, err := s.sc.Refunds.New(p)
	if err != nil {
		return "", apperr.Wrap(err, apperr.Internal, "payment provider unavailable")
	}
	return r.ID, nil
}

// Definite reports whether a provider error is a final answer (the request
// was understood and refused: a 4xx other than 409 or 429), so nothing can
// have happened at the provider and no retry will change the outcome. Any
// other error (network, timeout, 5xx, conflict) may hide a side effect that
// did happen: callers keep their record pending and retry with the same
// idempotency key.
func Definite(err error) bool {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.HTTPStatusCode
	return c >= 400 && c < 500 && c != 409 && c != 429
}
