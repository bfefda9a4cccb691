package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"cartograph/internal/tracing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestOffAllocatesNothing: with tracing off, starting and ending a span
// and passing through the HTTP middleware cost no allocation.
func TestOffAllocatesNothing(t *testing.T) {
	tracing.Set(nil)
	ctx := context.Background()
	if n := testing.AllocsPerRun(200, func() {
		_, sp := tracing.Start(ctx, "x", trace.SpanKindInternal)
		sp.End()
	}); n != 0 {
		t.Fatalf("Start/End off: %v allocations", n)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })
	wrapped := tracing.Middleware("/graphql", h)
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	w := &nopWriter{h: http.Header{}}
	bare := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, req) })
	mid := testing.AllocsPerRun(200, func() { wrapped.ServeHTTP(w, req) })
	if mid != bare {
		t.Fatalf("middleware off: %v allocations, bare handler %v", mid, bare)
	}
}

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// TestMiddlewareContinuesCallerTrace: on, the server span joins the
// caller's traceparent and records the status.
func TestMiddlewareContinuesCallerTrace(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tracing.Set(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)))
	t.Cleanup(func() { tracing.Set(nil) })
	var inner trace.SpanContext
	h := tracing.Middleware("/graphql", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner = trace.SpanContextFromContext(r.Context())
		w.WriteHeader(503)
	}))
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	spans := sr.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent().SpanID().String() != "00f067aa0ba902b7" || !s.Parent().IsRemote() {
		t.Fatalf("not joined to the caller: trace %s parent %s", s.SpanContext().TraceID(), s.Parent().SpanID())
	}
	if inner.SpanID() != s.SpanContext().SpanID() {
		t.Fatal("handler did not run under the span")
	}
	if s.Name() != "POST /graphql" || s.SpanKind() != trace.SpanKindServer || s.Status().Code.String() != "Error" {
		t.Fatalf("span %q kind %v status %v", s.Name(), s.SpanKind(), s.Status())
	}
	var status int64
	for _, a := range s.Attributes() {
		if a.Key == "http.response.status_code" {
			status = a.Value.AsInt64()
		}
	}
	if status != 503 {
		t.Fatalf("status attribute %d", status)
	}
}
