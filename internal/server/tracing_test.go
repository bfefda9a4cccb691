package server_test

import (
	"context"
	"strings"
	"testing"

	"cartograph/internal/redisconn"
	"cartograph/internal/seed"
	"cartograph/internal/testdb"
	"cartograph/internal/tracing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestTracingSpanTree: one traced request produces one trace whose tree
// is HTTP server span -> GraphQL operation (name, cost) -> dataloader
// batch -> SQL, with Redis and SQL spans under the request, every parent
// link pointing at a span of the same trace.
func TestTracingSpanTree(t *testing.T) {
	db := testdb.New(t, "server")
	ctx := context.Background()
	if err := seed.Demo(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	if err := seed.DemoStaff(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	rdb, _, err := redisconn.Open(testdb.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	e := startOnClient(t, db, rdb, nil)
	h := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "cashmere-beanie", 5, 0)
	cartID := e.newCart(t, h, v, 2)

	sr := tracetest.NewSpanRecorder()
	tracing.Set(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)))
	t.Cleanup(func() { tracing.Set(nil) })
	r := e.do(t, h, `query TracedCart($id: ID!, $v: ID!) { cart(id: $id) { lines(first: 5) { nodes { merchandise { ... on ProductVariant { title } } } } }
		node(id: $v) { ... on ProductVariant { product { title images(first: 1) { nodes { url } } } } } }`, map[string]any{"id": cartID, "v": v})
	tracing.Set(nil)
	if r.code() != "" {
		t.Fatalf("query: %+v", r.Errors)
	}
	// The request's trace; the cost refund is written behind the response
	// by a background pipeline (internal/cost RefundLater), its own trace.
	var spans []sdktrace.ReadOnlySpan
	var reqTrace trace.TraceID
	for _, s := range sr.Ended() {
		if s.Name() == "POST /graphql" {
			reqTrace = s.SpanContext().TraceID()
		}
	}
	for _, s := range sr.Ended() {
		if s.SpanContext().TraceID() == reqTrace {
			spans = append(spans, s)
		} else if s.Name() != "redis pipeline" {
			t.Errorf("span %q outside the request's trace", s.Name())
		}
	}
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	var names []string
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
		names = append(names, s.Name())
	}
	t.Logf("spans: %s", strings.Join(names, ", "))
	var root sdktrace.ReadOnlySpan
	for _, s := range spans {
		if !s.Parent().IsValid() {
			if root != nil {
				t.Fatalf("two roots: %q and %q", root.Name(), s.Name())
			}
			root = s
		}
	}
	if root == nil || root.Name() != "POST /graphql" || root.SpanKind() != trace.SpanKindServer {
		t.Fatalf("root span: %v", root)
	}
	// ancestors returns the names from s up to the root.
	ancestors := func(s sdktrace.ReadOnlySpan) []string {
		var out []string
		for s != nil {
			if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
				t.Fatalf("span %q in another trace", s.Name())
			}
			out = append(out, s.Name())
			if !s.Parent().IsValid() {
				break
			}
			p, ok := byID[s.Parent().SpanID()]
			if !ok {
				t.Fatalf("span %q has a parent that was not recorded", s.Name())
			}
			s = p
		}
		return out
	}
	find := func(prefix string) []sdktrace.ReadOnlySpan {
		var out []sdktrace.ReadOnlySpan
		for _, s := range spans {
			if strings.HasPrefix(s.Name(), prefix) {
				out = append(out, s)
			}
		}
		return out
	}
	ops := find("graphql query TracedCart")
	if len(ops) != 1 {
		t.Fatalf("want one operation span, got %d", len(ops))
	}
	op := ops[0]
	if op.Parent().SpanID() != root.SpanContext().SpanID() {
		t.Fatalf("operation span's parent is %v, not the HTTP span", op.Parent().SpanID())
	}
	attrs := map[string]any{}
	for _, a := range op.Attributes() {
		attrs[string(a.Key)] = a.Value.AsInterface()
	}
	if attrs["graphql.operation.name"] != "TracedCart" || attrs["graphql.root_field"] != "cart" {
		t.Fatalf("operation attributes %v", attrs)
	}
	if c, ok := attrs["graphql.cost.requested"].(int64); !ok || c < 1 {
		t.Fatalf("operation cost attribute: %v", attrs)
	}
	loaders := find("dataloader ")
	if len(loaders) == 0 {
		t.Fatal("no dataloader batch span")
	}
	sawSQLUnderLoader := false
	for _, l := range loaders {
		if a := ancestors(l); len(a) < 3 || a[len(a)-2] != op.Name() {
			t.Fatalf("loader span not under the operation: %v", a)
		}
		for _, s := range find("sql ") {
			if s.Parent().SpanID() == l.SpanContext().SpanID() {
				sawSQLUnderLoader = true
			}
		}
	}
	if !sawSQLUnderLoader {
		t.Fatal("no SQL span under a dataloader batch")
	}
	redisSpans := find("redis ")
	if len(redisSpans) == 0 {
		t.Fatal("no Redis span")
	}
	underOp := false
	for _, s := range redisSpans {
		a := ancestors(s)
		if a[len(a)-1] != root.Name() {
			t.Fatalf("redis span outside the request: %v", a)
		}
		if len(a) >= 3 && a[len(a)-2] == op.Name() {
			underOp = true // the cart read, inside the resolver
		}
	}
	if !underOp {
		t.Fatal("no Redis span under the operation (the cart read)")
	}
}
