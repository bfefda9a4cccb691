package cost_test

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"testing"

	"cartograph/internal/cost"

	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"
)

func full(n int) int { return n }
func half(n int) int { return n / 2 }

// Actual cost through gqlgen's real executor: equal to Requested when
// every list comes back full, less when lists are short or objects null.
func TestActualCost(t *testing.T) {
	s := loadSchema(t, testSDL)
	tests := []struct {
		name        string
		query       string
		vars        map[string]any
		fill        func(int) int
		nullObjects bool
		requested   int
		actual      int
	}{
		{"FullListingEqualsRequested", `{ products(first: 24) { nodes { title price { amount } variants(first: 5) { nodes { id price { amount } } } } } }`, nil, full, false, 338, 338},
		{"FullEdgesEqualsRequested", `{ products(first: 4) { edges { cursor node { id variants { edges { node { warehouse { name } } } } } } pageInfo { hasNextPage } } }`, nil, full, false, 3 + 4*(1+2+20*(1+4)), 3 + 4*(1+2+20*(1+4))},
		{"FullEdgesAndNodesEqualsRequested", `{ products(first: 10) { edges { node { id } } nodes { id } } }`, nil, full, false, 22, 22},
		{"PageInfoOnlyPaysRequestedItems", `{ products(first: 10) { pageInfo { hasNextPage } } }`, nil, full, false, 13, 13},
		{"FullFragmentsEqualsRequested", `{ products(first: 3) { nodes { ...P } } } fragment P on Product { price { amount } variants(first: 2) { nodes { ...V } } } fragment V on Variant { price { amount } }`, nil, full, false, 26, 26},
		{"FullPlainListsAndArgumentsEqualRequested", `query($f: Filter) { recommendations { id price { amount } } search(filter: $f) { id } products(first: 2, query: "x") { nodes { id } } expensive }`, map[string]any{"f": map[string]any{"text": "x"}}, full, false, 22 + 9 + 9 + 7, 22 + 9 + 9 + 7},
		{"FullMutationEqualsRequested", `mutation { buy(id: "1") { product { id } userErrors { message } } }`, nil, full, false, 56, 56},
		{"ShortListsCostLess", `{ products(first: 10) { nodes { variants(first: 4) { nodes { id } } } } }`, nil, half, false, 2 + 10*(1+2+4), 2 + 5*(1+2+2)},
		{"EmptyListsPayOverheadOnly", `{ products(first: 10) { nodes { id } } recommendations { id } }`, nil, func(int) int { return 0 }, false, 12 + 12, 2 + 2},
		{"NullObjectsCostLess", `{ product(id: "1") { price { amount } } }`, nil, full, true, 2, 1},
		{"MergedDuplicatesRunOnce", `{ products(first: 5) { nodes { id } } products(first: 5) { nodes { title } } }`, nil, full, false, 14, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := &fakeSchema{schema: s, fill: tt.fill, nullObjects: tt.nullObjects}
			h := newServer(es, cost.NewExtension(cost.ExtensionConfig{}))
			resp := post(t, h, tt.query, tt.vars, nil)
			if len(resp.Errors) > 0 {
				t.Fatalf("errors: %+v", resp.Errors)
			}
			c := resp.Extensions.Cost
			if c == nil || c.Actual == nil {
				t.Fatalf("no extensions.cost: %+v", resp)
			}
			if c.Requested != tt.requested || *c.Actual != tt.actual {
				t.Fatalf("requested %d actual %d, want %d and %d", c.Requested, *c.Actual, tt.requested, tt.actual)
			}
			if c.ThrottleStatus != nil {
				t.Fatalf("throttleStatus without buckets: %+v", c.ThrottleStatus)
			}
		})
	}
}

