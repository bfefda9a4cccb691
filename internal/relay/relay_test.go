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
