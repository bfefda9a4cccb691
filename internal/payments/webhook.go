package payments

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// WebhookTarget applies verified payment events (internal/orders).
type WebhookTarget interface {
	PaymentSucceeded(ctx context.Context, eventID, eventType string, shopID, orderID uuid.UUID, intentID string) (bool, error)
	PaymentFailed(ctx context.Context, eventID, eventType string, shopID, orderID uuid.UUID, intentID, reason string) (bool, error)
}

// maxWebhookBody bounds a webhook payload (Stripe's are a few KB).
const maxWebhookBody = 256 << 10

// StripeWebhook verifies Stripe's signature (endpoint secret, timestamp
// tolerance) before anything else: a missing, bad or stale signature is 400
// and changes nothing. Verified events are applied exactly once per event id
// by target. Events it cannot place (no order metadata, unknown order) are
// acknowledged and logged, not retried forever; a failure to apply is 500
// so Stripe retries.
func StripeWebhook(secret string, tolerance time.Duration, target WebhookTarget, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply := func(status int, msg string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			b, _ := json.Marshal(map[string]string{"message": msg})
			_, _ = w.Write(b)
		}
		if r.Method != http.MethodPost {
			reply(http.StatusMethodNotAllowed, "POST only")
			return
		}
		if secret == "" {
			reply(http.StatusServiceUnavailable, "webhooks are not configured (STRIPE_WEBHOOK_SECRET)")
			return
		}
		payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
		if err != nil {
			reply(http.StatusBadRequest, "unreadable body")
			return
		}
		ev, err := webhook.ConstructEventWithOptions(payload, r.Header.Get("Stripe-Signature"), secret,
			webhook.ConstructEventOptions{Tolerance: tolerance, IgnoreAPIVersionMismatch: true})
		if err != nil {
			log.Warn("stripe webhook refused", "err", err)
			reply(http.StatusBadRequest, "invalid signature")
			return
		}
		switch ev.Type {
		case "payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled":
		default:
			reply(http.StatusOK, "ignored")
			return
		}
		var pi stripe.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil {
			log.Warn("stripe webhook: undecodable payment intent", "event", ev.ID, "err", err)
			reply(http.StatusOK, "ignored: undecodable object")
			return
		}
		shopID, err1 := uuid.Parse(pi.Metadata["shop_id"])
		orderID, err2 := uuid.Parse(pi.Metadata["order_id"])
		if err1 != nil || err2 != nil {
			log.Warn("stripe webhook: payment intent without order metadata", "event", ev.ID, "intent", pi.ID)
			reply(http.StatusOK, "ignored: not a Cartograph payment")
			return
		}
		var applied bool
		if ev.Type == "payment_intent.succeeded" {
			applied, err = target.PaymentSucceeded(r.Context(), ev.ID, string(ev.Type), shopID, orderID, pi.ID)
		} else {
			reason := string(ev.Type)
			if pi.LastPaymentError != nil && pi.LastPaymentError.Msg != "" {
				reason = pi.LastPaymentError.Msg
			} else if pi.CancellationReason != "" {
				reason = "payment canceled: " + string(pi.CancellationReason)
			}
			applied, err = target.PaymentFailed(r.Context(), ev.ID, string(ev.Type), shopID, orderID, pi.ID, reason)
		}
		if err != nil {
			log.Error("stripe webhook: applying event failed", "event", ev.ID, "err", err)
			reply(http.StatusInternalServerError, "temporary failure; retry")
			return
		}
		msg := "applied"
		if !applied {
			msg = "acknowledged"
		}
		reply(http.StatusOK, msg)
	})
}
