package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"cartograph/internal/codegen/testdata/small/generated"
	"cartograph/internal/codegen/testdata/small/model"

	"github.com/99designs/gqlgen/codegen/config"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

var update = flag.Bool("update", false, "rewrite testdata/small's generated files")

var smallOutputs = []string{"generated/exec.generated.go", "generated/inline.generated.go", "model/models_gen.go"}

// TestGoldenSmallSchema runs the whole generation (gqlgen + the plugin +
// the rewrites) on testdata/small and requires the output to equal the
// checked-in files byte for byte: a gqlgen upgrade or a plugin change that
// alters generated code shows up here as a diff to review (-update).
func TestGoldenSmallSchema(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "small"))
	if err != nil {
		t.Fatal(err)
	}
	before := map[string][]byte{}
	for _, f := range smallOutputs {
		before[f], _ = os.ReadFile(filepath.Join(dir, f))
	}
	restore := func() {
		for f, b := range before {
			if b != nil {
				_ = os.WriteFile(filepath.Join(dir, f), b, 0o644)
			}
		}
	}
	t.Chdir(dir)
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		t.Fatal(err)
	}
	if err := generate(cfg); err != nil {
		restore()
		t.Fatalf("generate: %v", err)
	}
	if *update {
		return
	}
	for _, f := range smallOutputs {
		got, _ := os.ReadFile(filepath.Join(dir, f))
		if !bytes.Equal(got, before[f]) {
			restore()
			t.Fatalf("%s differs from the checked-in golden (review, then go test ./internal/codegen -run Golden -update)", f)
		}
	}
	exec := string(before["generated/exec.generated.go"])
	// What the golden must show: leaves rewritten, @cost leaves and
	// resolver fields not, lists of @synchronous types marshalled inline.
	for _, re := range []string{
		`(?s)func \(ec \*executionContext\) _Book_title\([^\n]*\n\tdefer func\(\) \{.{0,200}\treturn ec\.marshalNString2string\(ctx, field\.Selections, obj\.Title\(\)\)\n\}`,
		`func \(ec \*executionContext\) _Book_isbn\([^\n]*\n\tdefer func`,
		`func \(ec \*executionContext\) _Book_weight\([^\n]*\n\treturn graphql\.ResolveField\(`,
		`(?s)func \(ec \*executionContext\) _Book_price\([^\n]*\n\tif a := arenaIn\(ctx\); a != nil \{\n\t\tctx = a\.objectField\(ctx, "Book", field, false, false\)\n\t\} else \{\n\t\tfc, err := ec\.fieldContext_Book_price\(ctx, field\).{0,400}\trecordField\(ctx, field, 0\)\n`,
		`(?s)func \(ec \*executionContext\) _Shelf_books\([^\n]*\n\tif a := arenaIn\(ctx\); a != nil \{\n\t\tctx = a\.objectField\(ctx, "Shelf", field, false, false\)\n\t\} else \{\n\t\tfc, err := .{0,400}\trecordField\(ctx, field, len\(v\)\)\n`,
		`func \(ec \*executionContext\) _Query_shelf\([^\n]*\n\treturn graphql\.ResolveField\(`,
		`(?s)func \(ec \*executionContext\) _Book_stock\([^\n]*\n\ta := arenaIn\(ctx\)\n\tif a == nil \{\n\t\treturn graphql\.ResolveField\(.{0,900}\tf := a\.resolverField\("Book", field, true, true\)\n`,
		`(?s)func \(ec \*executionContext\) _Book_reviews\(.{0,900}.{0,900}args, err := cachedArgs\(ctx, field\.Field, ec\.Variables, ec\.field_Book_reviews_args\)`,
		`:?= marshalSliceInline\(ctx,`,
		`if len\(deferLabelToView\) > 0 \{`,
	} {
		if !regexp.MustCompile(re).MatchString(exec) {
			t.Errorf("generated code lacks %s", re)
		}
	}
}

