package catalog_test

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"

	"cartograph/internal/catalog"
	"cartograph/internal/dbq"
	"cartograph/internal/seed"
	"cartograph/internal/testdb"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The raw decoder of the listing's variant batch reads exactly what pgx's
// own scanning reads (forced by asking for text-format results), over the
// demo catalog plus variants with NULL compare-at prices and images, empty
// and multi-valued options and non-ASCII titles.
func TestScanVariantsMatchesPgx(t *testing.T) {
	db := testdb.New(t, "catalog")
	ctx := context.Background()
	if err := seed.Demo(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	var shopID uuid.UUID
	var productIDs []uuid.UUID
	if err := db.Pool.QueryRow(ctx, `SELECT shop_id, array_agg(id) FROM products GROUP BY shop_id ORDER BY count(*) DESC LIMIT 1`).Scan(&shopID, &productIDs); err != nil {
		t.Fatal(err)
	}
	// Variety the demo may lack: empty options, three options, NULLs, unicode.
	if _, err := db.Pool.Exec(ctx, `UPDATE variants SET option_names = '{}', option_values = '{}', compare_at_amount = NULL, image_id = NULL,
		title = 'Größe ✓ "quoted"' WHERE id = (SELECT id FROM variants WHERE shop_id = $1 ORDER BY id LIMIT 1)`, shopID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE variants SET option_names = '{Size,Color,Material}', option_values = '{XL,"Deep blue",""}', compare_at_amount = 99999
		WHERE id = (SELECT id FROM variants WHERE shop_id = $1 ORDER BY id DESC LIMIT 1)`, shopID); err != nil {
		t.Fatal(err)
	}
	read := func(args ...any) []catalog.Variant {
		t.Helper()
		rows, err := db.Pool.Query(ctx, catalog.VariantsByProductIDsSQL, args...)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := catalog.ScanVariants(rows)
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	raw := read(shopID, productIDs)
	viaPgx := read(pgx.QueryResultFormats{pgx.TextFormatCode}, shopID, productIDs)
	if len(raw) < 10 {
		t.Fatalf("only %d variants read", len(raw))
	}
	if !reflect.DeepEqual(raw, viaPgx) {
		for i := range raw {
			if !reflect.DeepEqual(raw[i], viaPgx[i]) {
				t.Fatalf("variant %d: raw decoder %+v, pgx %+v", i, raw[i], viaPgx[i])
			}
		}
		t.Fatal("raw decoder and pgx differ")
	}
	var nullImage, nullCompare, noOptions, threeOptions bool
	for _, v := range raw {
		nullImage = nullImage || v.ImageID == nil
		nullCompare = nullCompare || v.CompareAtAmount == nil
		noOptions = noOptions || len(v.OptionNames) == 0
		threeOptions = threeOptions || len(v.OptionValues) == 3
	}
	if !nullImage || !nullCompare || !noOptions || !threeOptions {
		t.Fatalf("the rows lack the variety the test needs: %v %v %v %v", nullImage, nullCompare, noOptions, threeOptions)
	}
	if n := testing.AllocsPerRun(20, func() { _ = read(shopID, productIDs) }); n > float64(len(raw))*2 {
		t.Errorf("%v allocations for %d variants", n, len(raw))
	}
}

// Malformed column bytes are an error, never a panic or an out-of-range read.
func TestDecodeVariantRowRejectsMalformed(t *testing.T) {
	valid := [][]byte{make([]byte, 16), make([]byte, 16), []byte("t"), []byte("s"), make([]byte, 4),
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25},
		make([]byte, 8), nil, []byte("EUR"), make([]byte, 4), nil, make([]byte, 4)}
	if _, err := catalog.DecodeVariantRow(valid); err != nil {
		t.Fatalf("valid row: %v", err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		cols := make([][]byte, len(valid))
		copy(cols, valid)
		i := r.IntN(len(cols))
		b := make([]byte, r.IntN(40))
		for k := range b {
			b[k] = byte(r.UintN(256))
		}
		if r.IntN(4) == 0 && len(b) >= 12 {
			b[0], b[1], b[2], b[3] = 0, 0, 0, 1 // a one-dimensional array header with garbage after it
		}
		cols[i] = b
		_, _ = catalog.DecodeVariantRow(cols) // must not panic
	}
	if _, err := catalog.DecodeVariantRow(valid[:5]); err == nil {
		t.Fatal("a short row was accepted")
	}
	bad := append([][]byte(nil), valid...)
	bad[5] = []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 25, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 9, 'x'}
	if _, err := catalog.DecodeVariantRow(bad); err == nil {
		t.Fatal("an array element longer than its bytes was accepted")
	}
}

// TestGroupInKeyOrder: groups follow the ids (duplicates included), keep
// the items' order, drop items of keys not asked for, are nil when empty,
// and an append to one group cannot overwrite the next.
func TestGroupInKeyOrder(t *testing.T) {
	type item struct {
		key uuid.UUID
		n   int
	}
	a, b, c, d := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	items := []item{{b, 1}, {a, 2}, {b, 3}, {d, 4}, {a, 5}, {b, 6}}
	got := catalog.GroupInKeyOrder([]uuid.UUID{a, c, b, a}, items, func(i *item) uuid.UUID { return i.key })
	ns := func(g []*item) []int {
		var out []int
		for _, i := range g {
			out = append(out, i.n)
		}
		return out
	}
	want := [][]int{{2, 5}, nil, {1, 3, 6}, {2, 5}}
	if len(got) != len(want) {
		t.Fatalf("%d groups, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(ns(got[i]), want[i]) {
			t.Errorf("group %d: %v, want %v", i, ns(got[i]), want[i])
		}
	}
	if got[1] != nil {
		t.Errorf("empty group is %#v, want nil", got[1])
	}
	_ = append(got[0], &item{a, 99})
	if !reflect.DeepEqual(ns(got[2]), []int{1, 3, 6}) {
		t.Errorf("append to group 0 changed group 2: %v", ns(got[2]))
	}
}

// TestAppendNodeIDMatchesNodeID: the response writer appends ids with
// AppendNodeID where gqlgen would marshal NodeID's string.
func TestAppendNodeIDMatchesNodeID(t *testing.T) {
	id := uuid.New()
	for _, n := range []interface {
		NodeID() string
		AppendNodeID([]byte) []byte
	}{&catalog.Product{}, &catalog.Variant{ID: id}, &catalog.Option{}, &catalog.Collection{}, &catalog.OptionValue{ID: id}} {
		if got, want := string(n.AppendNodeID([]byte("x"))), "x"+n.NodeID(); got != want {
			t.Errorf("%T: AppendNodeID %q, NodeID %q", n, got, want)
		}
	}
}

// The raw decoder of a product page reads exactly what pgx's own scanning
// reads (text-format results force rows.Scan), with NULL and non-NULL SEO
// texts, empty and non-empty tags and attributes, unicode and a timestamp
// before 2000 with microseconds (negative offsets from pgx's epoch).
func TestScanProductsMatchesPgx(t *testing.T) {
	db := testdb.New(t, "catalog")
	ctx := context.Background()
	if err := seed.Demo(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE products SET seo_title = 'Größe ✓ "q"', seo_description = NULL, tags = '{a,"b c",""}',
		attributes = '{"k": [1, "ü"]}' WHERE id = (SELECT id FROM products ORDER BY id LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE products SET seo_title = NULL, seo_description = '', tags = '{}', updated_at = '1900-01-01 00:00:00.123456+00'
		WHERE id = (SELECT id FROM products ORDER BY id DESC LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	q := `SELECT ` + catalog.ProductPageColumns + `, p.title::text FROM products p ORDER BY p.id`
	read := func(args ...any) ([]dbq.Product, []string) {
		t.Helper()
		rows, err := db.Pool.Query(ctx, q, args...)
		if err != nil {
			t.Fatal(err)
		}
		if raw := catalog.RawProductFormats(rows.FieldDescriptions()); raw != (len(args) == 0) {
			t.Fatalf("raw decoder used: %v, want %v", raw, len(args) == 0)
		}
		ps, sorts, err := catalog.ScanProductPage(rows)
		if err != nil {
			t.Fatal(err)
		}
		return ps, sorts
	}
	raw, rawSorts := read()
	viaPgx, pgxSorts := read(pgx.QueryResultFormats{pgx.TextFormatCode})
	if len(raw) < 10 {
		t.Fatalf("only %d products read", len(raw))
	}
	for i := range raw {
		if !reflect.DeepEqual(raw[i], viaPgx[i]) || rawSorts[i] != pgxSorts[i] {
			t.Fatalf("product %d: raw decoder %+v %q, pgx %+v %q", i, raw[i], rawSorts[i], viaPgx[i], pgxSorts[i])
		}
	}
	if raw[0].SeoTitle == nil || *raw[0].SeoTitle != `Größe ✓ "q"` || len(raw[0].Tags) != 3 || raw[len(raw)-1].SeoTitle != nil {
		t.Fatalf("the rows lack the variety the test needs: %+v / %+v", raw[0], raw[len(raw)-1])
	}
}
