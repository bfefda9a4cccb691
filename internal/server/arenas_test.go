package server_test

import (
	"context"
	"encoding/json"
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

// TestAppendExtensionsMatchesEncodingJSON: the response writers' own
// extensions encoder writes what encoding/json writes (sorted keys,
// escaping), with cost.Report appending itself.
func TestAppendExtensionsMatchesEncodingJSON(t *testing.T) {
	actual := 3
	st := &cost.Status{Maximum: 1000, Available: 996.5, RestoreRate: 50}
	for _, ext := range []map[string]any{
		{"cost": cost.Report{Requested: 5, Actual: &actual, Status: st}},
		{"cost": cost.Report{Requested: 5}, "zz": []any{1, "two", nil}, "a<b>&": "x\"y\\z\n", "ünï": map[string]any{"k": 1.5e-9}},
		{"persistedQuery": map[string]any{"version": 1, "sha256Hash": "ab"}, "cost": cost.Report{Requested: 0, Status: st}},
		{"n": nil},
	} {
		want, err := json.Marshal(ext)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(server.AppendExtensions(nil, ext)); got != string(want) {
			t.Errorf("appendExtensions %s\nencoding/json     %s", got, want)
		}
	}
}
