package qlimits_test

import (
	"fmt"
	"strings"
	"testing"

	"cartograph/internal/apperr"
	"cartograph/internal/qlimits"
)

// limitOf returns the limit named by a refusal, or "" for nil.
func limitOf(t *testing.T, err error) qlimits.Limit {
	t.Helper()
	if err == nil {
		return ""
	}
	ae, ok := apperr.As(err)
	if !ok || ae.Code != qlimits.Code {
		t.Fatalf("error %v is not a %s *apperr.Error", err, qlimits.Code)
	}
	name, _ := ae.Extensions["limit"].(string)
	return qlimits.Limit(name)
}

func TestCheckRefusesHostileDocuments(t *testing.T) {
	cases := []struct {
		name  string
		doc   string
		limit qlimits.Limit
	}{
		{"Depth500ChainRefusedByDepth", depthDoc(500), qlimits.LimitDepth},
		{"Repeat5000RefusedByFieldRepeats", "{ " + strings.Repeat("name ", 5000) + "}", qlimits.LimitFieldRepeats},
		{"Repeat50000RefusedByFieldRepeats", "{ " + strings.Repeat("name ", 50000) + "}", qlimits.LimitFieldRepeats},
		// At the root, the 21st alias is already one root field too many.
		{"Aliases1000OfListAtRootRefusedByRootFields", "{ " + repeat(1000, func(i int) string {
			return fmt.Sprintf("p%d: products(first: 250) { edges { node { id } } }", i)
		}) + "}", qlimits.LimitRootFields},
		{"Aliases1000OfListRefusedByAliases", `{ collection(handle: "all") { ` + repeat(1000, func(i int) string {
			return fmt.Sprintf("p%d: products(first: 250) { edges { node { id } } }", i)
		}) + "} }", qlimits.LimitAliases},
		{"Aliases10000OfListRefusedByAliases", `{ collection(handle: "all") { ` + repeat(10000, func(i int) string {
			return fmt.Sprintf("p%d: products(first: 250) { edges { node { id } } }", i)
		}) + "} }", qlimits.LimitAliases},
		{"ExponentialFragmentsRefusedBySpreads", expFragmentsDoc(30), qlimits.LimitSpreads},
		{"ExponentialFragmentsUnderFieldsRefusedByDepth", func() string {
			var b strings.Builder
			b.WriteString("{ ...F0 }\n")
			for i := range 29 {
				fmt.Fprintf(&b, "fragment F%d on Query { a { ...F%d ...F%d ...F%d } }\n", i, i+1, i+1, i+1)
			}
			b.WriteString("fragment F29 on Query { name }")
			return b.String()
		}(), qlimits.LimitDepth},
		{"UnusedExponentialFragmentsRefusedBySpreads", "{ name } " + expFragmentsDoc(30)[len("query { ...F0 }\n"):], qlimits.LimitSpreads},
		// __schema exists only at the root, where 20 fields is the limit.
		{"SchemaAliases2000RefusedByRootFields", "{ " + repeat(2000, func(i int) string {
			return fmt.Sprintf("s%d: __schema { types { name fields { name } } }", i)
		}) + "}", qlimits.LimitRootFields},
		{"SchemaAliases2000InFragmentsRefusedByAliases", "{ ...S } fragment S on Query { " + repeat(2000, func(i int) string {
			return fmt.Sprintf("s%d: __schema { types { name fields { name } } }", i)
		}) + "}", qlimits.LimitAliases},
		{"OneMiBOfTokensRefusedByTokens", bigTokensDoc(1 << 20), qlimits.LimitTokens},
		{"OneMiBOfCommentsRefusedByTokens", "{ name\n" + strings.Repeat("#\n", 1<<19) + "}", qlimits.LimitTokens},
		{"DeepObjectArgumentRefusedByInputDepth", inputDepthDoc(500), qlimits.LimitInputDepth},
		{"DeepListArgumentRefusedByInputDepth", "{ a(x: " + strings.Repeat("[", 500) + strings.Repeat("]", 500) + ") }", qlimits.LimitInputDepth},
		{"DeepVariableDefaultRefusedByInputDepth", "query($f: In = " + strings.Repeat("{a: ", 100) + "1" + strings.Repeat("}", 100) + ") { a }", qlimits.LimitInputDepth},
		{"DeepDirectiveArgumentRefusedByInputDepth", "{ a @d(x: " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + ") }", qlimits.LimitInputDepth},
		{"NestedRepeatTreeRefusedByOverlapCost", nestedRepeatsDoc(5), qlimits.LimitOverlapCost},
		{"RepeatsAcrossInlineFragmentsRefusedByOverlapCost", "{ shop { " + strings.Repeat("... on Shop { name name name name name } ", 100) + "} }", qlimits.LimitOverlapCost},
		{"RepeatsAcrossFragmentsRefusedByOverlapCost", func() string {
			// 50 fragments of 5 fields each, all spread in one selection
			// set: 250 fields at one path, compared pairwise across
			// fragments (1.35 s of validation unrefused).
			var b strings.Builder
			b.WriteString("{ x { ")
			for i := range 50 {
				fmt.Fprintf(&b, "...F%d ", i)
			}
			b.WriteString("} } ")
			for i := range 50 {
				fmt.Fprintf(&b, "fragment F%d on T { a { name } a { name } a { name } a { name } a { name } } ", i)
			}
			return b.String()
		}(), qlimits.LimitOverlapCost},
		{"RepeatsInFragmentUnderRepeatedParentsRefusedByOverlapCost", "{ x { " + strings.Repeat("... on T { a { ...F } a { ...G } a { ...H } a { ...I } a { ...J } } ", 5) + "} } " +
			repeat(5, func(i int) string {
				return fmt.Sprintf("fragment %c on T { %s }", 'F'+i, strings.Repeat("... on T { b b b b b } ", 5))
			}), qlimits.LimitOverlapCost},
		{"WideFragmentUnderManyFieldsRefusedByOverlapCost", "{ x { " + repeat(200, func(i int) string {
			return fmt.Sprintf("f%d { ...F }", i)
		}) + "} } fragment F on T { " + rootFields(0, 150) + "}", qlimits.LimitOverlapCost},
		{"DeepFragmentUnderManyFieldsRefusedByExpandedFields", "{ x { " + repeat(200, func(i int) string {
			return fmt.Sprintf("f%d { ...F }", i)
		}) + "} } fragment F on T { a { " + rootFields(0, 150) + "} }", qlimits.LimitExpandedFields},
		{"FragmentsSpreadTogetherRefusedByOverlapCost", func() string {
			// distinct keys, but the rule rebuilds and compares all
			// C(10,2) pairs of 500-field fragments.
			var b strings.Builder
			b.WriteString("{ x { ")
			for i := range 10 {
				fmt.Fprintf(&b, "...F%d ", i)
			}
			b.WriteString("} } ")
			for i := range 10 {
				fmt.Fprintf(&b, "fragment F%d on T { %s} ", i, repeat(500, func(j int) string { return fmt.Sprintf("g%d_%d", i, j) }))
			}
			return b.String()
		}(), qlimits.LimitOverlapCost},
		{"RepeatedParentsWithWideChildrenRefusedByOverlapCost", func() string {
			// 45 fields a, 5 per inline fragment, with 200 distinct
			// children each: every pair of a rebuilds 400 children.
			var b strings.Builder
			b.WriteString("{ x { ")
			for i := range 9 {
				b.WriteString("... on T { ")
				for j := range 5 {
					b.WriteString("a { " + repeat(200, func(k int) string { return fmt.Sprintf("g%d_%d_%d", i, j, k) }) + "} ")
				}
				b.WriteString("} ")
			}
			b.WriteString("} }")
			return b.String()
		}(), qlimits.LimitOverlapCost},
		{"RepeatsUnderAliasRefusedByFieldRepeats", "{ " + strings.Repeat("x: name ", 6) + "}", qlimits.LimitFieldRepeats},
		{"ManyRootFieldsRefusedByRootFields", rootFieldsDoc(5000), qlimits.LimitRootFields},
		{"RootFieldsInInlineFragmentsRefusedByRootFields", "{ " + repeat(30, func(i int) string { return fmt.Sprintf("... on Query { f%d }", i) }) + "}", qlimits.LimitRootFields},
		{"RootFieldsThroughSpreadsRefusedByRootFields", "{ ...A ...B } fragment A on Query { " + rootFields(0, 15) + "} fragment B on Query { " + rootFields(15, 30) + "}", qlimits.LimitRootFields},
		{"DepthThroughFragmentChainRefusedByDepth", "{ ...F0 } " + repeat(20, func(i int) string {
			return fmt.Sprintf("fragment F%d on Query { a { ...F%d } }", i, i+1)
		}) + "fragment F20 on Query { name }", qlimits.LimitDepth},
		{"ManyFragmentsRefusedByFragments", fragmentsDoc(10000), qlimits.LimitFragments},
		{"ManySpreadsRefusedBySpreads", spreadsDoc(10000), qlimits.LimitSpreads},
		{"SpreadsAcrossOperationsRefusedBySpreads", repeat(150, func(i int) string {
			return fmt.Sprintf("query q%d { ...F }", i)
		}) + "fragment F on Query { ...G } fragment G on Query { name }", qlimits.LimitSpreads},
		{"ManyDirectivesRefusedByDirectives", directivesDoc(10000), qlimits.LimitDirectives},
		{"LexErrorAfterBreachStillRefused", depthDoc(100) + ` "unterminated`, qlimits.LimitDepth},
	}
	l := qlimits.Defaults()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := limitOf(t, l.Check(c.doc)); got != c.limit {
				t.Fatalf("limit %q, want %q", got, c.limit)
			}
		})
	}
}

