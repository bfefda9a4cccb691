package catalog

import (
	"encoding/binary"
	"errors"
	"unsafe"

	"cartograph/internal/money"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// variantsByProductIDsSQL reads the variants of a page of products (the
// listing's third statement). Availability is on_hand - reserved summed
// over warehouses, computed by a correlated subquery on the (shop_id,
// variant_id, ...) primary key: a join made PostgreSQL hash the whole stock
// table (GUIDE §5).
const variantsByProductIDsSQL = `SELECT v.id, v.product_id, v.title, v.sku, v.position, v.option_names, v.option_values,
       v.price_amount, v.compare_at_amount, v.currency_code, v.weight_grams, v.image_id,
       (SELECT coalesce(sum(il.on_hand - il.reserved), 0) FROM inventory_levels il
        WHERE il.shop_id = v.shop_id AND il.variant_id = v.id)::int AS available
FROM variants v
WHERE v.shop_id = $1 AND v.product_id = ANY($2::uuid[])
ORDER BY v.product_id, v.position`

// variantColumns are the statement's columns in order; textual columns
// read the same in either wire format, the others must be binary for the
// raw decoder (else rows.Scan decodes them).
var variantColumns = [...]struct {
	oid     uint32
	textual bool
}{
	{2950, false}, {2950, false}, {25, true}, {25, true}, {23, false}, {1009, false}, {1009, false},
	{20, false}, {20, false}, {1042, true}, {23, false}, {2950, false}, {23, false},
}

// scanVariants reads variantsByProductIDsSQL's rows into blocks of
// variants. When the columns arrive in the expected types and formats it
// decodes the raw column bytes itself, with the strings, option slices and
// nullable values of the whole batch in shared backing memory (a few
// allocations per batch instead of about ten per row); otherwise it falls
// back to rows.Scan.
func scanVariants(rows pgx.Rows) (variantRows, error) {
	defer rows.Close()
	raw := rawFormats(rows.FieldDescriptions())
	var (
		out variantRows
		ra  rowArena
	)
	for rows.Next() {
		v := out.next()
		var err error
		if raw {
			err = ra.variant(v, rows.RawValues())
		} else {
			err = rows.Scan(&v.ID, &v.ProductID, &v.Title, &v.Sku, &v.Position, &v.OptionNames, &v.OptionValues,
				&v.PriceAmount, &v.CompareAtAmount, &v.CurrencyCode, &v.WeightGrams, &v.ImageID, &v.Available)
		}
		if err != nil {
			return variantRows{}, err
		}
		ra.selectOptions(v)
	}
	return out, rows.Err()
}

// variantRows are scanned variants in blocks that are never moved (a
// growing slice would copy every variant at each doubling, and the
// listing's hundred variants would cost twice their size in garbage).
type variantRows struct {
	blocks [][]Variant
	n      int
}

const variantBlock = 32

func (r *variantRows) next() *Variant {
	if r.n == len(r.blocks)*variantBlock {
		r.blocks = append(r.blocks, make([]Variant, variantBlock))
	}
	v := &r.blocks[r.n/variantBlock][r.n%variantBlock]
	r.n++
	return v
}

// at is the i-th variant scanned.
func (r *variantRows) at(i int) *Variant { return &r.blocks[i/variantBlock][i%variantBlock] }

func rawFormats(fds []pgconn.FieldDescription) bool {
	if len(fds) != len(variantColumns) {
		return false
	}
	for i, c := range variantColumns {
		if fds[i].DataTypeOID != c.oid || (!c.textual && fds[i].Format != pgx.BinaryFormatCode) {
			return false
		}
	}
	return true
}

var errVariantRow = errors.New("catalog: malformed variant row")

// rowArena holds a batch's strings, string slices and nullable values.
// A full block is replaced, never grown in place, so what was handed out
// keeps pointing at bytes that do not change.
type rowArena struct {
	text []byte
	strs []string
	ints []int64
	ids  []uuid.UUID
	opts []SelectedOption
	ptrs []string // the targets of nullable strings
}

// selectOptions sets v's SelectedOptions from a block of the batch's.
func (a *rowArena) selectOptions(v *Variant) {
	n := min(len(v.OptionNames), len(v.OptionValues))
	if n == 0 {
		return
	}
	if cap(a.opts)-len(a.opts) < n {
		a.opts = make([]SelectedOption, 0, max(min(2*cap(a.opts), 512), 64, n))
	}
	start := len(a.opts)
	for i := range n {
		a.opts = append(a.opts, SelectedOption{Name: v.OptionNames[i], Value: v.OptionValues[i]})
	}
	v.selected = a.opts[start:len(a.opts):len(a.opts)]
}

// unsafeBytes is the bytes of s, which a.str copied into a block nothing
// writes to again.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func (a *rowArena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(a.text)-len(a.text) < len(b) {
		// Blocks double from 512 bytes: a product page's few variants
		// take little, a listing's hundred a handful of blocks.
		a.text = make([]byte, 0, max(min(2*cap(a.text), 16384), 512, len(b)))
	}
	start := len(a.text)
	a.text = append(a.text, b...)
	return unsafe.String(&a.text[start], len(b))
}

