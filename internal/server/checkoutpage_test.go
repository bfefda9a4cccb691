package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"cartograph/internal/money"
	"cartograph/internal/seed"
)

// TestHostedCheckoutPage: the page behind Cart.checkoutUrl, in headless
// Chromium with JavaScript off and a phone-sized viewport: a cart made
// through the API, the buyer (in London: the shop's UK market, GBP) fills
// the form, applies WELCOME10, picks international delivery and places the
// order; the confirmation shows the same total, in pounds, as the order in
// the database, and the summary before placing showed it too. Then, over plain HTTP: a resubmitted form (same key)
// places no second order, what the buyer typed is escaped, and bad links
// are coded errors. Screenshots: .data/screenshots/checkout-*.png.
func TestHostedCheckoutPage(t *testing.T) {
	node, pwDir, browser := playwright(t)

	e := newEnv(t, 0)
	if err := seed.DemoPricing(context.Background(), e.db.Pool); err != nil {
		t.Fatal(err)
	}
	if err := seed.DemoMarkets(context.Background(), e.db.Pool); err != nil {
		t.Fatal(err)
	}
	store := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "waxed-canvas-field-jacket", 10)
	cartID := e.newCart(t, store, v, 2)
	var c struct{ Cart struct{ CheckoutURL string } }
	mustData(t, e.do(t, store, `query($id: ID!) { cart(id: $id) { checkoutUrl } }`, map[string]any{"id": cartID}), &c)
	cu, err := url.Parse(c.Cart.CheckoutURL)
	if err != nil || cu.Path != "/checkout" || cu.Query().Get("cart") == "" || !strings.HasPrefix(cu.Hostname(), "apparel.") {
		t.Fatalf("checkoutUrl %q", c.Cart.CheckoutURL)
	}
	srv, _ := url.Parse(e.srv.URL)
	// The shop's host on this test server's port (Chromium resolves *.localhost to loopback).
	pageURL := "http://apparel.localhost:" + srv.Port() + "/checkout?" + cu.RawQuery
	token := cu.Query().Get("cart")

	// orderTotal is the total of the apparel order with that number, as
	// the page formats it, and its currency.
	orderTotal := func(number string) (string, money.Currency) {
		t.Helper()
		var total int64
		var cur money.Currency
		if err := e.db.Pool.QueryRow(context.Background(), `SELECT o.total_amount, o.currency_code FROM orders o JOIN shops s ON s.id = o.shop_id
			WHERE s.handle = 'apparel' AND o.number::text = $1`, number).Scan(&total, &cur); err != nil {
			t.Fatalf("order %s: %v", number, err)
		}
		return money.FormatMinor(total, cur.Exponent()) + " " + string(cur), cur
	}
	ordersOfCart := func(tok string) (n int) {
		t.Helper()
		if err := e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM orders WHERE cart_id LIKE '%' || $1 || '%'`, tok).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return
	}

	if browser {
		shots, _ := filepath.Abs("../../.data/screenshots")
		_ = os.MkdirAll(shots, 0o755)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "../checkoutpage/testdata/checkout_browser.mjs")
		cmd.Env = append(os.Environ(), "URL="+pageURL, "PLAYWRIGHT_DIR="+pwDir, "SHOTS="+shots)
		raw, err := cmd.Output()
		if err != nil {
			t.Fatalf("browser script: %v %s", err, raw)
		}
		var got struct {
			Status                                                                         int
			CodeStatus, SummaryTotal, Discounts, Shipping, Confirmation, OrderTotal, Error string
			Options                                                                        []string
			Width                                                                          int
		}
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("browser output %s: %v", raw, err)
		}
		t.Logf("browser: %+v", got)
		if got.Error != "" || got.Status != http.StatusOK {
			t.Fatalf("browser run failed: %+v", got)
		}
		if got.CodeStatus != "WELCOME10: applied" || got.Discounts == "" || !strings.Contains(strings.Join(got.Options, ","), "international") {
			t.Fatalf("code or delivery options not shown: %+v", got)
		}
		if got.Shipping == "—" || got.OrderTotal != got.SummaryTotal || !strings.Contains(got.Confirmation, "order #") {
			t.Fatalf("the confirmation total %q differs from the summary %q (shipping %q)", got.OrderTotal, got.SummaryTotal, got.Shipping)
		}
		number := strings.TrimPrefix(orderNumber.FindString(got.Confirmation), "order #")
		if total, cur := orderTotal(number); got.OrderTotal != total || cur != "GBP" {
			t.Fatalf("database: order %s total %s; page shows %q", number, total, got.OrderTotal)
		}
		if n := ordersOfCart(token); n != 1 {
			t.Fatalf("%d orders for the cart", n)
		}
		if got.Width > 400 {
			t.Fatalf("the page is %d px wide on a 390 px phone", got.Width)
		}
	}

	t.Run("ResubmittedFormPlacesOneOrder", func(t *testing.T) {
		cart2 := e.newCart(t, store, v, 1)
		tok := strings.TrimPrefix(cart2, "gid://cartograph/Cart/")
		form := url.Values{"cart": {tok}, "key": {"0123456789abcdef0123456789abcdef"}, "email": {"grace@example.com"}, "firstName": {"Grace"},
			"lastName": {"Hopper"}, "address1": {"1 Navy Way"}, "city": {"London"}, "zip": {"SW1A 1AA"}, "country": {"GB"},
			"delivery": {"international"}, "action": {"place"}}
		var first string
		for i := 0; i < 2; i++ {
			status, body := postPage(t, "http://apparel.localhost:"+srv.Port()+"/checkout", srv.Host, form)
			if status != http.StatusOK || !strings.Contains(body, `id="confirmation"`) {
				t.Fatalf("attempt %d: %d %s", i, status, body)
			}
			h1 := orderNumber.FindString(body)
			if i == 0 {
				first = h1
			} else if h1 != first {
				t.Fatalf("a resubmission placed another order: %q then %q", first, h1)
			}
		}
		if n := ordersOfCart(tok); n != 1 {
			t.Fatalf("%d orders for one cart", n)
		}
	})

	t.Run("EscapesWhatItPrints", func(t *testing.T) {
		cart3 := e.newCart(t, store, v, 1)
		tok := strings.TrimPrefix(cart3, "gid://cartograph/Cart/")
		status, body := postPage(t, "http://apparel.localhost:"+srv.Port()+"/checkout", srv.Host,
			url.Values{"cart": {tok}, "firstName": {`<script>alert(1)</script>`}, "code": {`"><img src=x>`}, "action": {"update"}})
		if status != http.StatusOK || strings.Contains(body, "<script>alert") || strings.Contains(body, `"><img`) || !strings.Contains(body, "&lt;script&gt;") {
			t.Fatalf("not escaped (%d): %s", status, body)
		}
	})

	t.Run("ConcurrentSubmitsPlaceOneOrder", func(t *testing.T) {
		cart4 := e.newCart(t, store, v, 1)
		tok := strings.TrimPrefix(cart4, "gid://cartograph/Cart/")
		form := url.Values{"cart": {tok}, "key": {"fedcba9876543210fedcba9876543210"}, "email": {"ada@example.com"}, "firstName": {"Ada"},
			"lastName": {"Lovelace"}, "address1": {"12 St James's Square"}, "city": {"London"}, "zip": {"SW1Y 4JH"}, "country": {"GB"},
			"delivery": {"international"}, "action": {"place"}}
		var wg sync.WaitGroup
		numbers := make([]string, 8)
		for i := range numbers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, body := postPage(t, "http://apparel.localhost:"+srv.Port()+"/checkout", srv.Host, form)
				numbers[i] = orderNumber.FindString(body)
			}()
		}
		wg.Wait()
		if n := ordersOfCart(tok); n != 1 {
			t.Fatalf("%d orders from 8 concurrent submits of one form", n)
		}
		for _, n := range numbers {
			if n != "" && n != numbers[0] && numbers[0] != "" {
				t.Fatalf("confirmations name different orders: %v", numbers)
			}
		}
	})

	t.Run("ForeignShopAndHugeForm", func(t *testing.T) {
		cart5 := e.newCart(t, store, v, 1)
		tok := strings.TrimPrefix(cart5, "gid://cartograph/Cart/")
		// apparel's cart token on electronics' host is no cart there.
		if status, _, _ := getPage(t, e.srv.URL+"/checkout?cart="+tok, "electronics.localhost:"+srv.Port()); status != http.StatusNotFound {
			t.Fatalf("apparel cart on electronics' host: %d", status)
		}
		status, _ := postPage(t, "http://apparel.localhost:"+srv.Port()+"/checkout", srv.Host,
			url.Values{"cart": {tok}, "address1": {strings.Repeat("x", 64<<10)}, "action": {"place"}})
		if status != http.StatusBadRequest || ordersOfCart(tok) != 0 {
			t.Fatalf("a 64 KiB form: %d, %d orders", status, ordersOfCart(tok))
		}
	})

	t.Run("BadLinks", func(t *testing.T) {
		for _, tc := range []struct {
			q    string
			want int
		}{{"cart=not-a-token", 400}, {"cart=" + strings.Repeat("ab", 16), 404}, {"", 400}} {
			status, _, b := getPage(t, e.srv.URL+"/checkout?"+tc.q, "apparel.localhost:"+srv.Port())
			if status != tc.want || !strings.Contains(b, `class="errors"`) {
				t.Fatalf("%q: %d %s", tc.q, status, b)
			}
		}
	})
}

