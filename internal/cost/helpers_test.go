package cost_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"cartograph/internal/cost"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// directives are the declarations the real schema carries in
// schema/schema.graphqls.
const directives = `
directive @cost(weight: Int!) on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR | ENUM
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
`

// testSDL is a small storefront: connections with sized fields, plain
// lists, an interface, weighted arguments, input fields and types.
const testSDL = directives + `
interface Node { id: ID! }

type Query {
  products(first: Int, last: Int, after: String, query: String @cost(weight: 5)): ProductConnection! @listSize(slicingArguments: ["first", "last"], sizedFields: ["edges", "nodes"])
  product(id: ID!): Product
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]! @listSize(slicingArguments: ["ids"])
  recommendations: [Product!]! @listSize(assumedSize: 10)
  search(filter: Filter): [Product!]! @listSize(assumedSize: 4)
  expensive: Int @cost(weight: 7)
  tags: [String!]!
}

input Filter { text: String @cost(weight: 3), sub: SubFilter }
input SubFilter { deep: Boolean @cost(weight: 2) }

type Mutation {
  buy(id: ID!): Payload! @cost(weight: 50)
  touch(id: ID!): Payload!
}

type Payload { product: Product, userErrors: [UserError!]! @listSize(assumedSize: 3) }
type UserError { message: String! }

type Product implements Node {
  id: ID!
  title: String!
  tags: [String!]!
  price: Money!
  variants(first: Int, last: Int): VariantConnection! @listSize(assumedSize: 20, slicingArguments: ["first", "last"], sizedFields: ["edges", "nodes"], requireOneSlicingArgument: false)
  related(first: Int): ProductConnection! @listSize(slicingArguments: ["first"], sizedFields: ["edges", "nodes"])
}
type Variant implements Node { id: ID!, price: Money!, warehouse: Warehouse }
type Warehouse @cost(weight: 4) { name: String! }
type Money { amount: String! }
type PageInfo { hasNextPage: Boolean! }
type ProductConnection { edges: [ProductEdge!]!, nodes: [Product!]!, pageInfo: PageInfo! }
type ProductEdge { cursor: String!, node: Product! }
type VariantConnection { edges: [VariantEdge!]!, nodes: [Variant!]!, pageInfo: PageInfo! }
type VariantEdge { cursor: String!, node: Variant! }
`

func loadSchema(t testing.TB, sdl string) *ast.Schema {
	t.Helper()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "test.graphqls", Input: sdl})
	if err != nil {
		t.Fatalf("load schema: %v", err)
	}
	return s
}

func newModel(t testing.TB, s *ast.Schema) *cost.Model {
	t.Helper()
	m, err := cost.NewModel(s)
	if err != nil {
		t.Fatalf("NewModel: %v", err)
	}
	return m
}

// parse parses and validates a document against s.
func parse(t testing.TB, s *ast.Schema, query string) (*ast.QueryDocument, *ast.OperationDefinition) {
	t.Helper()
	doc, errs := gqlparser.LoadQueryWithRules(s, query, nil)
	if len(errs) > 0 {
		t.Fatalf("query does not validate: %v", errs)
	}
	return doc, doc.Operations[0]
}

// parseOnly parses without validating (hostile documents validation would
// refuse or take long over).
func parseOnly(t testing.TB, query string) (*ast.QueryDocument, *ast.OperationDefinition) {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc, doc.Operations[0]
}

// realSchema loads schema/*.graphqls the way gqlgen does.
func realSchema(t testing.TB) *ast.Schema {
	t.Helper()
	files, err := filepath.Glob("../../schema/*.graphqls")
	if err != nil || len(files) == 0 {
		t.Fatalf("schema files: %v (%d)", err, len(files))
	}
	var srcs []*ast.Source
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, &ast.Source{Name: f, Input: string(b)})
	}
	s, err := gqlparser.LoadSchema(srcs...)
	if err != nil {
		t.Fatalf("load real schema: %v", err)
	}
	return s
}

// newRedis connects to the real Redis ($REDIS_URL, else 127.0.0.1:6379).
func newRedis(t testing.TB) *redis.Client {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s: %v", url, err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// uniqueKey is a bucket key no other test or run shares; its Redis keys
// are deleted when the test ends.
func uniqueKey(t testing.TB, rdb *redis.Client, name string) string {
	t.Helper()
	k := "test:" + uuid.NewString() + ":" + name
	t.Cleanup(func() { rdb.Del(context.Background(), cost.KeyPrefix+k) })
	return k
}

// fakeSchema is a real gqlgen ExecutableSchema over any schema, serving
// synthetic data through graphql.ResolveField, so extensions see what
// generated code would show them. Lists return fill(requested size)
// elements; a connection's sized lists share its page length.
type fakeSchema struct {
	schema *ast.Schema
	fill   func(size int) int
	// nullObjects makes nullable object fields resolve to null.
	nullObjects bool
	resolved    atomic.Int64
}

func (s *fakeSchema) Schema() *ast.Schema { return s.schema }

func (s *fakeSchema) Complexity(context.Context, string, string, int, map[string]any) (int, bool) {
	return 0, false
}

func (s *fakeSchema) Exec(ctx context.Context) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	done := false
	return func(ctx context.Context) *graphql.Response {
		if done {
			return nil
		}
		done = true
		root := s.schema.Query
		if oc.Operation.Operation == ast.Mutation {
			root = s.schema.Mutation
		}
		var buf bytes.Buffer
		s.object(ctx, oc, oc.Operation.SelectionSet, root, item{}).MarshalGQL(&buf)
		return &graphql.Response{Data: buf.Bytes()}
	}
}

