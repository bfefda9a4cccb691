package testdb

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RecordedRefund is one refund the recording provider made.
type RecordedRefund struct {
	ID, Intent, Key string
	Amount          int64
}

// Recorder is a stand-in for the few Stripe endpoints Cartograph uses
// (create and cancel a PaymentIntent, create a Refund), for tests that must
// count side effects: unlike stripe-mock it remembers what it did and
// honours Idempotency-Key like Stripe (the same key returns the first
// response and does nothing new; concurrent requests with one key are
// serialised). Refunds beyond an intent's amount are refused with 400, as
// Stripe does. Intents can be read back (GET) and paid (Pay, as a buyer
// would); cancelling a paid or cancelled intent is refused with
// payment_intent_unexpected_state carrying the intent, as at Stripe.
// SetFail makes calls fail (a 5xx also tells stripe-go not to retry) and
// SetDelay makes them slow. Point payments.NewStripe(key, r.URL) at it.
type Recorder struct {
	URL string
	srv *httptest.Server

	mu       sync.Mutex
	fail     func(path string, form map[string]string) int
	delay    time.Duration
	keyMu    map[string]*sync.Mutex
	replies  map[string]reply
	intents  map[string]*recIntent
	refunds  []RecordedRefund
	calls    map[string]int // side effects per endpoint ("refunds", "payment_intents", "cancel")
	attempts map[string]int // requests per path that were not idempotent replays, refused or not
	n        int
}

type reply struct {
	status int
	body   []byte
}

type recIntent struct {
	amount   int64
	currency string
	refunded int64
	status   string
}

// StartRecorder starts a recording provider; it stops with t's cleanup.
func StartRecorder(t interface{ Cleanup(func()) }) *Recorder {
	r := &Recorder{keyMu: map[string]*sync.Mutex{}, replies: map[string]reply{}, intents: map[string]*recIntent{}, calls: map[string]int{}, attempts: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	t.Cleanup(r.srv.Close)
	return r
}

// SetFail makes every later side effect ask f first: a non-zero status
// fails the call with that HTTP status and no side effect (nil: never).
func (r *Recorder) SetFail(f func(path string, form map[string]string) int) {
	r.mu.Lock()
	r.fail = f
	r.mu.Unlock()
}

// SetDelay sleeps d before every later side effect (widens races).
func (r *Recorder) SetDelay(d time.Duration) {
	r.mu.Lock()
	r.delay = d
	r.mu.Unlock()
}

// Refunds returns every refund made (one per distinct idempotency key).
func (r *Recorder) Refunds() []RecordedRefund {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RecordedRefund(nil), r.refunds...)
}

// RefundedTotal is the sum of all refunds made for intent ("" for all).
func (r *Recorder) RefundedTotal(intent string) int64 {
	var sum int64
	for _, f := range r.Refunds() {
		if intent == "" || f.Intent == intent {
			sum += f.Amount
		}
	}
	return sum
}

// Calls is how many side effects endpoint ("refunds", "payment_intents",
// "cancel") performed; idempotent replays are not counted.
func (r *Recorder) Calls(endpoint string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[endpoint]
}

// Attempts is how many requests reached path (e.g. "/v1/refunds") other
// than idempotent replays, including those refused: every one is a call a
// real provider could have acted on.
func (r *Recorder) Attempts(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts[path]
}

