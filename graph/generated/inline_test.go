package generated

import (
	"bytes"
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// The arena's string writer replaces graphql.MarshalString on inline
// leaves: it must write the same bytes for every input, including control
// characters, quotes, backslashes and invalid UTF-8.
func TestArenaWriteStringMatchesGqlgen(t *testing.T) {
	for _, s := range []string{"", "plain", `quo"te`, `back\slash`, "tab\tcr\rnl\n", "\x00\x01\x1f\x7f", "ünïcödé ✓", "\xff\xfe bad utf8", "</script><script>", "\u2028\u2029"} {
		var want bytes.Buffer
		graphql.MarshalString(s).MarshalGQL(&want)
		o, _ := beginInline(context.Background())
		start := len(o.a.buf)
		o.writeString(s)
		if got := string(o.a.buf[start:]); got != want.String() {
			t.Errorf("%q: arena wrote %s, gqlgen writes %s", s, got, want.String())
		}
	}
}

// A null non-null field drops everything its object wrote.
func TestArenaObjectNullTruncates(t *testing.T) {
	ctx := context.Background()
	parent, ctx := beginInline(ctx)
	parent.key(0, "a")
	child, _ := beginInline(ctx)
	child.key(0, "x")
	child.writeString("gone")
	parent.put(child.null())
	if parent.last != graphql.Null {
		t.Fatal("null child not reported")
	}
	var out bytes.Buffer
	parent.end().MarshalGQL(&out)
	if out.String() != `{"a":null}` {
		t.Fatalf("got %s", out.String())
	}
}

// The other direct writers match the marshallers they replace.
func TestArenaDirectWritersMatchGqlgen(t *testing.T) {
	ec := &executionContext{}
	ctx := context.Background()
	i, i32, s := 42, int32(-7), "a\"b"
	cases := []struct {
		write func(o *inlineObject)
		want  graphql.Marshaler
	}{
		{func(o *inlineObject) { o.writeOptInt(&i) }, ec.marshalOInt2ᚖint(ctx, nil, &i)},
		{func(o *inlineObject) { o.writeOptInt(nil) }, ec.marshalOInt2ᚖint(ctx, nil, nil)},
		{func(o *inlineObject) { o.writeOptInt32(&i32) }, ec.marshalOInt2ᚖint32(ctx, nil, &i32)},
		{func(o *inlineObject) { o.writeOptInt32(nil) }, ec.marshalOInt2ᚖint32(ctx, nil, nil)},
		{func(o *inlineObject) { o.writeOptString(&s) }, ec.marshalOString2ᚖstring(ctx, nil, &s)},
		{func(o *inlineObject) { o.writeOptString(nil) }, ec.marshalOString2ᚖstring(ctx, nil, nil)},
		{func(o *inlineObject) { o.writeStrings([]string{"x", "y\n", ""}) }, ec.marshalNString2ᚕstringᚄ(ctx, nil, []string{"x", "y\n", ""})},
		{func(o *inlineObject) { o.writeStrings(nil) }, ec.marshalNString2ᚕstringᚄ(ctx, nil, nil)},
	}
	for n, c := range cases {
		var want bytes.Buffer
		c.want.MarshalGQL(&want)
		o, _ := beginInline(context.Background())
		start := len(o.a.buf)
		c.write(&o)
		if got := string(o.a.buf[start:]); got != want.String() {
			t.Errorf("case %d: arena wrote %s, gqlgen writes %s", n, got, want.String())
		}
		if o.last != nil {
			t.Errorf("case %d: a written value left last = %v", n, o.last)
		}
	}
}

// Frames answer gqlgen's field-context key themselves (no context node
// allocated per field); the key is learnt from graphql.GetFieldContext at
// start-up. If that probe fails every frame silently falls back to
// graphql.WithFieldContext, one allocation per field: fail here instead.
func TestFrameAnswersFieldContextKey(t *testing.T) {
	if fieldContextKey == nil {
		t.Fatal("fieldContextKey was not learnt: frames fall back to graphql.WithFieldContext")
	}
	o, ctx := beginInline(context.Background())
	f := o.a.frame()
	f.fc = graphql.FieldContext{Object: "Probe"}
	fctx := o.a.withFrame(ctx, f)
	if got := graphql.GetFieldContext(fctx); got != &f.fc {
		t.Fatalf("GetFieldContext on a frame returned %p, want the frame's %p", got, &f.fc)
	}
	if _, ok := fctx.(*frameCtx); !ok {
		t.Fatalf("withFrame returned %T, want *frameCtx", fctx)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = o.a.withFrame(ctx, f) }); allocs != 0 {
		t.Fatalf("withFrame allocates %.0f times, want 0", allocs)
	}
}

// The plan cache answers a directive-free document's field collection
// from the first request (the same fields, shared), and never caches a
// document whose collection depends on variables (@include/@skip).
func TestPlanCacheOnlyForPlainDocuments(t *testing.T) {
	es := NewExecutableSchema(Config{})
	parse := func(q string) *ast.QueryDocument {
		doc, errs := gqlparser.LoadQueryWithRules(es.Schema(), q, nil)
		if errs != nil {
			t.Fatal(errs)
		}
		return doc
	}
	plain := parse(`query { shop { name } ... on Query { shop { id } } }`)
	cond := parse(`query ($x: Boolean!) { shop { name id @include(if: $x) } }`)
	viaFragment := parse(`query ($x: Boolean!) { ...F } fragment F on Query { shop @skip(if: $x) { name } }`)
	if !plainDocument(plain) || plainDocument(cond) || plainDocument(viaFragment) {
		t.Fatalf("plain %v, @include %v, @skip in a fragment %v", plainDocument(plain), plainDocument(cond), plainDocument(viaFragment))
	}
	sel := plain.Operations[0].SelectionSet
	first := collectFields(&graphql.OperationContext{Doc: plain}, sel, queryImplementors)
	again := collectFields(&graphql.OperationContext{Doc: plain, Variables: map[string]any{"x": true}}, sel, queryImplementors)
	if len(first) != 1 || first[0].Name != "shop" || len(first[0].Selections) != 2 || &first[0] != &again[0] {
		t.Fatalf("plain document: %+v then %+v (want one merged shop field, shared)", first, again)
	}
	// The conditional document is collected per request, from its variables.
	csel := cond.Operations[0].SelectionSet[0].(*ast.Field).SelectionSet
	with := collectFields(&graphql.OperationContext{Doc: cond, Variables: map[string]any{"x": true}}, csel, shopImplementors)
	without := collectFields(&graphql.OperationContext{Doc: cond, Variables: map[string]any{"x": false}}, csel, shopImplementors)
	if len(with) != 2 || len(without) != 1 {
		t.Fatalf("@include: %d fields with x, %d without", len(with), len(without))
	}
}
