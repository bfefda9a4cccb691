// Package checkoutpage serves the hosted checkout page behind
// Cart.checkoutUrl (/checkout?cart=<token>): server-rendered with
// html/template (embedded, escapes everything it prints), no framework and
// no JavaScript before the payment step. The buyer enters an email and a shipping address, applies
// a discount code, picks a delivery option and places the order; the page
// calls the same services as the GraphQL mutations (cart.Service for the
// address, code and delivery option, checkout.Service.Begin for the order),
// so totals are computed by the same code, and the client never sends an
// amount.
//
// Who acts: the shop comes from the request (Host, as for the API); the
// page acts as the shop's storefront — the public-key scopes, no more — on
// the one cart its URL names. The cart token is the capability, as
// Shopify's checkout URL is. Placing the order carries an idempotency key
// minted when the form was rendered, scoped to the cart, so a double
// submit, a reload of the confirmation or a retry after a dropped
// connection places one order.
//
// Payment: with the manual provider the order awaits payment by bank
// transfer or cash (staff mark it paid). With Stripe and a publishable key
// (Page.Stripe), placing the order leads to the payment step: Stripe's
// Payment Element, loaded from Stripe's own host (PCI: card data never
// touches this page or this server), confirms the order's PaymentIntent,
// and Stripe returns the buyer to /checkout/return. That page only shows
// the order's state as the signed webhooks have moved it — the redirect's
// own status is never trusted — and refreshes itself while the payment is
// being confirmed. Without a publishable key a Stripe order placed here
// waits for the shop to collect payment. The only JavaScript the page
// serves is /checkout/pay.js (embedded), on the payment step.
package checkoutpage

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/cart"
	"cartograph/internal/checkout"
	"cartograph/internal/money"
	"cartograph/internal/orders"
	"cartograph/internal/shop"

	"github.com/google/uuid"
)

//go:embed page.html pay.js
var files embed.FS

var payJS, _ = files.ReadFile("pay.js")

var tmpl = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"money": func(minor int64, cur money.Currency) string {
		return money.FormatMinor(minor, cur.Exponent()) + " " + string(cur)
	},
	"mulq": func(unit int64, q int32) int64 { return unit * int64(q) },
	"addd": func(a, b int64) int64 { return a + b },
	"subd": func(a, b int64) int64 { return a - b },
}).ParseFS(files, "page.html"))

// Page serves GET and POST /checkout, GET /checkout/return and
// GET /checkout/pay.js.
type Page struct {
	Carts    *cart.Service
	Checkout *checkout.Service
	Orders   *orders.Service
	Log      *slog.Logger
	// Stripe turns on the Payment Element for orders paid through Stripe;
	// zero: no card payment on the page.
	Stripe StripeConfig
}

// StripeConfig is what the browser needs to confirm a PaymentIntent.
type StripeConfig struct {
	// PublishableKey is the shop platform's pk_live_/pk_test_ key.
	PublishableKey string
	// JSURL is Stripe.js (https://js.stripe.com/v3/; config refuses any
	// other host in production).
	JSURL string
}

// payment is the payment step of a placed Stripe order.
type payment struct {
	PublishableKey, ClientSecret, ReturnURL, JSURL string
	Failed                                         bool
}

// form is what the buyer typed; echoed back into the page on every step.
type form struct {
	Cart, Key                                   string
	Email, FirstName, LastName                  string
	Address1, Address2, City, Province, Zip, CC string
	Code, Delivery                              string
}

type view struct {
	Form      form
	Shop      string
	Cart      *cart.Cart
	Priced    *cart.Priced
	Errors    []string
	Order     *orders.Order
	Currency  money.Currency
	Countries []string
	// Pay is the payment step (a placed Stripe order still to be paid).
	Pay *payment
	// Returned: the buyer came back from the payment step; Refresh: the
	// payment is still being confirmed, so the page reloads itself.
	Returned, Refresh bool
}

const basePolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"

