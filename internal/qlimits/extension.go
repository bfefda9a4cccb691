package qlimits

import (
	"context"

	"cartograph/internal/apperr"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

func init() {
	// A refused document is a request error, like a parse or validation
	// failure: gqlgen's transports answer it with 400 (GraphQL-over-HTTP,
	// application/graphql-response+json) or 422 (GET, application/json)
	// and websockets with an error message instead of data. Registered at
	// init because errcode's registry is an unguarded map read while serving.
	errcode.RegisterErrorType(string(Code), errcode.KindProtocol)
}

// Extension is the gqlgen handler extension that applies Limits to every
// operation (POST, GET, websocket and SSE alike: all go through
// Executor.CreateOperationContext) before gqlgen's query cache, parser and
// validator see it; the query cache is consulted only after the mutators,
// so a cached document is checked again on every request (a few µs).
//
// Register it after extension.AutomaticPersistedQuery: operation parameter
// mutators run in registration order, and a hash-only APQ request carries
// no query text until APQ has filled it in from its cache. Registered
// before APQ it would still keep hostile documents out of a private APQ
// cache (it refuses the full-text request before APQ stores it), but not
// out of a cache shared with instances running looser limits.
//
// A zero Limits means Defaults().
type Extension struct {
	Limits Limits
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = Extension{}

// ExtensionName implements graphql.HandlerExtension.
func (Extension) ExtensionName() string { return "QueryLimits" }

// Validate implements graphql.HandlerExtension; any Limits value is usable.
func (Extension) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters implements graphql.OperationParameterMutator. It
// returns nil for an empty query (an APQ hash-only request, when registered
// before APQ; gqlgen itself refuses an empty document), or a gqlerror whose
// Err is the QUERY_TOO_COMPLEX *apperr.Error, so Cartograph's error
// presenter maps it like any coded error. The gqlerror carries code, limit
// and max in its extensions as well, so the HTTP status is right and the
// default presenter shows the same thing.
func (e Extension) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query == "" {
		return nil
	}
	err := e.Limits.Check(p.Query)
	if err == nil {
		return nil
	}
	ae, ok := apperr.As(err)
	if !ok { // Check returns only *apperr.Error; keep the contract visible
		ae = apperr.Wrap(err, Code, "document is too complex")
	}
	ext := make(map[string]any, len(ae.Extensions)+1)
	for k, v := range ae.Extensions {
		ext[k] = v
	}
	ext["code"] = string(ae.Code)
	return &gqlerror.Error{Err: ae, Message: ae.Message, Extensions: ext}
}
