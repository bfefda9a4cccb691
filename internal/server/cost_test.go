package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"cartograph/internal/auth"
	"cartograph/internal/config"
	"cartograph/internal/shop"
)

// strictCost sets Shopify Admin-like cost limits (the harness relaxes them).
func strictCost(c *config.Config) {
	c.MaxQueryCost, c.MaxQueryCostTrusted = 1000, 10000
	c.CostBucketMax, c.CostRestoreRate = 2000, 100
	c.ShopCostBucketMax, c.ShopCostRestoreRate = 200000, 20000
}

type costExt struct {
	Requested      int  `json:"requestedQueryCost"`
	Actual         *int `json:"actualQueryCost"`
	Maximum        int  `json:"maximumQueryCost"`
	ThrottleStatus *struct {
		MaximumAvailable   float64 `json:"maximumAvailable"`
		CurrentlyAvailable float64 `json:"currentlyAvailable"`
		RestoreRate        float64 `json:"restoreRate"`
	} `json:"throttleStatus"`
}

type costResponse struct {
	status     int
	retryAfter string
	Data       json.RawMessage `json:"data"`
	Errors     []gqlError      `json:"errors"`
	Extensions struct {
		Cost *costExt `json:"cost"`
	} `json:"extensions"`
	raw []byte
}

func (r *costResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// post sends a raw body to /graphql of srv with the shop header and extra headers.
func costPost(t *testing.T, url string, body []byte, headers map[string]string) *costResponse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shop-Handle", "apparel")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := &costResponse{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), raw: b}
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("decode (status %d): %v: %.300s", resp.StatusCode, err, b)
		}
	}
	return out
}

func queryBody(q string) []byte {
	b, _ := json.Marshal(map[string]any{"query": q})
	return b
}

const listingDoc = `{ products(first: 10) { nodes { id title variants(first: 5) { nodes { id price { amount } } } } } }`

