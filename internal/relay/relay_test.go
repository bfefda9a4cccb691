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
		if got, want := string(relay.AppendGlobalID([]byte("x"), "ProductVariant", id)), "xgid://cartograph/ProductVariant/"+id.String(); got != want {
			t.Fatalf("AppendGlobalID %q, want %q", got, want)
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
	buf := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() { buf = relay.AppendGlobalID(buf[:0], "Product", id) }); n != 0 {
		t.Errorf("AppendGlobalID: %v allocations, want 0", n)
	}
}

// TestIDWindowMatchesSliceWindow: the lazy-cursor window of an in-memory
// list pages exactly as SliceWindow with eagerly encoded key|id cursors,
// forwards and backwards, with and without after/before, and refuses the
// same bad cursors.
func TestIDWindowMatchesSliceWindow(t *testing.T) {
	ids := make([]uuid.UUID, 7)
	for i := range ids {
		ids[i] = uuid.New()
	}
	cur := func(i int) string { return relay.EncodeIDCursor("V", ids[i]) }
	idx := func(c string) (int, bool) {
		for i := range ids {
			if cur(i) == c {
				return i, true
			}
		}
		return 0, false
	}
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	cursors := []string{"", cur(0), cur(3), cur(6), relay.EncodeIDCursor("V", uuid.New()), "garbage"}
	for _, limit := range []int{0, 1, 3, 10} {
		for _, backward := range []bool{false, true} {
			for _, after := range cursors {
				for _, before := range cursors {
					p := relay.Page{Limit: limit, Backward: backward, After: after, Before: before}
					lo1, hi1, info1, err1 := relay.SliceWindow(p, len(ids), cur, idx)
					lo2, hi2, info2, err2 := relay.IDWindow(p, len(ids), "V", func(i int) uuid.UUID { return ids[i] })
					if (err1 == nil) != (err2 == nil) || lo1 != lo2 || hi1 != hi2 || info1.HasNextPage != info2.HasNextPage ||
						info1.HasPreviousPage != info2.HasPreviousPage || str(info1.StartCursor()) != str(info2.StartCursor()) ||
						str(info1.EndCursor()) != str(info2.EndCursor()) {
						t.Fatalf("%+v: SliceWindow %d %d %+v %v, IDWindow %d %d %+v %v", p, lo1, hi1, info1, err1, lo2, hi2, info2, err2)
					}
				}
			}
		}
	}
}