// item is one synthetic object; page is the length of a connection's page.
type item struct {
	typ  string
	page int
}

func (s *fakeSchema) object(ctx context.Context, oc *graphql.OperationContext, sel ast.SelectionSet, typ *ast.Definition, v item) graphql.Marshaler {
	satisfies := append([]string{typ.Name}, typ.Interfaces...)
	for _, d := range s.schema.Types {
		if d.Kind == ast.Union && slices.Contains(d.Types, typ.Name) {
			satisfies = append(satisfies, d.Name)
		}
	}
	fields := graphql.CollectFields(oc, sel, satisfies)
	out := graphql.NewFieldSet(fields)
	for i, f := range fields {
		if f.Name == "__typename" {
			out.Values[i] = graphql.MarshalString(typ.Name)
			continue
		}
		out.Concurrently(i, func(ctx context.Context) graphql.Marshaler {
			return s.field(ctx, oc, f, typ, v)
		})
	}
	out.Dispatch(ctx)
	return out
}

func (s *fakeSchema) field(ctx context.Context, oc *graphql.OperationContext, f graphql.CollectedField, parent *ast.Definition, v item) graphql.Marshaler {
	def := f.Definition
	args := f.ArgumentMap(oc.Variables)
	return graphql.ResolveField(ctx, oc, f,
		func(_ context.Context, field graphql.CollectedField) (*graphql.FieldContext, error) {
			return &graphql.FieldContext{Object: parent.Name, Field: field, Args: args, IsResolver: true}, nil
		},
		func(context.Context) (any, error) {
			s.resolved.Add(1)
			return s.resolve(def, parent, args, v), nil
		},
		nil,
		func(ctx context.Context, sel ast.SelectionSet, res any) graphql.Marshaler {
			return s.marshal(ctx, oc, sel, def.Type, res)
		},
		true, false)
}

func (s *fakeSchema) resolve(def *ast.FieldDefinition, parent *ast.Definition, args map[string]any, v item) any {
	target := s.schema.Types[def.Type.Name()]
	concrete := target.Name
	if target.Kind == ast.Interface || target.Kind == ast.Union {
		concrete = s.schema.GetPossibleTypes(target)[0].Name
	}
	switch {
	case target.Kind == ast.Scalar || target.Kind == ast.Enum:
		if def.Type.Elem != nil {
			return []any{"a", "b"}
		}
		return "x"
	case def.Type.Elem != nil:
		n := v.page
		if !strings.HasSuffix(parent.Name, "Connection") {
			n = s.fill(requestedSize(def, args))
		}
		out := make([]any, n)
		for i := range out {
			out[i] = item{typ: concrete}
		}
		return out
	case strings.HasSuffix(target.Name, "Connection"):
		return item{typ: concrete, page: s.fill(requestedSize(def, args))}
	case s.nullObjects && !def.Type.NonNull:
		return nil
	default:
		return item{typ: concrete}
	}
}

// requestedSize reads @listSize the way the model does, from the coerced
// arguments.
func requestedSize(def *ast.FieldDefinition, args map[string]any) int {
	d := def.Directives.ForName("listSize")
	if d == nil {
		return 0
	}
	size, found := 0, false
	if a := d.Arguments.ForName("slicingArguments"); a != nil {
		for _, c := range a.Value.Children {
			switch x := args[c.Value.Raw].(type) {
			case int64:
				size, found = max(size, int(x)), true
			case int:
				size, found = max(size, x), true
			case float64:
				size, found = max(size, int(x)), true
			case json.Number:
				n, _ := x.Int64()
				size, found = max(size, int(n)), true
			case []any:
				size, found = max(size, len(x)), true
			}
		}
	}
	if found {
		return size
	}
	if a := d.Arguments.ForName("assumedSize"); a != nil {
		var n int
		_ = json.Unmarshal([]byte(a.Value.Raw), &n)
		return n
	}
	return cost.FallbackPageSize
}

func (s *fakeSchema) marshal(ctx context.Context, oc *graphql.OperationContext, sel ast.SelectionSet, t *ast.Type, res any) graphql.Marshaler {
	switch x := res.(type) {
	case nil:
		return graphql.Null
	case []any:
		arr := make(graphql.Array, len(x))
		for i, e := range x {
			arr[i] = s.marshal(ctx, oc, sel, t.Elem, e)
		}
		return arr
	case item:
		return s.object(ctx, oc, sel, s.schema.Types[x.typ], x)
	default:
		return graphql.MarshalString("x")
	}
}

// newServer serves es over POST with the extension installed.
func newServer(es graphql.ExecutableSchema, ext *cost.Extension) http.Handler {
	srv := handler.New(es)
	srv.AddTransport(transport.POST{})
	srv.Use(ext)
	return srv
}

// gqlResponse is a decoded GraphQL response.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	Extensions struct {
		Cost *costExt `json:"cost"`
	} `json:"extensions"`
}

type costExt struct {
	Requested      int  `json:"requestedQueryCost"`
	Actual         *int `json:"actualQueryCost"`
	ThrottleStatus *struct {
		Maximum   float64 `json:"maximumAvailable"`
		Available float64 `json:"currentlyAvailable"`
		Restore   float64 `json:"restoreRate"`
	} `json:"throttleStatus"`
}

func post(t testing.TB, h http.Handler, query string, vars map[string]any, header http.Header) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out gqlResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("response %d %q: %v", rec.Code, rec.Body.String(), err)
	}
	return out
}
