package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestShopCORS: a shop's own CORS origins (ApiPolicy.allowedOrigins) are
// honoured on the hosts that name the shop, for preflights and actual
// requests alike, never with credentials, never for another shop's host;
// bad origins are refused with user errors and change nothing.
func TestShopCORS(t *testing.T) {
	e := newEnv(t, 0)
	staff := e.staff(t, "apparel")
	const upd = `mutation($in: ApiPolicyInput!) { apiPolicyUpdate(input: $in) { apiPolicy { allowedOrigins } userErrors { field code } } }`
	type out struct {
		APIPolicyUpdate struct {
			APIPolicy *struct {
				AllowedOrigins []string `json:"allowedOrigins"`
			} `json:"apiPolicy"`
			UserErrors []struct {
				Field []string `json:"field"`
				Code  string   `json:"code"`
			} `json:"userErrors"`
		} `json:"apiPolicyUpdate"`
	}
	set := func(in map[string]any) out {
		t.Helper()
		in["trustedDocumentsOnly"] = false
		r := e.do(t, staff, upd, map[string]any{"in": in})
		var o out
		if len(r.Errors) > 0 || json.Unmarshal(r.Data, &o) != nil {
			t.Fatalf("apiPolicyUpdate: %+v", r)
		}
		return o
	}
	stored := func() []string {
		t.Helper()
		var s []string
		if err := e.db.Pool.QueryRow(t.Context(), "SELECT coalesce((SELECT allowed_origins FROM api_policies p JOIN shops s ON s.id = p.shop_id WHERE s.handle = 'apparel'), '{}')").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	send := func(method, host, origin string, headers map[string]string) *http.Response {
		t.Helper()
		var body *strings.Reader
		if method == http.MethodPost {
			body = strings.NewReader(`{"query":"{ shop { name } }"}`)
		} else {
			body = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, e.srv.URL+"/api/2025-01/graphql.json", body)
		req.Host = host
		req.Header.Set("Origin", origin)
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type, x-shopify-storefront-access-token")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	const apparelHost, electronicsHost = "apparel.shops.test", "electronics.shops.test"

	t.Run("NothingAllowedBeforeTheShopSaysSo", func(t *testing.T) {
		r := send(http.MethodOptions, apparelHost, "https://store.example", nil)
		if r.StatusCode != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight before any origin was allowed: %d %v", r.StatusCode, r.Header)
		}
	})
	t.Run("BadOriginsRefusedNothingChanged", func(t *testing.T) {
		o := set(map[string]any{"allowedOrigins": []string{"https://store.example"}})
		if o.APIPolicyUpdate.APIPolicy == nil || !slices.Equal(o.APIPolicyUpdate.APIPolicy.AllowedOrigins, []string{"https://store.example"}) {
			t.Fatalf("set: %+v", o)
		}
		for _, bad := range []string{"ftp://store.example", "https://store.example/path", "javascript:alert(1)", "store.example",
			"https://user@store.example", "https://store.example?x=1", "https://store.example:99999", "https://*.example", ""} {
			o := set(map[string]any{"allowedOrigins": []string{"https://ok.example", bad}})
			ues := o.APIPolicyUpdate.UserErrors
			if o.APIPolicyUpdate.APIPolicy != nil || len(ues) != 1 || ues[0].Code != "INVALID" || !slices.Equal(ues[0].Field, []string{"input", "allowedOrigins", "1"}) {
				t.Fatalf("%q accepted or wrong error: %+v", bad, o)
			}
		}
		many := make([]string, 51)
		for i := range many {
			many[i] = fmt.Sprintf("https://s%d.example", i)
		}
		if o := set(map[string]any{"allowedOrigins": many}); len(o.APIPolicyUpdate.UserErrors) != 1 || o.APIPolicyUpdate.UserErrors[0].Code != "TOO_MANY" {
			t.Fatalf("51 origins: %+v", o)
		}
		if o := set(map[string]any{"allowedOrigins": many[:50]}); len(o.APIPolicyUpdate.UserErrors) != 0 {
			t.Fatalf("50 origins refused: %+v", o)
		}
		if o := set(map[string]any{"allowedOrigins": []string{"https://store.example"}}); len(o.APIPolicyUpdate.UserErrors) != 0 {
			t.Fatal(o)
		}
		if s := stored(); !slices.Equal(s, []string{"https://store.example"}) {
			t.Fatalf("stored after refusals: %v", s)
		}
	})
	t.Run("NormalisedAndKeptWhenOmitted", func(t *testing.T) {
		o := set(map[string]any{"allowedOrigins": []string{" HTTPS://Store.Example:443/ ", "http://localhost:3000", "https://store.example"}})
		want := []string{"https://store.example", "http://localhost:3000"}
		if got := o.APIPolicyUpdate.APIPolicy.AllowedOrigins; !slices.Equal(got, want) {
			t.Fatalf("normalised: %v, want %v", got, want)
		}
		o = set(map[string]any{"maxQueryCost": 5000}) // allowedOrigins omitted: unchanged
		if got := o.APIPolicyUpdate.APIPolicy.AllowedOrigins; !slices.Equal(got, want) {
			t.Fatalf("omitted list changed: %v", got)
		}
	})
	t.Run("PreflightOnTheShopsHost", func(t *testing.T) {
		r := send(http.MethodOptions, apparelHost, "https://store.example", nil)
		if r.StatusCode != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "https://store.example" ||
			!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "X-Shopify-Storefront-Access-Token") ||
			!strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") {
			t.Fatalf("preflight: %d %v", r.StatusCode, r.Header)
		}
		if r.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatal("a shop's origin got credentials")
		}
		if r := send(http.MethodOptions, apparelHost, "http://localhost:3000", nil); r.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
			t.Fatalf("second origin: %v", r.Header)
		}
	})
	t.Run("ActualRequestOnTheShopsHost", func(t *testing.T) {
		r := send(http.MethodPost, apparelHost, "https://store.example", nil)
		if r.StatusCode != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != "https://store.example" ||
			!strings.Contains(fmt.Sprint(r.Header.Values("Vary")), "Origin") {
			t.Fatalf("actual: %d %v", r.StatusCode, r.Header)
		}
	})
	t.Run("NotForOtherOriginsShopsOrHosts", func(t *testing.T) {
		for name, c := range map[string]struct {
			host, origin string
			h            map[string]string
		}{
			"UnlistedOrigin":         {apparelHost, "https://evil.example", nil},
			"SchemeMatters":          {apparelHost, "http://store.example", nil},
			"OtherShopsHost":         {electronicsHost, "https://store.example", nil},
			"SharedGatewayHost":      {"127.0.0.1", "https://store.example", map[string]string{"X-Shop-Handle": "apparel"}},
			"UnknownHost":            {"nope.shops.test", "https://store.example", nil},
			"OpaqueOrigin":           {apparelHost, "null", nil},
			"HeaderNamesAnotherShop": {electronicsHost, "https://store.example", map[string]string{"X-Shop-Handle": "apparel"}},
		} {
			for _, m := range []string{http.MethodOptions, http.MethodPost} {
				if r := send(m, c.host, c.origin, c.h); r.Header.Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("%s %s: allowed: %v", name, m, r.Header)
				}
			}
		}
	})
	t.Run("ClearedTakesEffectAtOnce", func(t *testing.T) {
		set(map[string]any{"allowedOrigins": []string{}})
		if r := send(http.MethodOptions, apparelHost, "https://store.example", nil); r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("cleared origin still allowed: %v", r.Header)
		}
		set(map[string]any{"allowedOrigins": []string{"*"}})
		r := send(http.MethodOptions, apparelHost, "https://anyone.example", nil)
		if r.Header.Get("Access-Control-Allow-Origin") != "https://anyone.example" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("shop wildcard: %v", r.Header)
		}
	})
	t.Run("WebsocketUpgradeFollowsTheSameRules", func(t *testing.T) {
		set(map[string]any{"allowedOrigins": []string{"https://store.example"}})
		cookie := "cartograph_session=" + strings.TrimPrefix(staff["Authorization"], "Bearer ")
		dial := func(host, origin string) (*websocket.Conn, int) {
			t.Helper()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			hdr := http.Header{"Cookie": {cookie}}
			if origin != "" {
				hdr.Set("Origin", origin)
			}
			c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/graphql",
				&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, Host: host, HTTPHeader: hdr})
			if err != nil {
				if resp == nil {
					t.Fatalf("dial: %v", err)
				}
				return nil, resp.StatusCode
			}
			t.Cleanup(func() { _ = c.CloseNow() })
			return c, http.StatusSwitchingProtocols
		}
		// init sends an empty connection_init: only the cookie can
		// authenticate it. It returns "ack" or the close code.
		init := func(c *websocket.Conn) string {
			t.Helper()
			sendRaw(t, c, map[string]any{"type": "connection_init", "payload": map[string]any{}})
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			_, b, err := c.Read(ctx)
			if err != nil {
				return fmt.Sprint(int(websocket.CloseStatus(err)))
			}
			var m struct{ Type string }
			_ = json.Unmarshal(b, &m)
			return m.Type
		}
		if _, code := dial(apparelHost, "https://evil.example"); code != http.StatusForbidden {
			t.Fatalf("unlisted origin upgraded: %d", code)
		}
		if _, code := dial(electronicsHost, "https://store.example"); code != http.StatusForbidden {
			t.Fatalf("another shop's host upgraded for apparel's origin: %d", code)
		}
		c, code := dial(apparelHost, "https://store.example")
		if code != http.StatusSwitchingProtocols {
			t.Fatalf("listed origin refused: %d", code)
		}
		if got := init(c); got != "4401" {
			t.Fatalf("a shop origin's socket was authenticated by the cookie: %s", got)
		}
		c, _ = dial(apparelHost, "http://"+apparelHost) // same origin
		if got := init(c); got != "connection_ack" {
			t.Fatalf("same-origin socket with the session cookie: %s", got)
		}
		c, _ = dial(apparelHost, "") // not a browser
		if got := init(c); got != "connection_ack" {
			t.Fatalf("socket without Origin: %s", got)
		}
	})
	t.Run("PublicKeysCannotChangeOrigins", func(t *testing.T) {
		pk := e.storefront(t, "apparel")
		r := e.do(t, pk, upd, map[string]any{"in": map[string]any{"trustedDocumentsOnly": false, "allowedOrigins": []string{"https://evil.example"}}})
		if c := r.code(); c != "FORBIDDEN" && c != "UNAUTHENTICATED" {
			t.Fatalf("pk_ key changed the policy: %+v", r)
		}
		if s := stored(); !slices.Equal(s, []string{"https://store.example"}) {
			t.Fatalf("stored changed: %v", s)
		}
	})
}
