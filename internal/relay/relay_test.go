package relay_test

import (
	"testing"

	"cartograph/internal/apperr"
	"cartograph/internal/relay"

	"github.com/google/uuid"
)

func ptr[T any](v T) *T { return &v }

func TestGlobalID(t *testing.T) {
	id := uuid.Must(uuid.NewV7())
	gid := relay.GlobalID("Product", id)
	typ, got, err := relay.ParseGlobalID("id", gid)
	if err != nil || typ != "Product" || got != id {
		t.Fatalf("round trip: %s %s %v", typ, got, err)
	}
	for _, bad := range []string{"", "123", "gid://shopify/Product/1", "gid://cartograph/Product/", "gid://cartograph//" + id.String(),
		"gid://cartograph/Product/" + id.String() + "x", "gid://cartograph/Product/{" + id.String() + "}"} {
		if _, _, err := relay.ParseGlobalID("id", bad); apperr.CodeOf(err) != apperr.BadUserInput {
			t.Errorf("%q: want BAD_USER_INPUT, got %v", bad, err)
		}
	}
	if _, err := relay.ParseTypedID("id", "Collection", gid); err == nil {
		t.Fatal("a Product id was accepted as a Collection id")
	}
}

func TestCursor(t *testing.T) {
	c := relay.EncodeCursor("TITLE", "abc", "a\x1fb title")
	parts, err := relay.DecodeCursor("after", c, "TITLE", 2)
	if err != nil || parts[0] != "abc" || parts[1] != "a\x1fb title" {
		t.Fatalf("round trip: %q %v", parts, err)
	}
	if _, err := relay.DecodeCursor("after", c, "PRICE", 2); err == nil {
		t.Fatal("cursor accepted for another sort key")
	}
	if _, err := relay.DecodeCursor("after", "%%%", "TITLE", 2); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestNewPage(t *testing.T) {
	cases := []struct {
		name        string
		first, last *int
		def         int
		wantErr     bool
		limit       int
		backward    bool
	}{
		{"First", ptr(10), nil, 0, false, 10, false},
		{"Last", nil, ptr(3), 0, false, 3, true},
		{"Default", nil, nil, 20, false, 20, false},
		{"ErrNeither", nil, nil, 0, true, 0, false},
		{"ErrBoth", ptr(1), ptr(1), 0, true, 0, false},
		{"ErrTooLarge", ptr(251), nil, 0, true, 0, false},
		{"MaxAllowed", ptr(250), nil, 0, false, 250, false},
		{"ErrNegativeLast", nil, ptr(-1), 0, true, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := relay.NewPage(c.first, c.last, nil, nil, c.def)
			if c.wantErr {
				if apperr.CodeOf(err) != apperr.BadUserInput {
					t.Fatalf("want BAD_USER_INPUT, got %v", err)
				}
				return
			}
			if err != nil || p.Limit != c.limit || p.Backward != c.backward {
				t.Fatalf("got %+v %v", p, err)
			}
		})
	}
}

// The one-allocation encoders write exactly what the plain forms write,
// for short and long cursors alike.
func TestEncodersMatchPlainForms(t *testing.T) {
	long := string(make([]byte, 300))
	for range 50 {
		id := uuid.New()
		if got := string(relay.AppendUUID(nil, id)); got != id.String() {
			t.Fatalf("AppendUUID %q, want %q", got, id.String())
		}
		if got, want := relay.GlobalID("ProductVariant", id), "gid://cartograph/ProductVariant/"+id.String(); got != want {
			t.Fatalf("GlobalID %q, want %q", got, want)
		}
		for _, rest := range [][]string{nil, {"2026-12-07T17:00:00Z"}, {long}, {"a", "b"}} {
			want := relay.EncodeCursor("CREATED_AT", append([]string{id.String()}, rest...)...)
			if got := relay.EncodeIDCursor("CREATED_AT", id, rest...); got != want {
				t.Fatalf("EncodeIDCursor(%d rest) %q, want %q", len(rest), got, want)
			}
		}
	}
	id := uuid.New()
	if n := testing.AllocsPerRun(100, func() { _ = relay.EncodeIDCursor("V", id) }); n != 1 {
		t.Errorf("EncodeIDCursor: %v allocations, want 1", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = relay.GlobalID("Product", id) }); n != 1 {
		t.Errorf("GlobalID: %v allocations, want 1", n)
	}
}