func (r *Recorder) lockKey(key string) func() {
	if key == "" {
		return func() {}
	}
	r.mu.Lock()
	m := r.keyMu[key]
	if m == nil {
		m = &sync.Mutex{}
		r.keyMu[key] = m
	}
	r.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// Pay plays a buyer paying intent at the provider: it succeeds (true)
// unless the intent was cancelled first, as at Stripe.
func (r *Recorder) Pay(intent string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := r.intents[intent]
	if in == nil || in.status == "canceled" {
		return false
	}
	in.status = "succeeded"
	return true
}

// IntentStatus is the provider's status of intent ("" if unknown).
func (r *Recorder) IntentStatus(intent string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in := r.intents[intent]; in != nil {
		return in.status
	}
	return ""
}

func (r *Recorder) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodGet && strings.HasPrefix(req.URL.Path, "/v1/payment_intents/") {
		id := strings.TrimPrefix(req.URL.Path, "/v1/payment_intents/")
		r.mu.Lock()
		in := r.intents[id]
		var body map[string]any
		if in != nil {
			body = in.object(id)
		}
		r.mu.Unlock()
		if in == nil {
			writeJSON(w, http.StatusNotFound, stripeErrCode("invalid_request_error", "resource_missing", "No such payment_intent: "+id))
			return
		}
		writeJSON(w, http.StatusOK, body)
		return
	}
	if req.Method != http.MethodPost {
		writeJSON(w, http.StatusNotFound, stripeErr("invalid_request_error", "unknown endpoint"))
		return
	}
	if err := req.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, stripeErr("invalid_request_error", err.Error()))
		return
	}
	form := map[string]string{}
	for k, v := range req.PostForm {
		form[k] = v[0]
	}
	key := req.Header.Get("Idempotency-Key")
	unlock := r.lockKey(key)
	defer unlock()
	ik := req.URL.Path + "\x00" + key
	if key != "" {
		r.mu.Lock()
		rep, ok := r.replies[ik]
		r.mu.Unlock()
		if ok {
			w.Header().Set("Idempotent-Replayed", "true")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rep.status)
			_, _ = w.Write(rep.body)
			return
		}
	}
	r.mu.Lock()
	delay, fail := r.delay, r.fail
	r.attempts[req.URL.Path]++
	r.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	if fail != nil {
		if st := fail(req.URL.Path, form); st != 0 {
			typ := "invalid_request_error"
			if st >= 500 {
				typ = "api_error"
				// Tell stripe-go not to retry by itself: the test decides.
				w.Header().Set("Stripe-Should-Retry", "false")
			}
			b, _ := json.Marshal(stripeErr(typ, "refused by the test provider"))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(st)
			_, _ = w.Write(b)
			return
		}
	}
	status, body := r.act(req.URL.Path, form, key)
	b, _ := json.Marshal(body)
	// Like Stripe, a 5xx is not saved against the key (it may be retried).
	if key != "" && status < 500 {
		r.mu.Lock()
		r.replies[ik] = reply{status, b}
		r.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (r *Recorder) act(path string, form map[string]string, key string) (int, any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	switch {
	case path == "/v1/payment_intents":
		amount, _ := strconv.ParseInt(form["amount"], 10, 64)
		id := fmt.Sprintf("pi_rec_%d", r.n)
		r.intents[id] = &recIntent{amount: amount, currency: form["currency"], status: "requires_payment_method"}
		r.calls["payment_intents"]++
		return 200, map[string]any{"id": id, "object": "payment_intent", "amount": amount, "currency": form["currency"],
			"status": "requires_payment_method", "client_secret": id + "_secret_rec"}
	case strings.HasPrefix(path, "/v1/payment_intents/") && strings.HasSuffix(path, "/cancel"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/v1/payment_intents/"), "/cancel")
		in := r.intents[id]
		if in == nil {
			return 404, stripeErrCode("invalid_request_error", "resource_missing", "No such payment_intent: "+id)
		}
		if in.status == "succeeded" || in.status == "canceled" {
			// As Stripe: the intent is no longer cancellable; the error
			// carries the intent.
			e := stripeErrCode("invalid_request_error", "payment_intent_unexpected_state",
				"You cannot cancel this PaymentIntent because it has a status of "+in.status+".")
			e["error"].(map[string]any)["payment_intent"] = in.object(id)
			return 400, e
		}
		in.status = "canceled"
		r.calls["cancel"]++
		return 200, in.object(id)
	case path == "/v1/refunds":
		id := form["payment_intent"]
		amount, _ := strconv.ParseInt(form["amount"], 10, 64)
		in := r.intents[id]
		if in == nil {
			return 404, stripeErr("invalid_request_error", "No such payment_intent: "+id)
		}
		if amount <= 0 || in.refunded+amount > in.amount {
			return 400, stripeErr("invalid_request_error", "Refund amount is greater than the unrefunded amount")
		}
		in.refunded += amount
		rid := fmt.Sprintf("re_rec_%d", r.n)
		r.refunds = append(r.refunds, RecordedRefund{ID: rid, Intent: id, Key: key, Amount: amount})
		r.calls["refunds"]++
		return 200, map[string]any{"id": rid, "object": "refund", "amount": amount, "payment_intent": id, "status": "succeeded"}
	}
	return 404, stripeErr("invalid_request_error", "unknown endpoint "+path)
}

// IntentCurrency is the currency a recorded PaymentIntent was created in
// ("" if there is no such intent).
func (r *Recorder) IntentCurrency(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in := r.intents[id]; in != nil {
		return in.currency
	}
	return ""
}

// Intents returns the amount each recorded PaymentIntent asked for.
func (r *Recorder) Intents() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int64{}
	for id, in := range r.intents {
		out[id] = in.amount
	}
	return out
}

func (in *recIntent) object(id string) map[string]any {
	return map[string]any{"id": id, "object": "payment_intent", "amount": in.amount, "amount_received": map[bool]int64{true: in.amount}[in.status == "succeeded"],
		"status": in.status}
}

func stripeErrCode(typ, code, msg string) map[string]any {
	e := stripeErr(typ, msg)
	e["error"].(map[string]any)["code"] = code
	return e
}

func stripeErr(typ, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"type": typ, "message": msg}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