// TestRewriteFailsWhenNothingMatches: when gqlgen's output changes shape so
// that a rewrite no longer applies, generation fails and names the rewrite.
func TestRewriteFailsWhenNothingMatches(t *testing.T) {
	p := &synchronous{inline: map[string]bool{"Book": true, "Shelf": true}, leaves: map[string]bool{"Book_title": true}}
	for _, tc := range []struct {
		name, src, want string
	}{
		{"nothing", "package generated\n", "every leaf field, every inline list marshaller, Exec's input-unmarshaller map, the @defer bookkeeping"},
		// An upgrade that renames the map Exec builds per operation.
		{"unmarshalers", strings.ReplaceAll(unrewritten(), "BuildUnmarshalerMap(", "BuildInputUnmarshalerMap("), "Exec's input-unmarshaller map"},
		// An upgrade that renames ResolveField: no leaf matches any more.
		{"leaves", strings.ReplaceAll(unrewritten(), "graphql.ResolveField(", "graphql.ResolveFieldV2("), "every leaf field"},
		{"lists", strings.ReplaceAll(unrewritten(), "graphql.MarshalSliceConcurrently(", "graphql.MarshalSliceParallel("), "every inline list marshaller"},
		{"collection", strings.ReplaceAll(unrewritten(), "graphql.CollectFields(", "graphql.CollectFieldsV2("), "the objects' field collection"},
		{"data buffer", strings.ReplaceAll(unrewritten(), "var buf bytes.Buffer", "buf := new(bytes.Buffer)"), "Exec's query data buffer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "x.generated.go"), []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			err := p.rewrite(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error naming %q, got %v", tc.want, err)
			}
		})
	}
	// And the unchanged shape passes.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.generated.go"), []byte(unrewritten()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.rewrite(dir); err != nil {
		t.Fatalf("gqlgen's own shape: %v", err)
	}
}

// unrewritten is gqlgen's own shape of one leaf, one inline list and one
// @defer group, as v0.17.95 emits them.
func unrewritten() string {
	return `package generated

func (ec *executionContext) _Book_title(ctx context.Context, field graphql.CollectedField, obj *model.Book) (ret graphql.Marshaler) {
	return graphql.ResolveField(
		ctx,
		ec.OperationContext,
		field,
		func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error) {
			return ec.fieldContext_Book_title(ctx, field)
		},
		func(ctx context.Context) (any, error) {
			return obj.Title(), nil
		},
		nil,
		func(ctx context.Context, selections ast.SelectionSet, v string) graphql.Marshaler {
			return ec.marshalNString2string(ctx, selections, v)
		},
		true,
		true,
	)
}

func (e *executableSchema) Exec(ctx context.Context) graphql.ResponseHandler {
	inputUnmarshalMap := graphql.BuildUnmarshalerMap(
		ec.unmarshalInputBookInput,
	)
	ctx = graphql.WithUnmarshalerMap(ctx, inputUnmarshalMap)
	return func(ctx context.Context) *graphql.Response {
			var buf bytes.Buffer
			data.MarshalGQL(&buf)
			response.Data = buf.Bytes()
		return &response
	}
}

func (ec *executionContext) _Library(ctx context.Context, sel ast.SelectionSet, obj *model.Library) graphql.Marshaler {
	fields := graphql.CollectFields(ec.OperationContext, sel, libraryImplementors)
	ec.ProcessDeferredGroup(graphql.DeferredGroup{
		Label: label,
	})
	return out
}

func (ec *executionContext) marshalNBook2ᚕᚖcartographᚋBookᚄ(ctx context.Context, sel ast.SelectionSet, v []*model.Book) graphql.Marshaler {
	ret := graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		return ec.marshalNBook2ᚖcartographᚋBook(ctx, sel, v[i])
	})
	return ret
}
`
}

type resolver struct{ shelves []*model.Shelf }

func (r *resolver) Query() generated.QueryResolver { return r }
func (r *resolver) Book() generated.BookResolver   { return bookResolver{} }

// bookResolver resolves Book.stock (an error for "stockless", a panic for
// "stockpanic") and Book.reviews.
type bookResolver struct{}

func (bookResolver) Stock(_ context.Context, b *model.Book) (int, error) {
	switch b.Name {
	case "stockless":
		return 0, fmt.Errorf("no stock for %s", b.Name)
	case "stockpanic":
		panic("stock of a broken book")
	}
	return b.Pages * 2, nil
}

func (bookResolver) Reviews(_ context.Context, b *model.Book, first *int) ([]string, error) {
	all := []string{b.Name + " 1", b.Name + " 2", b.Name + " 3"}
	if first != nil && *first < len(all) {
		all = all[:*first]
	}
	return all, nil
}
func (r *resolver) Shelf(context.Context) (*model.Shelf, error) {
	return r.shelves[0], nil
}
func (r *resolver) Shelves(context.Context) ([]*model.Shelf, error) { return r.shelves, nil }