func TestQueryCost(t *testing.T) {
	e := newEnvWith(t, 0, strictCost)
	// Warm the shop cache so later statement counts are the query's alone.
	costPost(t, e.srv.URL, queryBody(`{ shop { name } }`), nil)

	t.Run("ExtensionsCostOnEveryResponse", func(t *testing.T) {
		r := costPost(t, e.srv.URL, queryBody(listingDoc), nil)
		if r.status != 200 || len(r.Errors) > 0 {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		c := r.Extensions.Cost
		if c == nil || c.ThrottleStatus == nil {
			t.Fatalf("no extensions.cost: %s", r.raw)
		}
		// products(first:10): 2+10; each product's variants(first:5): 2+5.
		if c.Requested < 10*(2+5) || c.Actual == nil || *c.Actual > c.Requested || *c.Actual <= 0 {
			t.Fatalf("cost %+v", c)
		}
		if c.ThrottleStatus.MaximumAvailable != 2000 || c.ThrottleStatus.RestoreRate != 100 || c.ThrottleStatus.CurrentlyAvailable > 2000 {
			t.Fatalf("throttle status %+v", *c.ThrottleStatus)
		}
		// The demo shop has fewer than 10 products with 5 variants each: the
		// actual cost, from the real list sizes, is below the requested one.
		if *c.Actual >= c.Requested {
			t.Fatalf("actual %d not below requested %d", *c.Actual, c.Requested)
		}
	})

	t.Run("CostOnlyHeaderExecutesNothing", func(t *testing.T) {
		before := e.db.AppStats.Statements()
		r := costPost(t, e.srv.URL, queryBody(listingDoc), map[string]string{"X-Cost-Only": "1"})
		if got := e.db.AppStats.Statements() - before; got != 0 {
			t.Fatalf("%d statements for a cost-only request", got)
		}
		if r.status != 200 || r.Extensions.Cost == nil || r.Extensions.Cost.Requested <= 0 || (string(r.Data) != "null" && len(r.Data) != 0) {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
	})

	t.Run("JustUnderRunsJustOver_ErrMaxCostExceeded", func(t *testing.T) {
		doc := func(n int) string {
			return fmt.Sprintf(`{ products(first: %d) { nodes { id variants(first: 3) { nodes { id } } } } }`, n)
		}
		costOf := func(n int) int {
			r := costPost(t, e.srv.URL, queryBody(doc(n)), map[string]string{"X-Cost-Only": "1"})
			if r.Extensions.Cost == nil {
				t.Fatalf("no cost: %s", r.raw)
			}
			return r.Extensions.Cost.Requested
		}
		n := 1
		for n < 250 && costOf(n+1) <= 1000 {
			n++
		}
		if costOf(n) > 1000 || costOf(n+1) <= 1000 {
			t.Fatalf("no boundary found: cost(%d)=%d cost(%d)=%d", n, costOf(n), n+1, costOf(n+1))
		}
		if r := costPost(t, e.srv.URL, queryBody(doc(n)), nil); r.status != 200 || len(r.Errors) > 0 {
			t.Fatalf("cost %d (under the limit) refused: %s", costOf(n), r.raw)
		}
		before := e.db.AppStats.Statements()
		r := costPost(t, e.srv.URL, queryBody(doc(n+1)), nil)
		if r.status != 400 || r.code() != "MAX_COST_EXCEEDED" {
			t.Fatalf("over the limit: status %d %s", r.status, r.raw)
		}
		if r.Extensions.Cost == nil && r.Errors[0].Extensions["cost"] == nil {
			t.Fatalf("no cost in the refusal: %s", r.raw)
		}
		if !strings.Contains(r.Errors[0].Message, fmt.Sprint(costOf(n+1))) || !strings.Contains(r.Errors[0].Message, "1000") {
			t.Fatalf("message does not give the exact cost and the limit: %q", r.Errors[0].Message)
		}
		if got := e.db.AppStats.Statements() - before; got != 0 {
			t.Fatalf("%d statements ran for a refused document", got)
		}
	})

	t.Run("IntrospectionForToolsFits", func(t *testing.T) {
		r := costPost(t, e.srv.URL, queryBody(introspectionQuery), nil)
		if r.status != 200 || len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"queryType"`) {
			t.Fatalf("GraphiQL's introspection refused: %.500s", r.raw)
		}
	})
}

// TestHostileDocuments: every row is refused before any SQL, quickly.
func TestHostileDocuments(t *testing.T) {
	e := newEnvWith(t, 0, strictCost)
	costPost(t, e.srv.URL, queryBody(`{ shop { name } }`), nil)
	rep := func(s string, n int) string { return strings.Repeat(s, n) }
	nest := func(depth int) string {
		return "{ products(first: 250) { nodes { " + rep("variants(first: 250) { nodes { product { ", depth) + "id" + rep(" } } }", depth) + " } } }"
	}
	chain := func(depth int) string {
		return "{ products(first: 1) { nodes { " + rep("variants(first: 1) { nodes { product { ", depth) + "id" + rep(" } } }", depth) + " } } }"
	}
	aliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{ ")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "a%d: products(first: 250) { nodes { id } } ", i)
		}
		b.WriteString("}")
		return b.String()
	}
	introAliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{ ")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "s%d: __schema { types { fields { name } } } ", i)
		}
		b.WriteString("}")
		return b.String()
	}
	fragBomb := func(n int) string {
		var b strings.Builder
		b.WriteString("{ products(first: 1) { nodes { ...F0 } } }\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "fragment F%d on Product { ...F%d ...F%d ...F%d }\n", i, i+1, i+1, i+1)
		}
		fmt.Fprintf(&b, "fragment F%d on Product { id }\n", n)
		return b.String()
	}
	rows := []struct {
		name string
		body []byte
	}{
		{"DeepFanOutNest", queryBody(nest(5))},
		{"FanOutWithinDepthLimit", queryBody(nest(2))},
		{"Depth500Chain", queryBody(chain(167))},
		{"Repeated5000", queryBody("{ " + rep("shop { name } ", 5000) + "}")},
		{"Repeated50000", queryBody("{ " + rep("__typename ", 50000) + "}")},
		{"Aliases1000", queryBody(aliases(1000))},
		{"Aliases10000", queryBody(aliases(10000))},
		{"ExponentialFragments", queryBody(fragBomb(30))},
		{"FragmentCycle", queryBody("{ products(first: 1) { nodes { ...A } } } fragment A on Product { ...B } fragment B on Product { ...A }")},
		{"AliasedIntrospection2000", queryBody(introAliases(2000))},
		{"MegabyteOfTokens", queryBody("{ " + rep("a ", 512<<10) + "}")},
		{"OversizedVariables", []byte(`{"query":"{ shop { name } }","variables":{"x":"` + rep("x", 2<<20) + `"}}`)},
		{"UnknownOperationName", []byte(`{"query":"query A { shop { name } }","operationName":"B"}`)},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			before := e.db.AppStats.Statements()
			start := time.Now()
			r := costPost(t, e.srv.URL, row.body, nil)
			took := time.Since(start)
			if r.status == 200 && len(r.Errors) == 0 {
				t.Fatalf("hostile document accepted: %.300s", r.raw)
			}
			if got := e.db.AppStats.Statements() - before; got != 0 {
				t.Fatalf("%d SQL statements ran before the refusal", got)
			}
			// Generous for -race on 2 cores; unbounded work took seconds to minutes.
			if took > 2*time.Second {
				t.Fatalf("refusal took %v", took)
			}
			t.Logf("status %d %s in %v", r.status, r.code(), took)
		})
	}
}

// TestCostBucketSharedByInstances: two gateways on one Redis charge one
// bucket per caller: a caller drained on A is throttled on B.
func TestCostBucketSharedByInstances(t *testing.T) {
	tune := func(c *config.Config) {
		strictCost(c)
		c.CostBucketMax, c.CostRestoreRate = 1000, 1
		// Under -race on a loaded machine a bucket call can pass the
		// production 100 ms bound; the request would then run unbudgeted
		// (by design) and the test would measure the fallback, not sharing.
		c.CostRedisTimeout = 5 * time.Second
	}
	a := newEnvWith(t, 0, tune)
	hsB, _ := startServer(t, a.db, nil, tune)
	doc := queryBody(`{ products(first: 100) { nodes { id variants(first: 1) { nodes { id } } } } }`)
	var last *costResponse
	for i := 0; i < 30; i++ {
		last = costPost(t, a.srv.URL, doc, nil)
		if last.status == http.StatusTooManyRequests {
			break
		}
	}
	if last.status != http.StatusTooManyRequests {
		t.Fatalf("A never throttled: %s", last.raw)
	}
	r := costPost(t, hsB.URL, doc, nil)
	if r.status != http.StatusTooManyRequests || r.code() != "THROTTLED" || r.retryAfter == "" {
		t.Fatalf("B did not share A's bucket: status %d retry-after %q %s", r.status, r.retryAfter, r.raw)
	}
	// Another caller (a different client IP would be; here: staff) is not affected.
	if r := costPost(t, hsB.URL, queryBody(`{ shop { name } }`), map[string]string{"X-Forwarded-For": "203.0.113.9"}); r.status == 0 {
		t.Fatal("no response")
	}
}

const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}`

// TestKeyCostLimit: a key created with its own cost budget
// (keys create --cost-limit) is throttled by it, not by the default.
func TestKeyCostLimit(t *testing.T) {
	e := newEnvWith(t, 0, func(c *config.Config) { c.CostRestoreRate = 1 })
	ctx := context.Background()
	sh, err := shop.NewResolver(e.db.App, "", "", 0).ByHandle(ctx, "apparel")
	if err != nil {
		t.Fatal(err)
	}
	_, plain, ues, err := auth.NewKeyAdmin(e.db.App, nil, 1000).CreateKey(ctx, sh, auth.KeyInput{Kind: "secret", Scopes: []string{"catalog:read"}, CostLimit: 100}, nil)
	if err != nil || len(ues) > 0 {
		t.Fatalf("create: %v %+v", err, ues)
	}
	doc := queryBody(`{ products(first: 30) { nodes { id } } }`)
	var last *costResponse
	for i := 0; i < 6; i++ {
		last = costPost(t, e.srv.URL, doc, map[string]string{"X-Api-Key": plain})
		if last.status == http.StatusTooManyRequests {
			break
		}
	}
	if last.status != http.StatusTooManyRequests || last.Extensions.Cost == nil && last.Errors[0].Extensions["cost"] == nil {
		t.Fatalf("a key with a 100-point budget was not throttled: %s", last.raw)
	}
	// The default budget (10,000,000 here) still serves anonymous callers.
	if r := costPost(t, e.srv.URL, doc, nil); r.status != 200 {
		t.Fatalf("anonymous caller: %s", r.raw)
	}
}
