package server

import (
	"context"
	"errors"
	"log/slog"

	"cartograph/internal/apperr"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// presentError is the one gqlgen error presenter: coded apperr errors keep
// their message and get extensions.code (and field); gqlgen's own
// validation/parse errors pass through as BAD_USER_INPUT-free protocol
// errors; anything else becomes INTERNAL with no detail, logged with the
// request id.
func presentError(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var ae *apperr.Error
		if errors.As(err, &ae) && ae.Code != apperr.Internal {
			gqlErr.Message = ae.Message
			if gqlErr.Extensions == nil {
				gqlErr.Extensions = map[string]any{}
			}
			gqlErr.Extensions["code"] = string(ae.Code)
			if ae.Field != "" {
				gqlErr.Extensions["field"] = ae.Field
			}
			for k, v := range ae.Extensions {
				gqlErr.Extensions[k] = v
			}
			return gqlErr
		}
		var ge *gqlerror.Error
		if errors.As(err, &ge) && ge.Err == nil {
			// gqlgen's own errors (validation, argument coercion): safe.
			if gqlErr.Extensions == nil {
				gqlErr.Extensions = map[string]any{}
			}
			if _, ok := gqlErr.Extensions["code"]; !ok {
				gqlErr.Extensions["code"] = string(apperr.BadUserInput)
			}
			return gqlErr
		}
		log.ErrorContext(ctx, "internal error", "request_id", RequestID(ctx), "err", err, "path", gqlErr.Path.String())
		return &gqlerror.Error{
			Message:    "internal error (request id " + RequestID(ctx) + ")",
			Path:       gqlErr.Path,
			Extensions: map[string]any{"code": string(apperr.Internal)},
		}
	}
}

// recoverPanic turns a resolver panic into INTERNAL, logged with the stack
// context; the client sees no internals.
func recoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "resolver panic", "request_id", RequestID(ctx), "panic", p)
		return apperr.New(apperr.Internal, "internal error")
	}
}