// TestRewrittenFieldErrorPropagatesNull executes the generated small
// schema: a panic in a rewritten non-null leaf (Book.title) is an error at
// that field's own path, and the null propagates as the spec requires —
// up to the nearest nullable ancestor (Query.shelf through the non-null
// Book! and [Book!]!; Shelf.favourite, a nullable Book, only nulls itself).
func TestRewrittenFieldErrorPropagatesNull(t *testing.T) {
	isbn := "978-0"
	ok := &model.Book{Name: "fine", Isbn: &isbn, Pages: 10, Tags: []string{"a"}, Price: model.Money{Amount: "1.00", CurrencyCode: "EUR"}, Heavy: 3}
	broken := &model.Book{Name: "panic"}
	r := &resolver{shelves: []*model.Shelf{
		{Name: "one", Books: []*model.Book{ok, broken}, Favourite: broken},
		{Name: "two", Books: []*model.Book{ok}, Favourite: ok},
	}}
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: r}))
	srv.AddTransport(transport.POST{})
	srv.SetRecoverFunc(func(_ context.Context, r any) error { return fmt.Errorf("internal error: %v", r) })
	run := func(q string) (string, []struct {
		Message string
		Path    []any
	}) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": q})
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		var out struct {
			Data   json.RawMessage
			Errors []struct {
				Message string
				Path    []any
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%v: %s", err, w.Body.String())
		}
		return string(out.Data), out.Errors
	}
	path := func(p []any) string { b, _ := json.Marshal(p); return string(b) }

	data, errs := run(`{ shelf { name books { title isbn pages tags price { amount currencyCode } weight } } }`)
	if data != `{"shelf":null}` || len(errs) != 1 || path(errs[0].Path) != `["shelf","books",1,"title"]` {
		t.Fatalf("non-null chain: data %s errors %+v", data, errs)
	}
	data, errs = run(`{ shelves { name favourite { title pages } } }`)
	if data != `{"shelves":[{"name":"one","favourite":null},{"name":"two","favourite":{"title":"fine","pages":10}}]}` ||
		len(errs) != 1 || path(errs[0].Path) != `["shelves",0,"favourite","title"]` {
		t.Fatalf("nullable parent: data %s errors %+v", data, errs)
	}
	// A resolver field (rewritten: no ResolveField inside an arena) that
	// fails: the error is at its own path, and the null propagates through
	// the non-null Book! and [Book!]! to the nullable Query.shelf, or
	// stops at the nullable Shelf.favourite.
	stockless := &model.Book{Name: "stockless", Pages: 1}
	r.shelves[0].Books = []*model.Book{ok, stockless}
	r.shelves[1].Favourite = stockless
	data, errs = run(`{ shelf { books { title stock } } shelves { name favourite { stock } } }`)
	if data != `{"shelf":null,"shelves":[{"name":"one","favourite":{"stock":0}},{"name":"two","favourite":null}]}` || len(errs) != 2 {
		t.Fatalf("resolver error: data %s errors %+v", data, errs)
	}
	paths := map[string]string{}
	for _, e := range errs {
		paths[path(e.Path)] = e.Message
	}
	if paths[`["shelf","books",1,"stock"]`] != "no stock for stockless" || paths[`["shelves",1,"favourite","stock"]`] != "no stock for stockless" {
		t.Fatalf("resolver error paths: %+v", errs)
	}
	// A panic in a resolver is an error at its path, the field null.
	r.shelves[0].Books = []*model.Book{ok, {Name: "stockpanic"}}
	data, errs = run(`{ shelf { books { stock } } }`)
	if data != `{"shelf":null}` || len(errs) != 1 || path(errs[0].Path) != `["shelf","books",1,"stock"]` ||
		!strings.Contains(errs[0].Message, "stock of a broken book") {
		t.Fatalf("resolver panic: data %s errors %+v", data, errs)
	}
	// Arguments (the default and a given value) reach the resolver, for
	// every element of a list.
	r.shelves[0].Books = []*model.Book{ok, ok}
	data, errs = run(`{ shelf { books { a: reviews b: reviews(first: 1) stock } } }`)
	if data != `{"shelf":{"books":[{"a":["fine 1","fine 2"],"b":["fine 1"],"stock":20},{"a":["fine 1","fine 2"],"b":["fine 1"],"stock":20}]}}` || len(errs) != 0 {
		t.Fatalf("resolver arguments: data %s errors %+v", data, errs)
	}
	r.shelves[1].Favourite = ok

	// Without the broken book every rewritten leaf marshals as before.
	r.shelves[0].Books = []*model.Book{ok}
	data, errs = run(`{ shelf { name books { title isbn pages tags price { amount currencyCode } weight } } }`)
	if data != `{"shelf":{"name":"one","books":[{"title":"fine","isbn":"978-0","pages":10,"tags":["a"],"price":{"amount":"1.00","currencyCode":"EUR"},"weight":3}]}}` || len(errs) != 0 {
		t.Fatalf("data %s errors %+v", data, errs)
	}
}