// The Tracker's arithmetic with recorded list sizes, without an executor.
func TestTrackerRecord(t *testing.T) {
	s := loadSchema(t, testSDL)
	m := newModel(t, s)
	doc, op := parse(t, s, `{ products(first: 10) { nodes { id variants(first: 3) { nodes { id } } } } }`)
	requested, tr, err := m.Track(doc, op, nil)
	if err != nil {
		t.Fatal(err)
	}
	if requested != 2+10*(1+2+3) {
		t.Fatalf("requested %d", requested)
	}
	products := op.SelectionSet[0].(*ast.Field)
	nodes := products.SelectionSet[0].(*ast.Field)
	id := nodes.SelectionSet[0].(*ast.Field)
	variants := nodes.SelectionSet[1].(*ast.Field)
	vnodes := variants.SelectionSet[0].(*ast.Field)

	tr.Record(products, 0)
	tr.Resolved(nodes, make([]*struct{}, 4))
	for _, n := range []int{3, 1, 0, 2} {
		tr.Record(id, 0) // a leaf: free
		tr.Resolved(variants, &struct{}{})
		tr.Resolved(vnodes, make([]string, n))
	}
	if got, want := tr.Actual(), 2+4+4*2+(3+1+0+2); got != want {
		t.Fatalf("actual %d, want %d", got, want)
	}
}

