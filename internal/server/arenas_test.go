package server_test

import (
	"context"
	"strings"
	"testing"

	"cartograph/internal/cost"
	"cartograph/internal/server"

	"github.com/99designs/gqlgen/graphql"
)

type fieldSpy struct{}

func (fieldSpy) ExtensionName() string                   { return "FieldSpy" }
func (fieldSpy) Validate(graphql.ExecutableSchema) error { return nil }
func (fieldSpy) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	return next(ctx)
}

// TestOnlyCostInterceptsFields: the fields of inline subtrees skip field
// middleware (they call the cost tracker directly), so the server refuses
// any other extension with field middleware instead of letting it miss
// those fields.
func TestOnlyCostInterceptsFields(t *testing.T) {
	if err := server.CheckExtension(fieldSpy{}); err == nil || !strings.Contains(err.Error(), "FieldSpy") {
		t.Fatalf("a field interceptor was accepted: %v", err)
	}
	if err := server.CheckExtension(cost.NewExtension(cost.ExtensionConfig{})); err != nil {
		t.Fatalf("the cost extension was refused: %v", err)
	}
}
