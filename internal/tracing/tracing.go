// Package tracing is Cartograph's OpenTelemetry tracing: off by default,
// on when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or TRACING=otlp with the exporter's
// default endpoint; internal/config reads them). Spans: HTTP requests
// (internal/server), GraphQL operations with their name and cost
// (internal/server), dataloader batches (internal/loaders), SQL statements
// (internal/pg's pgx tracer, chained after the statement counter) and Redis
// commands (a go-redis hook).
//
// Off means off: every hook asks On() first and returns at once, so a
// request allocates nothing for tracing (guarded by tests). The provider
// is process-wide (Set), like the metrics registry.
package tracing

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Name is the instrumentation scope of every span.
const Name = "cartograph"

var current atomic.Pointer[trace.Tracer]

// Propagator reads and writes W3C trace context (traceparent) headers.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// On reports whether tracing is enabled. Hooks check it before building
// span names or attributes.
func On() bool { return current.Load() != nil }

// Set makes tp the process's tracer provider; nil turns tracing off.
// Tests use it with an in-process recorder.
func Set(tp trace.TracerProvider) {
	if tp == nil {
		current.Store(nil)
		return
	}
	t := tp.Tracer(Name)
	current.Store(&t)
}

// noopSpan is boxed once, so returning it allocates nothing.
var noopSpan trace.Span = noop.Span{}

// Start starts a span when tracing is on; otherwise it returns ctx and a
// no-op span without allocating.
func Start(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	t := current.Load()
	if t == nil {
		return ctx, noopSpan
	}
	return (*t).Start(ctx, name, trace.WithSpanKind(kind))
}

// Config selects the exporter (from internal/config).
type Config struct {
	// Endpoint is the full OTLP/HTTP traces URL (e.g.
	// http://collector:4318/v1/traces); empty uses the exporter's own
	// OTEL_EXPORTER_OTLP_* environment and defaults.
	Endpoint string
	// ServiceName names the service in every span's resource.
	ServiceName string
	// SampleRatio is the share of new traces sampled (parent-based: a
	// sampled caller's trace is always continued).
	SampleRatio float64
}

// Setup starts the OTLP/HTTP exporter and makes tracing on. The returned
// function flushes and stops it (call it on shutdown).
func Setup(ctx context.Context, c Config) (func(context.Context) error, error) {
	var opts []otlptracehttp.Option
	if c.Endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(c.Endpoint))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, errors.New("tracing: OTLP exporter: " + err.Error())
	}
	name := c.ServiceName
	if name == "" {
		name = "cartograph"
	}
	ratio := c.SampleRatio
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(2*time.Second), sdktrace.WithMaxQueueSize(8192)),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", name))),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	Set(tp)
	return func(ctx context.Context) error {
		Set(nil)
		return tp.Shutdown(ctx)
	}, nil
}

// Middleware puts each HTTP request under a server span named
// "<METHOD> <route>" (continuing a caller's W3C traceparent), with the
// status code. Off: next itself, nothing added.
func Middleware(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := current.Load()
		if t == nil {
			next.ServeHTTP(w, r)
			return
		}
		ctx := Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := (*t).Start(ctx, r.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", route), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
		if sw.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.status))
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Fail marks span as failed with err (a no-op span ignores it).
func Fail(span trace.Span, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}
