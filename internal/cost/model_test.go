package cost_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"cartograph/internal/cost"

	"github.com/99designs/gqlgen/codegen/config"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

func TestRequested(t *testing.T) {
	s := loadSchema(t, testSDL)
	m := newModel(t, s)
	tests := []struct {
		name  string
		query string
		vars  map[string]any
		want  int
	}{
		{"ConnectionCostsTwoPlusPage", `{ products(first: 10) { nodes { id } } }`, nil, 12},
		{"EdgesCostLikeNodes", `{ products(first: 10) { edges { cursor node { id title } } } }`, nil, 12},
		{"LastSlicesToo", `{ products(last: 7) { nodes { id } } }`, nil, 9},
		{"PageInfoOnlyStillPaysItems", `{ products(first: 10) { pageInfo { hasNextPage } } }`, nil, 13},
		{"EdgesAndNodesBothPay", `{ products(first: 10) { edges { node { id } } nodes { id } } }`, nil, 22},
		{"ChildrenMultiplyByPage", `{ products(first: 24) { nodes { title price { amount } variants(first: 5) { nodes { id price { amount } } } } } }`, nil, 2 + 24*(1+1+2+5*2)},
		{"NestedPagesCostWhatTheyCanReturn", `{ products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }`, nil, 2 + 250*(1+2+250)},
		{"OptionalSlicingUsesAssumedSize", `{ product(id: "1") { variants { nodes { id } } } }`, nil, 1 + 2 + 20},
		{"MissingRequiredSlicingUsesFallback", `{ products { nodes { id } } }`, nil, 2 + cost.FallbackPageSize},
		{"SlicingAboveCapStillCounts", `{ products(first: 100000) { nodes { id } } }`, nil, 100002},
		{"NegativeSlicingCountsZero", `{ products(first: -5) { nodes { id } } }`, nil, 2},
		{"WeightedArgumentAdds", `{ products(first: 10, query: "red") { nodes { id } } }`, nil, 17},
		{"NullArgumentIsFree", `{ products(first: 10, query: null) { nodes { id } } }`, nil, 12},
		{"ListArgumentCountsItsLength", `{ nodes(ids: ["a", "b", "c"]) { id } }`, nil, 2 + 3},
		{"AbstractPricesDearestType", `{ node(id: "1") { id ... on Product { variants(first: 5) { nodes { id } } } ... on Variant { price { amount } } } }`, nil, 1 + 7},
		{"AssumedSizeList", `{ recommendations { id price { amount } } }`, nil, 2 + 10*2},
		{"ScalarListIsALeaf", `{ tags product(id: "1") { tags } }`, nil, 1},
		{"FieldCost", `{ expensive }`, nil, 7},
		{"TypeCost", `{ product(id: "1") { variants(first: 2) { nodes { warehouse { name } } } } }`, nil, 1 + 2 + 2*(1+4)},
		{"MutationRootDefaultsToTen", `mutation { touch(id: "1") { product { id } userErrors { message } } }`, nil, 10 + 1 + 2 + 3},
		{"MutationCostOverrides", `mutation { buy(id: "1") { userErrors { message } } }`, nil, 50 + 2 + 3},
		{"InputFieldCosts", `{ search(filter: {text: "x", sub: {deep: true}}) { id } }`, nil, 2 + 4 + 3 + 2},
		{"InputFieldCostsFromVariable", `query($f: Filter) { search(filter: $f) { id } }`, map[string]any{"f": map[string]any{"text": "x"}}, 2 + 4 + 3},
		{"FragmentsMultiply", `{ products(first: 3) { nodes { ...P } } } fragment P on Product { price { amount } variants(first: 2) { nodes { ...V } } } fragment V on Variant { price { amount } }`, nil, 2 + 3*(1+1+2+2*2)},
		{"FragmentOnConnectionTakesPage", `{ products(first: 4) { ...C } } fragment C on ProductConnection { nodes { id } }`, nil, 2 + 4},
		{"TypenameIsFree", `{ __typename products(first: 1) { __typename nodes { __typename } } }`, nil, 3},
		{"IntVariable", `query($n: Int) { products(first: $n) { nodes { id } } }`, map[string]any{"n": 5}, 7},
		{"Int64Variable", `query($n: Int) { products(first: $n) { nodes { id } } }`, map[string]any{"n": int64(5)}, 7},
		{"Float64Variable", `query($n: Int) { products(first: $n) { nodes { id } } }`, map[string]any{"n": float64(5)}, 7},
		{"JSONNumberVariable", `query($n: Int) { products(first: $n) { nodes { id } } }`, map[string]any{"n": json.Number("5")}, 7},
		{"NullVariableFallsBack", `query($n: Int) { products(first: $n) { nodes { id } } }`, map[string]any{"n": nil}, 2 + cost.FallbackPageSize},
		{"ListVariableCountsLength", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []any{"a", "b"}}, 4},
		{"SkippedFieldsStillCount", `{ products(first: 10) @skip(if: true) { nodes { id } } }`, nil, 12},
		{"AliasesEachCount", `{ a: products(first: 5) { nodes { id } } b: products(first: 5) { nodes { id } } }`, nil, 14},
		{"DeepNestSaturates", `{ products(first: 250) { nodes { related(first: 250) { nodes { related(first: 250) { nodes { related(first: 250) { nodes { related(first: 250) { nodes { related(first: 250) { nodes { id } } } } } } } } } } } } }`, nil, cost.Cap},
		{"HugeLiteralSaturates", `{ products(first: 2147483647) { nodes { related(first: 2147483647) { nodes { id } } } } }`, nil, cost.Cap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, op := parse(t, s, tt.query)
			got, err := m.Requested(doc, op, tt.vars)
			if err != nil {
				t.Fatalf("Requested: %v", err)
			}
			if got != tt.want {
				t.Fatalf("Requested = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestRequestedErrors(t *testing.T) {
	s := loadSchema(t, testSDL)
	m := newModel(t, s)
	tests := []struct {
		name, query, want string
	}{
		{"ErrFragmentCycle", `{ product(id: "1") { ...A } } fragment A on Product { ...B } fragment B on Product { ...A }`, "spreads itself"},
		{"ErrUnknownFragment", `{ product(id: "1") { ...Nope } }`, "unknown fragment"},
		{"ErrUnknownField", `{ product(id: "1") { nope { id } } }`, "unknown field"},
		{"ErrUnknownType", `{ product(id: "1") { ... on Nope { id } } }`, "unknown type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, op := parseOnly(t, tt.query)
			_, err := m.Requested(doc, op, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	t.Run("ErrNoOperation", func(t *testing.T) {
		if _, err := m.Requested(&ast.QueryDocument{}, nil, nil); err == nil {
			t.Fatal("want an error")
		}
	})
}

// A fragment spread three times by each of 30 nested fragments would be
// walked 3^30 times without memoisation.
func TestRequestedFragmentBombIsLinear(t *testing.T) {
	s := loadSchema(t, testSDL)
	m := newModel(t, s)
	var b strings.Builder
	b.WriteString(`{ products(first: 1) { nodes { ...F0 } } }`)
	const n = 30
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, " fragment F%d on Product { price { amount }", i)
		if i+1 < n {
			fmt.Fprintf(&b, " ...F%d ...F%d ...F%d", i+1, i+1, i+1)
		}
		b.WriteString(" }")
	}
	doc, op := parseOnly(t, b.String())
	start := time.Now()
	got, err := m.Requested(doc, op, nil)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 100*time.Millisecond {
		t.Fatalf("took %v", el)
	}
	// F29 costs 1 (price); Fi = 1 + 3·F(i+1): (3^30-1)/2 ≈ 1e14, past Cap.
	if got != cost.Cap {
		t.Fatalf("Requested = %d, want Cap", got)
	}
}

func TestRequestedIntrospection(t *testing.T) {
	s := loadSchema(t, testSDL)
	m := newModel(t, s)
	one := func(q string) int {
		t.Helper()
		doc, op := parse(t, s, q)
		n, err := m.Requested(doc, op, nil)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	t.Run("TypenameFree", func(t *testing.T) {
		if got := one(`{ __typename }`); got != 0 {
			t.Fatalf("got %d", got)
		}
	})
	t.Run("SmallTypeQueryPricedByItsLists", func(t *testing.T) {
		if got := one(`{ __type(name: "Product") { name } }`); got != 1 {
			t.Fatalf("got %d, want 1", got)
		}
		if got := one(`{ __type(name: "Product") { fields { name } } }`); got <= 3 || got > 20 {
			t.Fatalf("got %d, want 2 + the largest field count, capped at 20", got)
		}
	})
	t.Run("IntrospectionQueryFitsTheDefaultMaximum", func(t *testing.T) {
		if got := one(introspectionQuery); got != 100 {
			t.Fatalf("got %d, want the __schema cap 100", got)
		}
	})
	t.Run("AliasedSchemaSelectionsAreExpensive", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("{")
		for i := 0; i < 2000; i++ {
			fmt.Fprintf(&b, " a%d: __schema { types { fields { name } } }", i)
		}
		b.WriteString(" }")
		doc, op := parseOnly(t, b.String())
		got, err := m.Requested(doc, op, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got != 2000*100 {
			t.Fatalf("got %d, want 200000", got)
		}
	})
}

func TestNewModelRefusesUnpricedFields(t *testing.T) {
	tests := []struct {
		name, sdl, want string
	}{
		{"ErrListWithoutListSize", `type Query { things: [Thing!]! } type Thing { a: Int }`, "Query.things"},
		{"ErrConnectionWithoutListSize", `type Query { things(first: Int): ThingConnection! } type ThingConnection { nodes: [Thing!]! } type Thing { a: Int }`, "Query.things"},
		{"ErrUnknownSlicingArgument", `type Query { things: [Thing!]! @listSize(slicingArguments: ["first"]) } type Thing { a: Int }`, "slicing argument \"first\""},
		{"ErrOptionalSlicingWithoutAssumedSize", `type Query { things(first: Int): [Thing!]! @listSize(slicingArguments: ["first"], requireOneSlicingArgument: false) } type Thing { a: Int }`, "no assumedSize"},
		{"ErrInconsistentSizedFields", `type Query {
			a(first: Int): ThingConnection! @listSize(slicingArguments: ["first"], sizedFields: ["nodes"])
			b(first: Int): ThingConnection! @listSize(slicingArguments: ["first"], sizedFields: ["edges", "nodes"])
		} type ThingConnection { edges: [Thing!]!, nodes: [Thing!]! } type Thing { a: Int }`, "sizes [edges,nodes]"},
		{"ErrConnectionReturnedWithoutSizing", `type Query {
			a(first: Int): ThingConnection! @listSize(slicingArguments: ["first"], sizedFields: ["nodes"])
			b: ThingConnection!
		} type ThingConnection { nodes: [Thing!]! } type Thing { a: Int }`, "Query.b"},
		{"ErrListSizeOnScalarList", `type Query { tags: [String!]! @listSize(assumedSize: 3) }`, "Query.tags"},
		{"ErrSizedFieldNotAList", `type Query { a(first: Int): ThingConnection! @listSize(slicingArguments: ["first"], sizedFields: ["total"]) } type ThingConnection { total: Int } `, "sized field \"total\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := gqlparser.LoadSchema(&ast.Source{Name: "t.graphqls", Input: directives + tt.sdl})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			_, err = cost.NewModel(s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewModel err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// Every list and connection of the real schema is priced: a field added
// without @listSize fails here.
func TestRealSchemaIsPriced(t *testing.T) {
	s := realSchema(t)
	m, err := cost.NewModel(s)
	if err != nil {
		t.Fatalf("the real schema has unpriced fields: %v", err)
	}
	tests := []struct {
		name  string
		query string
		want  int
	}{
		{"StorefrontListing", listingQuery, 3 + 24*(1+3+1+2+5*2)},
		{"IntrospectionQuery", introspectionQuery, 100},
		{"CheckoutBegin", `mutation { checkoutBegin(input: {cartId: "c", email: "a@b.c", shippingAddress: {}, idempotencyKey: "k"}) { order { id } userErrors { message } } }`, 50 + 1 + 2 + 5},
		{"SearchCostsMore", `{ products(first: 10, query: "shirt") { nodes { id } } }`, 2 + 5 + 10},
		{"CartLinesDefaultPage", `{ cart(id: "c") { lines { nodes { quantity merchandise { ... on ProductVariant { id } } } } } }`, 1 + 2 + 20*(1+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, op := parse(t, s, tt.query)
			got, err := m.Requested(doc, op, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Requested = %d, want %d", got, tt.want)
			}
		})
	}
}

// gqlgen reads gqlgen.yml: @cost and @listSize must be declared
// skip_runtime, or generated code wraps every priced field in a directive
// the server does not implement ("directive cost is not implemented").
func TestGqlgenConfigSkipsCostDirectivesAtRuntime(t *testing.T) {
	cfg, err := config.LoadConfig("../../gqlgen.yml")
	if err != nil {
		t.Fatalf("gqlgen.yml: %v", err)
	}
	if _, err := gqlparser.LoadSchema(cfg.Sources...); err != nil {
		t.Fatalf("gqlgen's sources do not load: %v", err)
	}
	for _, d := range []string{"cost", "listSize"} {
		if !cfg.Directives[d].SkipRuntime {
			t.Errorf("gqlgen.yml: add under directives:\n  %s:\n    skip_runtime: true", d)
		}
	}
}

const listingQuery = `query Listing {
  products(first: 24) {
    edges {
      cursor
      node {
        id handle title availableForSale
        priceRange { minVariantPrice { amount currencyCode } maxVariantPrice { amount currencyCode } }
        featuredImage { url altText width height }
        variants(first: 5) { nodes { id title availableForSale price { amount currencyCode } } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`

// introspectionQuery is graphql-js getIntrospectionQuery(), as GraphiQL
// and code generators send it.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}`
