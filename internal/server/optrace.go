package server

import (
	"context"

	"cartograph/internal/cost"
	"cartograph/internal/tracing"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// opTracer puts each GraphQL operation under a span named
// "graphql <type> <name>" with the operation's name and type, its
// requested and actual cost (from extensions.cost) and error count. Off, it
// calls straight through. A subscription's span covers its setup and first
// event only.
type opTracer struct{}

var (
	_ graphql.HandlerExtension     = opTracer{}
	_ graphql.OperationInterceptor = opTracer{}
)

func (opTracer) ExtensionName() string                   { return "OperationTracer" }
func (opTracer) Validate(graphql.ExecutableSchema) error { return nil }

func (opTracer) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if !tracing.On() {
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	typ, name := "query", oc.OperationName
	if oc.Operation != nil {
		typ = string(oc.Operation.Operation)
		if name == "" {
			name = oc.Operation.Name
		}
	}
	spanName := "graphql " + typ
	if name != "" {
		spanName += " " + name
	}
	ctx, span := tracing.Start(ctx, spanName, trace.SpanKindInternal)
	span.SetAttributes(attribute.String("graphql.operation.type", typ), attribute.String("graphql.operation.name", name))
	if oc.Operation != nil {
		span.SetAttributes(attribute.String("graphql.root_field", rootField(oc.Operation)))
	}
	responses := next(ctx)
	ended := false
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if ended {
			return resp
		}
		ended = true
		if resp != nil {
			if c, ok := resp.Extensions["cost"].(cost.Report); ok {
				span.SetAttributes(attribute.Int("graphql.cost.requested", c.Requested))
				if c.Actual != nil {
					span.SetAttributes(attribute.Int("graphql.cost.actual", *c.Actual))
				}
			}
			span.SetAttributes(attribute.Int("graphql.errors", len(resp.Errors)))
		}
		span.End()
		return resp
	}
}