// ServeHTTP renders the page (GET) or applies a step (POST).
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", basePolicy)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Path == "/checkout/pay.js" {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(payJS)
		return
	}
	sh, err := shop.FromContext(r.Context())
	if err != nil {
		p.fail(w, http.StatusNotFound, "no shop here")
		return
	}
	// The page acts as the shop's storefront on the cart its URL names.
	ctx := auth.WithPrincipal(r.Context(), &auth.Principal{Kind: auth.APIKey, KeyKind: "public", ShopID: sh.ID,
		KeyID: checkoutPageKey(sh.ID), Scopes: auth.PublicKeyScopes})
	if r.URL.Path == "/checkout/return" {
		p.returned(ctx, w, r, sh)
		return
	}
	var f form
	switch r.Method {
	case http.MethodGet:
		f.Cart = r.URL.Query().Get("cart")
		f.Key = newKey()
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil {
			p.fail(w, http.StatusBadRequest, "the form could not be read")
			return
		}
		f = readForm(r)
	default:
		w.Header().Set("Allow", "GET, POST")
		p.fail(w, http.StatusMethodNotAllowed, "GET or POST")
		return
	}
	cartID := "gid://cartograph/Cart/" + f.Cart
	if _, err := cart.ParseID("cart", cartID); err != nil {
		p.fail(w, http.StatusBadRequest, "this checkout link is not valid")
		return
	}
	v := view{Form: f, Shop: sh.Name, Countries: countries}
	if r.Method == http.MethodPost {
		var ues []apperr.UserError
		switch r.PostForm.Get("action") {
		case "place":
			ues, err = p.place(ctx, cartID, &v)
		default:
			ues, err = p.update(ctx, cartID, f)
		}
		if err != nil {
			p.serviceError(w, err)
			return
		}
		for _, ue := range ues {
			v.Errors = append(v.Errors, ue.Message)
		}
		if v.Order != nil {
			v.Currency = v.Order.CurrencyCode
			v.Pay = p.paymentStep(r, v.Order, false)
			p.renderPaying(w, v)
			return
		}
	}
	c, pr, err := p.Carts.Totals(ctx, cartID)
	if err != nil {
		p.serviceError(w, err)
		return
	}
	if c == nil {
		p.fail(w, http.StatusNotFound, "this cart does not exist or has already been checked out")
		return
	}
	v.Cart, v.Priced, v.Currency = c, pr, pr.Totals.Currency
	if v.Form.Delivery == "" && pr.Totals.Shipping != nil {
		v.Form.Delivery = pr.Totals.Shipping.Handle
	}
	if v.Form.CC == "" {
		v.Form.CC = pr.Destination.Country
	}
	if v.Form.Code == "" && len(pr.Codes) > 0 {
		v.Form.Code = pr.Codes[0].Code
	}
	p.render(w, http.StatusOK, v)
}

// update records the destination, the discount code and the delivery
// option (each through the service the GraphQL mutation uses).
func (p *Page) update(ctx context.Context, cartID string, f form) ([]apperr.UserError, error) {
	var all []apperr.UserError
	if f.CC != "" {
		_, ues, err := p.Carts.SetDestination(ctx, cartID, cart.Destination{Country: f.CC, Province: f.Province, Zip: f.Zip})
		if err != nil {
			return nil, err
		}
		all = append(all, ues...)
	}
	var codes []string
	if f.Code != "" {
		codes = []string{f.Code}
	}
	if _, ues, err := p.Carts.SetDiscountCodes(ctx, cartID, codes); err != nil {
		return nil, err
	} else {
		all = append(all, ues...)
	}
	if f.Delivery != "" && len(all) == 0 {
		// The delivery group follows from the destination just set;
		// without one in the form, from the cart's stored destination.
		group := ""
		if f.CC != "" {
			group = cart.DeliveryGroupID(f.Cart, cart.Destination{Country: f.CC, Province: f.Province, Zip: f.Zip})
		} else if _, pr, err := p.Carts.Totals(ctx, cartID); err != nil {
			return nil, err
		} else if pr != nil {
			group = pr.DeliveryGroupID
		}
		if group != "" {
			_, ues, err := p.Carts.SelectDeliveryOption(ctx, cartID, group, f.Delivery)
			if err != nil {
				return nil, err
			}
			all = append(all, ues...)
		}
	}
	return all, nil
}

// place records the last choices and begins the checkout with the form's
// idempotency key; on success v.Order is the placed order.
func (p *Page) place(ctx context.Context, cartID string, v *view) ([]apperr.UserError, error) {
	f := v.Form
	if ues, err := p.update(ctx, cartID, f); err != nil || len(ues) > 0 {
		return ues, err
	}
	if len(f.Key) != 32 {
		return []apperr.UserError{{Message: "this form has expired: reload the page"}}, nil
	}
	res, err := p.Checkout.Begin(ctx, checkout.BeginInput{
		CartID: cartID, Email: f.Email, IdempotencyKey: "checkout-page-" + f.Key, DeliveryOptionHandle: f.Delivery,
		Shipping: orders.Address{FirstName: f.FirstName, LastName: f.LastName, Address1: f.Address1, Address2: f.Address2,
			City: f.City, Province: f.Province, Zip: f.Zip, Country: f.CC},
	})
	if err != nil {
		return nil, err
	}
	if len(res.UserErrors) > 0 || res.OrderID == nil {
		return res.UserErrors, nil
	}
	o, err := p.Orders.ByIDInternal(ctx, *res.OrderID)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, errors.New("checkoutpage: placed order not found")
	}
	v.Order = o
	return nil, nil
}