func TestExtension(t *testing.T) {
	s := loadSchema(t, testSDL)
	rdb := newRedis(t)
	buckets := cost.NewBuckets(rdb)
	const listing = `{ products(first: 10) { nodes { variants(first: 4) { nodes { id } } } } }` // 72
	limits := func(key string, max float64) func(context.Context) []cost.Limit {
		return func(context.Context) []cost.Limit {
			return []cost.Limit{{Key: key, Max: max, RestorePerSec: 0.001}}
		}
	}
	available := func(t *testing.T, key string, max float64) float64 {
		t.Helper()
		st, err := buckets.Take(context.Background(), 0, cost.Limit{Key: key, Max: max, RestorePerSec: 0.001})
		if err != nil {
			t.Fatal(err)
		}
		return st.Available
	}

	t.Run("MaxCostExceededWithoutRunning", func(t *testing.T) {
		es := &fakeSchema{schema: s, fill: full}
		h := newServer(es, cost.NewExtension(cost.ExtensionConfig{MaxCost: func(context.Context) int { return 50 }}))
		resp := post(t, h, listing, nil, nil)
		if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "MAX_COST_EXCEEDED" {
			t.Fatalf("errors %+v", resp.Errors)
		}
		if msg := resp.Errors[0].Message; msg != "query cost 72 exceeds the maximum 50" {
			t.Fatalf("message %q", msg)
		}
		if _, ok := resp.Errors[0].Extensions["cost"]; !ok {
			t.Fatal("no cost in the error's extensions")
		}
		if n := es.resolved.Load(); n != 0 {
			t.Fatalf("%d resolvers ran", n)
		}
	})

	t.Run("DefaultMaximumIs1000", func(t *testing.T) {
		es := &fakeSchema{schema: s, fill: full}
		h := newServer(es, cost.NewExtension(cost.ExtensionConfig{}))
		resp := post(t, h, `{ products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }`, nil, nil)
		if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "MAX_COST_EXCEEDED" {
			t.Fatalf("errors %+v", resp.Errors)
		}
	})

	t.Run("CostOnlyDoesNotRunOrCharge", func(t *testing.T) {
		key := uniqueKey(t, rdb, "costonly")
		es := &fakeSchema{schema: s, fill: full}
		h := newServer(es, cost.NewExtension(cost.ExtensionConfig{Buckets: buckets, Limits: limits(key, 100)}))
		resp := post(t, h, listing, nil, http.Header{"X-Cost-Only": {"1"}})
		if string(resp.Data) != "null" || len(resp.Errors) > 0 {
			t.Fatalf("data %s errors %+v", resp.Data, resp.Errors)
		}
		c := resp.Extensions.Cost
		if c == nil || c.Requested != 72 || c.Actual != nil || c.ThrottleStatus == nil || c.ThrottleStatus.Available != 100 {
			t.Fatalf("cost %+v", c)
		}
		if n := es.resolved.Load(); n != 0 {
			t.Fatalf("%d resolvers ran", n)
		}
		if got := available(t, key, 100); got != 100 {
			t.Fatalf("bucket at %v", got)
		}
	})

	t.Run("RefundsWhatWasNotUsed", func(t *testing.T) {
		key := uniqueKey(t, rdb, "refund")
		es := &fakeSchema{schema: s, fill: half}
		h := newServer(es, cost.NewExtension(cost.ExtensionConfig{Buckets: buckets, Limits: limits(key, 100)}))
		resp := post(t, h, listing, nil, nil)
		c := resp.Extensions.Cost
		if len(resp.Errors) > 0 || c == nil || c.Actual == nil || c.ThrottleStatus == nil {
			t.Fatalf("response %+v", resp)
		}
		if c.Requested != 72 || *c.Actual != 27 {
			t.Fatalf("requested %d actual %d", c.Requested, *c.Actual)
		}
		ts := c.ThrottleStatus
		if ts.Maximum != 100 || ts.Restore != 0.001 || math.Abs(ts.Available-73) > 0.01 {
			t.Fatalf("throttleStatus %+v, want 73 of 100 available", ts)
		}
		buckets.Flush() // the refund is written behind the response
		if got := available(t, key, 100); math.Abs(got-73) > 0.01 {
			t.Fatalf("bucket at %v, want 73", got)
		}
	})

	t.Run("ThrottledWhenTheBucketIsLow", func(t *testing.T) {
		key := uniqueKey(t, rdb, "throttle")
		es := &fakeSchema{schema: s, fill: full}
		h := newServer(es, cost.NewExtension(cost.ExtensionConfig{Buckets: buckets, Limits: limits(key, 100)}))
		if resp := post(t, h, listing, nil, nil); len(resp.Errors) > 0 {
			t.Fatalf("first request: %+v", resp.Errors)
		}
		before := es.resolved.Load()
		resp := post(t, h, listing, nil, nil)
		if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "THROTTLED" {
			t.Fatalf("errors %+v", resp.Errors)
		}
		ext := resp.Errors[0].Extensions
		if ra, _ := ext["retryAfter"].(float64); ra < 1 {
			t.Fatalf("retryAfter %v", ext["retryAfter"])
		}
		if _, ok := ext["cost"].(map[string]any)["throttleStatus"]; !ok {
			t.Fatalf("no throttleStatus in %v", ext["cost"])
		}
		if es.resolved.Load() != before {
			t.Fatal("a throttled request ran")
		}
	})

	t.Run("CostAboveBucketMaxIsMaxCostExceeded", func(t *testing.T) {
		key := uniqueKey(t, rdb, "small")
		h := newServer(&fakeSchema{schema: s, fill: full}, cost.NewExtension(cost.ExtensionConfig{Buckets: buckets, Limits: limits(key, 50)}))
		resp := post(t, h, listing, nil, nil)
		if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "MAX_COST_EXCEEDED" {
			t.Fatalf("errors %+v", resp.Errors)
		}
	})

	t.Run("RedisDownRunsUnbudgeted", func(t *testing.T) {
		dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
		t.Cleanup(func() { _ = dead.Close() })
		var logs bytes.Buffer
		ext := cost.NewExtension(cost.ExtensionConfig{
			Buckets: cost.NewBuckets(dead),
			Limits:  limits("unused", 100),
			MaxCost: func(context.Context) int { return 100 },
			Log:     slog.New(slog.NewTextHandler(&logs, nil)),
		})
		h := newServer(&fakeSchema{schema: s, fill: full}, ext)
		resp := post(t, h, listing, nil, nil)
		if len(resp.Errors) > 0 || resp.Extensions.Cost == nil || *resp.Extensions.Cost.Actual != 72 {
			t.Fatalf("response %+v", resp)
		}
		if resp.Extensions.Cost.ThrottleStatus != nil {
			t.Fatal("throttleStatus without a budget")
		}
		if !strings.Contains(logs.String(), "unavailable") {
			t.Fatalf("not logged: %q", logs.String())
		}
		resp = post(t, h, `{ products(first: 200) { nodes { id } } }`, nil, nil)
		if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "MAX_COST_EXCEEDED" {
			t.Fatalf("per-request maximum not enforced: %+v", resp.Errors)
		}
	})

	t.Run("ErrModelFromAnotherSchema", func(t *testing.T) {
		other := newModel(t, loadSchema(t, testSDL))
		ext := cost.NewExtension(cost.ExtensionConfig{Model: other})
		if err := ext.Validate(&fakeSchema{schema: s}); err == nil {
			t.Fatal("want an error")
		}
	})
}
