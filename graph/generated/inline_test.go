package generated

import (
	"bytes"
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
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
