package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"cartograph/internal/config"
	"cartograph/internal/seed"
)

// stripeJSStandIn is served in place of https://js.stripe.com/v3/, which
// this machine cannot reach: it records what the page hands to Stripe()
// and, on confirmPayment, redirects to return_url with the parameters
// Stripe appends after a successful confirmation. It never pays anything:
// the order is moved only by the signed webhook the test sends.
const stripeJSStandIn = `window.__stripeStandIn = {};
window.Stripe = function (key) {
  window.__stripeStandIn.key = key;
  return {
    elements: function (opts) {
      window.__stripeStandIn.clientSecret = opts.clientSecret;
      return { create: function (type) {
        window.__stripeStandIn.element = type;
        return { mount: function (sel) {
          document.querySelector(sel).textContent = 'card form (stand-in)';
          window.__stripeStandIn.mounted = sel;
        } };
      } };
    },
    confirmPayment: function (args) {
      var secret = window.__stripeStandIn.clientSecret, u = new URL(args.confirmParams.return_url);
      u.searchParams.set('payment_intent', secret.split('_secret_')[0]);
      u.searchParams.set('payment_intent_client_secret', secret);
      u.searchParams.set('redirect_status', 'succeeded');
      location.assign(u.toString());
      return new Promise(function () {});
    }
  };
};`

