package server

import (
	"context"

	"cartograph/graph/generated"

	"github.com/99designs/gqlgen/graphql"
)

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