// textArray decodes a one-dimensional binary text[] without NULLs.
func (a *rowArena) textArray(b []byte) ([]string, error) {
	be := binary.BigEndian
	if len(b) < 12 {
		return nil, errVariantRow
	}
	if be.Uint32(b) == 0 {
		return []string{}, nil
	}
	if be.Uint32(b) != 1 || len(b) < 20 {
		return nil, errVariantRow
	}
	n := int(int32(be.Uint32(b[12:])))
	if n < 0 || n > len(b) {
		return nil, errVariantRow
	}
	if cap(a.strs)-len(a.strs) < n {
		a.strs = make([]string, 0, max(min(2*cap(a.strs), 512), 16, n))
	}
	start := len(a.strs)
	p := 20
	for range n {
		if len(b)-p < 4 {
			return nil, errVariantRow
		}
		l := int(int32(be.Uint32(b[p:])))
		p += 4
		if l < 0 || l > len(b)-p {
			return nil, errVariantRow
		}
		a.strs = append(a.strs, a.str(b[p:p+l]))
		p += l
	}
	return a.strs[start:len(a.strs):len(a.strs)], nil
}

func (a *rowArena) int64Ptr(v int64) *int64 {
	if len(a.ints) == cap(a.ints) {
		a.ints = make([]int64, 0, max(min(2*cap(a.ints), 128), 8))
	}
	a.ints = append(a.ints, v)
	return &a.ints[len(a.ints)-1]
}

func (a *rowArena) uuidPtr(v uuid.UUID) *uuid.UUID {
	if len(a.ids) == cap(a.ids) {
		a.ids = make([]uuid.UUID, 0, max(min(2*cap(a.ids), 128), 8))
	}
	a.ids = append(a.ids, v)
	return &a.ids[len(a.ids)-1]
}

// variant decodes one row of raw column values (nil is NULL).
func (a *rowArena) variant(v *Variant, cols [][]byte) error {
	be := binary.BigEndian
	if len(cols) != len(variantColumns) {
		return errVariantRow
	}
	fixed := func(i, n int) []byte {
		if len(cols[i]) != n {
			return nil
		}
		return cols[i]
	}
	for _, i := range [...]int{0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 12} { // NOT NULL columns
		if cols[i] == nil {
			return errVariantRow
		}
	}
	id, pid, pos, price, weight, avail := fixed(0, 16), fixed(1, 16), fixed(4, 4), fixed(7, 8), fixed(10, 4), fixed(12, 4)
	if id == nil || pid == nil || pos == nil || price == nil || weight == nil || avail == nil {
		return errVariantRow
	}
	copy(v.ID[:], id)
	copy(v.ProductID[:], pid)
	v.Title, v.Sku = a.str(cols[2]), a.str(cols[3])
	v.Position = int32(be.Uint32(pos))
	var err error
	if v.OptionNames, err = a.textArray(cols[5]); err != nil {
		return err
	}
	if v.OptionValues, err = a.textArray(cols[6]); err != nil {
		return err
	}
	v.PriceAmount = int64(be.Uint64(price))
	if cols[8] != nil {
		c := fixed(8, 8)
		if c == nil {
			return errVariantRow
		}
		v.CompareAtAmount = a.int64Ptr(int64(be.Uint64(c)))
	}
	v.CurrencyCode = money.Currency(a.str(cols[9]))
	v.WeightGrams = int32(be.Uint32(weight))
	if cols[11] != nil {
		img := fixed(11, 16)
		if img == nil {
			return errVariantRow
		}
		v.ImageID = a.uuidPtr(uuid.UUID(img))
	}
	v.Available = int32(be.Uint32(avail))
	return nil
}
