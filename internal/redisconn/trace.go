package redisconn

import (
	"context"
	"errors"

	"cartograph/internal/tracing"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// TraceHook puts each Redis command (and pipeline) under a client span
// when tracing is on; off, it calls straight through. Open adds it to
// every client; tests may add it to their own.
type TraceHook struct{}

var _ redis.Hook = TraceHook{}

// DialHook passes dials through (their failures show on the command span).
func (TraceHook) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook spans one command: "redis <name>", db.operation.name.
func (TraceHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !tracing.On() {
			return next(ctx, cmd)
		}
		ctx, span := tracing.Start(ctx, "redis "+cmd.Name(), trace.SpanKindClient)
		span.SetAttributes(attribute.String("db.system.name", "redis"), attribute.String("db.operation.name", cmd.Name()))
		err := next(ctx, cmd)
		if err != nil && !errors.Is(err, redis.Nil) {
			tracing.Fail(span, err)
		}
		span.End()
		return err
	}
}

// ProcessPipelineHook spans a pipeline or transaction as one span.
func (TraceHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !tracing.On() {
			return next(ctx, cmds)
		}
		ctx, span := tracing.Start(ctx, "redis pipeline", trace.SpanKindClient)
		span.SetAttributes(attribute.String("db.system.name", "redis"), attribute.Int("db.operation.batch.size", len(cmds)))
		err := next(ctx, cmds)
		if err != nil && !errors.Is(err, redis.Nil) {
			tracing.Fail(span, err)
		}
		span.End()
		return err
	}
}