// TestHostedCheckoutStripePayment: with Stripe and a publishable key the
// hosted page's payment step mounts the Payment Element for the order's
// own PaymentIntent, under a CSP that admits Stripe.js and nothing else;
// after the redirect the return page shows the order's state as the
// signed webhook moves it (never the redirect's claim), and the return
// link works only with the order's own client secret on its own shop.
// Payments reach the recording provider; Stripe.js is a stand-in (above).
func TestHostedCheckoutStripePayment(t *testing.T) {
	node, pwDir, browser := playwright(t)
	js := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = io.WriteString(w, stripeJSStandIn)
	}))
	t.Cleanup(js.Close)
	e, rec := moneyEnvWith(t, func(c *config.Config) {
		c.StripePublishableKey, c.StripeJSURL = "pk_test_cartograph", js.URL+"/v3/"
	})
	if err := seed.DemoPricing(context.Background(), e.db.Pool); err != nil {
		t.Fatal(err)
	}
	store := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "waxed-canvas-field-jacket", 10)
	srv, _ := url.Parse(e.srv.URL)
	host := "apparel.localhost:" + srv.Port()

	// orderOfCart is the one order placed from the cart with that token.
	type placed struct{ id, shopID, intent, secret, status string }
	orderOfCart := func(tok string) (o placed) {
		t.Helper()
		if err := e.db.Pool.QueryRow(context.Background(), `SELECT id::text, shop_id::text, coalesce(payment_intent_id, ''),
			coalesce(payment_client_secret, ''), status FROM orders WHERE cart_id LIKE '%' || $1 || '%'`, tok).
			Scan(&o.id, &o.shopID, &o.intent, &o.secret, &o.status); err != nil {
			t.Fatalf("order of cart %s: %v", tok, err)
		}
		return
	}
	// get requests a page URL as the browser would, through the test server.
	get := func(t *testing.T, target, host string) (int, http.Header, string) {
		t.Helper()
		u, _ := url.Parse(target)
		return getPage(t, e.srv.URL+u.RequestURI(), host)
	}
	pay := func(t *testing.T, o placed, evt string) {
		t.Helper()
		if !rec.Pay(o.intent) {
			t.Fatalf("intent %s could not be paid", o.intent)
		}
		if got := e.deliver(t, stripeEvent(evt, "payment_intent.succeeded", o.intent, o.shopID, o.id), testWebhookSecret, time.Now(), false); got != http.StatusOK {
			t.Fatalf("webhook: %d", got)
		}
	}
	returnLink := func(o placed, redirect string) string {
		return "http://" + host + "/checkout/return?" + url.Values{"order": {o.id}, "payment_intent": {o.intent},
			"payment_intent_client_secret": {o.secret}, "redirect_status": {redirect}}.Encode()
	}
	placeForm := func(tok, key string) url.Values {
		return url.Values{"cart": {tok}, "key": {key}, "email": {"grace@example.com"}, "firstName": {"Grace"},
			"lastName": {"Hopper"}, "address1": {"1 Navy Way"}, "city": {"London"}, "zip": {"SW1A 1AA"}, "country": {"GB"},
			"delivery": {"international"}, "action": {"place"}}
	}
	dataAttr := func(body, name string) string {
		m := regexp.MustCompile(`data-` + name + `="([^"]*)"`).FindStringSubmatch(body)
		if m == nil {
			return ""
		}
		return html.UnescapeString(m[1])
	}

	if browser {
		cartID := e.newCart(t, store, v, 1)
		tok := strings.TrimPrefix(cartID, "gid://cartograph/Cart/")
		shots, _ := filepath.Abs("../../.data/screenshots")
		_ = os.MkdirAll(shots, 0o755)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "../checkoutpage/testdata/checkout_pay_browser.mjs")
		cmd.Env = append(os.Environ(), "URL=http://"+host+"/checkout?cart="+tok, "PLAYWRIGHT_DIR="+pwDir, "SHOTS="+shots)
		raw, err := cmd.Output()
		if err != nil {
			t.Fatalf("browser script: %v %s", err, raw)
		}
		var got struct {
			Status                                  int
			Placed, OrderTotal, PayButton, Returned string
			ReturnURL, Error                        string
			CSPViolations                           []string
			Stripe                                  struct{ Key, ClientSecret, Element, Mounted string }
		}
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("browser output %s: %v", raw, err)
		}
		t.Logf("browser: %+v", got)
		if got.Error != "" || got.Status != http.StatusOK || len(got.CSPViolations) > 0 {
			t.Fatalf("browser run failed: %+v", got)
		}
		o := orderOfCart(tok)
		if got.Stripe.Key != "pk_test_cartograph" || got.Stripe.ClientSecret != o.secret || o.secret == "" ||
			got.Stripe.Element != "payment" || got.Stripe.Mounted != "#payment-element" {
			t.Fatalf("the Payment Element was not given the order's intent (%s): %+v", o.secret, got.Stripe)
		}
		if !strings.Contains(got.PayButton, got.OrderTotal) {
			t.Fatalf("pay button %q does not show the order total %q", got.PayButton, got.OrderTotal)
		}
		// The redirect says "succeeded"; the order is not paid until the
		// provider's signed event says so.
		if !strings.HasPrefix(got.Returned, "Confirming your payment") || o.status != "PENDING_PAYMENT" {
			t.Fatalf("before the webhook: page %q, order %s", got.Returned, o.status)
		}
		pay(t, o, "evt_page_pay_1")
		status, _, body := get(t, got.ReturnURL, host)
		if status != http.StatusOK || !strings.Contains(body, "Payment received") || orderOfCart(tok).status != "PAID" {
			t.Fatalf("after the webhook: %d %s (order %s)", status, body, orderOfCart(tok).status)
		}
		if strings.Contains(body, `http-equiv="refresh"`) {
			t.Fatal("a paid order's page still refreshes itself")
		}
	}

	// Over plain HTTP: the payment step's page and the return link's rules.
	cartID := e.newCart(t, store, v, 1)
	tok := strings.TrimPrefix(cartID, "gid://cartograph/Cart/")
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/checkout", strings.NewReader(placeForm(tok, "00112233445566778899aabbccddeeff").Encode()))
	req.Host = host
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	o := orderOfCart(tok)
	t.Run("PaymentStepCarriesTheOrdersIntent", func(t *testing.T) {
		if resp.StatusCode != http.StatusOK || dataAttr(body, "secret") != o.secret || dataAttr(body, "key") != "pk_test_cartograph" {
			t.Fatalf("%d secret %q (order's %q) %s", resp.StatusCode, dataAttr(body, "secret"), o.secret, body)
		}
		ret, err := url.Parse(dataAttr(body, "return"))
		if err != nil || ret.Host != host || ret.Path != "/checkout/return" || ret.Query().Get("order") != o.id {
			t.Fatalf("return url %q", dataAttr(body, "return"))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self' "+js.URL) || !strings.Contains(csp, "frame-src") || strings.Contains(csp, "'unsafe-eval'") ||
			strings.Contains(csp, "script-src *") || !strings.Contains(body, `<script src="`+js.URL+`/v3/">`) {
			t.Fatalf("policy %q or script tag wrong", csp)
		}
		// The page that has no payment step keeps the strict policy.
		_, h, _ := get(t, "http://"+host+"/checkout?cart="+tok, host)
		if strings.Contains(h.Get("Content-Security-Policy"), "script-src") {
			t.Fatalf("form page policy admits scripts: %q", h.Get("Content-Security-Policy"))
		}
		status, h, js := get(t, "http://"+host+"/checkout/pay.js", host)
		if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/javascript") || !strings.Contains(js, "confirmPayment") {
			t.Fatalf("pay.js: %d %q", status, h.Get("Content-Type"))
		}
	})
	t.Run("FailedRedirectOffersThePaymentAgainAndChangesNothing", func(t *testing.T) {
		status, _, body := get(t, returnLink(o, "failed"), host)
		if status != http.StatusOK || !strings.Contains(body, "Payment did not go through") || dataAttr(body, "secret") != o.secret {
			t.Fatalf("%d %s", status, body)
		}
		if s := orderOfCart(tok).status; s != "PENDING_PAYMENT" {
			t.Fatalf("a failed redirect moved the order to %s", s)
		}
	})
	t.Run("ReturnLinkNeedsTheOrdersOwnSecretOnItsShop", func(t *testing.T) {
		wrong := o
		wrong.secret = o.secret + "x"
		other := o
		other.id = "01a20084-0000-7000-8000-000000000000"
		for _, tc := range []struct {
			name, link, host string
			want             int
		}{
			{"WrongSecret", returnLink(wrong, "succeeded"), host, 404},
			{"UnknownOrder", returnLink(other, "succeeded"), host, 404},
			{"ForeignShopsHost", returnLink(o, "succeeded"), "electronics.localhost:" + srv.Port(), 404},
			{"MalformedOrder", "http://" + host + "/checkout/return?order=nope&payment_intent_client_secret=x", host, 400},
			{"NoSecret", "http://" + host + "/checkout/return?order=" + o.id, host, 400},
		} {
			status, _, body := get(t, tc.link, tc.host)
			if status != tc.want || strings.Contains(body, "order #") {
				t.Fatalf("%s: %d %s", tc.name, status, body)
			}
		}
	})
	t.Run("PaidOrderIsPaidWhateverTheRedirectSays", func(t *testing.T) {
		status, _, body := get(t, returnLink(o, "succeeded"), host)
		if status != http.StatusOK || !strings.Contains(body, "Confirming your payment") || !strings.Contains(body, `http-equiv="refresh"`) {
			t.Fatalf("pending: %d %s", status, body)
		}
		pay(t, o, fmt.Sprintf("evt_page_pay_%s", o.id))
		status, _, body = get(t, returnLink(o, "failed"), host)
		if status != http.StatusOK || !strings.Contains(body, "Payment received") || strings.Contains(body, `id="payment-form"`) {
			t.Fatalf("paid, redirect says failed: %d %s", status, body)
		}
	})
}