// playwright reports whether a test's headless-Chromium part can run here
// (node, playwright-core from `make assets`, Debian's chromium); with
// CARTOGRAPH_REQUIRE_BROWSER set (make test) it must.
func playwright(t *testing.T) (node, pwDir string, ok bool) {
	t.Helper()
	pwDir, _ = filepath.Abs("../graphiql/web")
	node, nodeErr := exec.LookPath("node")
	_, pwErr := os.Stat(filepath.Join(pwDir, "node_modules/playwright-core/package.json"))
	_, crErr := os.Stat("/usr/bin/chromium")
	ok = nodeErr == nil && pwErr == nil && crErr == nil
	if !ok && os.Getenv("CARTOGRAPH_REQUIRE_BROWSER") != "" {
		t.Fatalf("CARTOGRAPH_REQUIRE_BROWSER is set but the browser part cannot run (node %v, playwright-core %v, chromium %v)", nodeErr, pwErr, crErr)
	}
	return node, pwDir, ok
}

// getPage GETs target (its path and query, from the test server) with the
// given Host.
func getPage(t *testing.T, target, host string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// postPage posts a form to the checkout page with the shop's Host.
func postPage(t *testing.T, target, addr string, form url.Values) (int, string) {
	t.Helper()
	u, _ := url.Parse(target)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+u.Path, strings.NewReader(form.Encode()))
	req.Host = u.Host
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var orderNumber = regexp.MustCompile(`order #(\d+)`)