func rootFields(from, to int) string {
	return repeat(to-from, func(i int) string { return fmt.Sprintf("f%d", from+i) })
}

func TestCheckPassesRealDocuments(t *testing.T) {
	cases := []struct {
		name string
		doc  string
	}{
		{"StorefrontListingPasses", listingDoc},
		{"CollectionListingPasses", collectionListingDoc},
		{"ProductPageWithObjectArgumentsPasses", productDoc},
		{"ApolloTypenameInUnionFragmentsPasses", unionDoc},
		{"GraphiQLIntrospectionPasses", introspectionDoc},
		{"MultipleOperationsPass", listingDoc + "\nquery other { shop { name } }\nmutation m($i: CartInput!) { cartCreate(input: $i) { cart { id } userErrors { field message code } } }"},
		{"FieldNamedOnAndFragmentKeywordsPass", "query fragment { on fragment { query } ... on T { on } }"},
		{"AliasesInsideArgumentsAreNotAliases", "{ a(x: {" + repeat(100, func(i int) string { return fmt.Sprintf("k%d: 1", i) }) + "}) }"},
		{"BlockStringsAndEscapesPass", `{ a(x: """ { { { {{{{ """, y: "\" } } }\u0041") { b } }`},
		// Cycles are for the validator to refuse (linearly); Check only has
		// to terminate.
		{"FragmentCycleTerminates", "{ ...A } fragment A on Query { name ...B } fragment B on Query { name ...A }"},
		{"SelfSpreadTerminates", "{ ...A } fragment A on Query { ...A ...A ...A }"},
		{"FanOutCycleTerminates", "{ ...A } fragment A on Query { ...B ...B ...B } fragment B on Query { ...A ...A ...A }"},
		{"UndefinedFragmentPasses", "{ ...Nope }"},
		// Syntax errors are the parser's to report.
		{"LexErrorPasses", `{ a(x: "unterminated) }`},
		{"UnbalancedBracesPass", "{ a { b "},
		{"EmptyDocumentPasses", ""},
	}
	l := qlimits.Defaults()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := l.Check(c.doc); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

func TestCheckBoundaries(t *testing.T) {
	d := qlimits.Defaults()
	cases := []struct {
		name  string
		max   int
		doc   func(n int) string
		limit qlimits.Limit
	}{
		{"Tokens", d.MaxTokens, tokensDoc, qlimits.LimitTokens},
		{"Depth", d.MaxDepth, depthDoc, qlimits.LimitDepth},
		{"InputDepth", d.MaxInputDepth, inputDepthDoc, qlimits.LimitInputDepth},
		{"Aliases", d.MaxAliases, aliasesDoc, qlimits.LimitAliases},
		{"RootFields", d.MaxRootFields, rootFieldsDoc, qlimits.LimitRootFields},
		{"Fragments", d.MaxFragments, fragmentsDoc, qlimits.LimitFragments},
		{"Spreads", d.MaxSpreads, spreadsDoc, qlimits.LimitSpreads},
		{"ExpandedSpreads", d.MaxSpreads, func(n int) string {
			// A expands to 5 spreads: 40 of them and n-200 of C make n,
			// from 44+n-200 spreads as written.
			return "{ x { " + strings.Repeat("...A ", 40) + strings.Repeat("...C ", n-200) +
				"} } fragment A on T { ...C ...C ...C ...C } fragment C on T { name }"
		}, qlimits.LimitSpreads},
		{"FieldRepeats", d.MaxFieldRepeats, fieldRepeatsDoc, qlimits.LimitFieldRepeats},
		{"OverlapCost", d.MaxOverlapCost, costDoc, qlimits.LimitOverlapCost},
		{"OverlapCostThroughSpreads", d.MaxOverlapCost, func(n int) string {
			// z in F and z in the operation cost 25+25 as written, 105
			// once F is expanded at x (see costDoc: 10² and 5 for the
			// spread).
			return "{ x { ...F " + strings.Repeat("... on T { z } ", 5) + costDoc(n - 105)[len("{ x { "):] +
				" fragment F on T { " + strings.Repeat("... on T { z } ", 5) + "}"
		}, qlimits.LimitOverlapCost},
		{"ExpandedFields", d.MaxExpandedFields, expandedFieldsDoc, qlimits.LimitExpandedFields},
		{"Directives", d.MaxDirectives, directivesDoc, qlimits.LimitDirectives},
		{"DepthThroughSpreads", d.MaxDepth, func(n int) string {
			// depth n-1 in the operation; F's b adds the n-th level.
			return "{" + strings.Repeat(" a {", n-2) + " ...F" + strings.Repeat(" }", n-1) +
				" fragment F on T { b { c } }"
		}, qlimits.LimitDepth},
		{"RootFieldsThroughSpreads", d.MaxRootFields, func(n int) string {
			return "{ f ...A } fragment A on Query { " + rootFields(1, n) + "}"
		}, qlimits.LimitRootFields},
	}
	for _, c := range cases {
		t.Run(c.name+"AtLimitPasses", func(t *testing.T) {
			if err := d.Check(c.doc(c.max)); err != nil {
				t.Fatalf("refused at the limit: %v", err)
			}
		})
		t.Run(c.name+"OverLimitRefused", func(t *testing.T) {
			if got := limitOf(t, d.Check(c.doc(c.max+1))); got != c.limit {
				t.Fatalf("limit %q, want %q", got, c.limit)
			}
		})
	}
}

func TestCheckErrorShape(t *testing.T) {
	err := qlimits.Defaults().Check(depthDoc(16))
	ae, ok := apperr.As(err)
	if !ok {
		t.Fatalf("got %T %v, want *apperr.Error", err, err)
	}
	if ae.Code != "QUERY_TOO_COMPLEX" {
		t.Errorf("code %q", ae.Code)
	}
	if ae.Message != "document exceeds the maximum depth of 15" {
		t.Errorf("message %q", ae.Message)
	}
	if ae.Extensions["limit"] != "depth" || ae.Extensions["max"] != 15 {
		t.Errorf("extensions %v", ae.Extensions)
	}
}

func TestLimitsConfiguration(t *testing.T) {
	cases := []struct {
		name   string
		limits qlimits.Limits
		doc    string
		want   qlimits.Limit
	}{
		{"ZeroValueMeansDefaults", qlimits.Limits{}, depthDoc(16), qlimits.LimitDepth},
		{"ZeroValueAdmitsDefaultDepth", qlimits.Limits{}, depthDoc(15), ""},
		{"LowerLimitApplies", qlimits.Limits{MaxDepth: 3}, depthDoc(4), qlimits.LimitDepth},
		{"NegativeDisablesLimit", qlimits.Limits{MaxDepth: -1}, depthDoc(500), ""},
		{"OtherLimitsStillApplyWhenOneIsDisabled", qlimits.Limits{MaxDepth: -1}, fieldRepeatsDoc(6), qlimits.LimitFieldRepeats},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := limitOf(t, c.limits.Check(c.doc)); got != c.want {
				t.Fatalf("limit %q, want %q", got, c.want)
			}
		})
	}
}

// TestCheckConcurrent shares pooled scratch space between goroutines; run
// with -race.
func TestCheckConcurrent(t *testing.T) {
	l := qlimits.Defaults()
	done := make(chan error)
	for g := range 8 {
		go func() {
			for i := range 200 {
				doc, want := listingDoc, qlimits.Limit("")
				if (g+i)%2 == 1 {
					doc, want = nestedRepeatsDoc(4), qlimits.LimitOverlapCost
				}
				err := l.Check(doc)
				got := qlimits.Limit("")
				if ae, ok := apperr.As(err); ok {
					got = qlimits.Limit(ae.Extensions["limit"].(string))
				}
				if got != want {
					done <- fmt.Errorf("goroutine %d: limit %q, want %q", g, got, want)
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