// paymentStep is the Payment Element for a Stripe order still awaiting
// payment, or nil (manual provider, no publishable key, nothing to pay).
func (p *Page) paymentStep(r *http.Request, o *orders.Order, failed bool) *payment {
	if p.Stripe.PublishableKey == "" || o.PaymentProvider != "stripe" || o.PaymentClientSecret == nil ||
		o.Status != orders.PendingPayment || o.TotalAmount <= 0 {
		return nil
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	ret := url.URL{Scheme: scheme, Host: r.Host, Path: "/checkout/return", RawQuery: url.Values{"order": {o.ID.String()}}.Encode()}
	return &payment{PublishableKey: p.Stripe.PublishableKey, ClientSecret: *o.PaymentClientSecret, ReturnURL: ret.String(),
		JSURL: p.Stripe.JSURL, Failed: failed}
}

// renderPaying renders v, widening the page's policy to Stripe.js, its
// frames and its API when v has a payment step (Stripe's documented CSP).
func (p *Page) renderPaying(w http.ResponseWriter, v view) {
	if v.Pay != nil {
		js := "https://js.stripe.com"
		if u, err := url.Parse(v.Pay.JSURL); err == nil && u.Host != "" {
			js = u.Scheme + "://" + u.Host
		}
		w.Header().Set("Content-Security-Policy", basePolicy+"; script-src 'self' "+js+" https://*.js.stripe.com"+
			"; frame-src "+js+" https://*.js.stripe.com https://hooks.stripe.com; connect-src https://api.stripe.com; img-src https://*.stripe.com")
	}
	p.render(w, http.StatusOK, v)
}

// returned serves /checkout/return, where Stripe sends the buyer after
// the Payment Element: ?order=<id>&payment_intent_client_secret=… (Stripe
// appends payment_intent, payment_intent_client_secret, redirect_status).
// The client secret is the capability: it must be the order's own, else
// 404, so order ids cannot be probed. The status shown is the order's, as
// webhooks have moved it; redirect_status=failed only offers the payment
// step again (same intent), it never changes the order.
func (p *Page) returned(ctx context.Context, w http.ResponseWriter, r *http.Request, sh *shop.Shop) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		p.fail(w, http.StatusMethodNotAllowed, "GET")
		return
	}
	q := r.URL.Query()
	id, err := uuid.Parse(q.Get("order"))
	secret := q.Get("payment_intent_client_secret")
	if err != nil || secret == "" || len(secret) > 255 {
		p.fail(w, http.StatusBadRequest, "this payment link is not valid")
		return
	}
	o, err := p.Orders.ByIDInternal(ctx, id)
	if err != nil {
		p.serviceError(w, err)
		return
	}
	if o == nil || o.ShopID != sh.ID || o.PaymentClientSecret == nil ||
		subtle.ConstantTimeCompare([]byte(*o.PaymentClientSecret), []byte(secret)) != 1 {
		p.fail(w, http.StatusNotFound, "this order does not exist")
		return
	}
	v := view{Shop: sh.Name, Order: o, Currency: o.CurrencyCode, Returned: true}
	if q.Get("redirect_status") == "failed" {
		v.Pay = p.paymentStep(r, o, true)
	}
	v.Refresh = v.Pay == nil && o.Status == orders.PendingPayment
	p.renderPaying(w, v)
}

func readForm(r *http.Request) form {
	g := func(k string, max int) string {
		s := strings.TrimSpace(r.PostForm.Get(k))
		if len(s) > max {
			s = s[:max]
		}
		return s
	}
	return form{Cart: g("cart", 64), Key: g("key", 32), Email: g("email", 254), FirstName: g("firstName", 100), LastName: g("lastName", 100),
		Address1: g("address1", 200), Address2: g("address2", 200), City: g("city", 100), Province: g("province", 8), Zip: g("zip", 32),
		CC: strings.ToUpper(g("country", 2)), Code: g("code", 64), Delivery: g("delivery", 64)}
}

func (p *Page) render(w http.ResponseWriter, status int, v view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := tmpl.Execute(w, v); err != nil && p.Log != nil {
		p.Log.Warn("checkout page render", "err", err)
	}
}

func (p *Page) fail(w http.ResponseWriter, status int, msg string) {
	p.render(w, status, view{Errors: []string{msg}})
}

// serviceError shows a coded service error (never Go or SQL details).
func (p *Page) serviceError(w http.ResponseWriter, err error) {
	if ae, ok := apperr.As(err); ok && ae.Code != apperr.Internal {
		status, msg := http.StatusBadRequest, ae.Message
		switch ae.Code {
		case apperr.NotFound:
			status, msg = http.StatusNotFound, "this cart does not exist or has already been checked out"
		case apperr.ServiceUnavailable:
			status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "5")
		case apperr.Throttled:
			status = http.StatusTooManyRequests
		}
		p.fail(w, status, msg)
		return
	}
	if p.Log != nil {
		p.Log.Error("checkout page", "err", err)
	}
	p.fail(w, http.StatusInternalServerError, "something went wrong; please try again")
}

// checkoutPageKey is the stable pseudo key id the page acts under in a
// shop (its idempotency keys and rate buckets are its own).
func checkoutPageKey(shopID uuid.UUID) uuid.UUID {
	return uuid.NewSHA1(shopID, []byte("hosted-checkout-page"))
}

func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// countries offered in the address form (ISO 3166-1 alpha-2); the cart's
// shipping zones decide which of them can be delivered to.
var countries = []string{"US", "CA", "GB", "IE", "DE", "AT", "FR", "NL", "BE", "IT", "ES", "AU", "JP"}
