package server

import (
	"context"
	"fmt"

	"cartograph/graph/generated"
	"cartograph/internal/cost"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
)

// use adds ext to the GraphQL handler. The fields of inline
// (@synchronous) subtrees resolve without gqlgen's field middleware and
// call the cost tracker themselves (internal/codegen): an extension with
// other field middleware would silently miss them, so it is refused.
func use(gql *handler.Server, ext graphql.HandlerExtension) {
	if err := checkExtension(ext); err != nil {
		panic(err)
	}
	gql.Use(ext)
}

func checkExtension(ext graphql.HandlerExtension) error {
	if _, ok := ext.(graphql.FieldInterceptor); ok {
		if _, isCost := ext.(*cost.Extension); !isCost {
			return fmt.Errorf("server: extension %s intercepts fields, which inline (@synchronous) subtrees resolve without field middleware; only the cost extension may (its tracker is called directly)", ext.ExtensionName())
		}
	}
	return nil
}

// arenaRecycler returns the output arenas of a response's inline
// (@synchronous) subtrees to their pool once the response handler has
// copied them into the response's data, so a listing does not grow a
// fresh buffer, frames and spans per request. A subscription's handler
// runs once per event, and each event's arenas are released after it.
type arenaRecycler struct{}

var (
	_ graphql.HandlerExtension    = arenaRecycler{}
	_ graphql.ResponseInterceptor = arenaRecycler{}
)

func (arenaRecycler) ExtensionName() string                   { return "ArenaRecycler" }
func (arenaRecycler) Validate(graphql.ExecutableSchema) error { return nil }

func (arenaRecycler) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	ctx, release := generated.WithArenas(ctx)
	defer release()
	return next(ctx)
}
