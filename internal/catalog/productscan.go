package catalog

import (
	"encoding/binary"
	"errors"
	"time"

	"cartograph/internal/dbq"
	"cartograph/internal/money"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// productPageColumns are the columns of a product page statement
// (productColumns and the sort value) in order: textual columns read the
// same in either wire format, the others must be binary for the raw
// decoder (jsonb is read in either: pgx asks for text). oid 0 is the
// product_status enum, whose oid differs per
// database (an enum is its label in either format).
var productPageColumns = [...]struct {
	oid     uint32
	textual bool
}{
	{2950, false}, {2950, false}, {25, true}, {25, true}, {25, true}, {25, true}, {0, true},
	{25, true}, {25, true}, {1009, false}, {25, true}, {25, true}, {3802, true}, {1042, true},
	{20, false}, {20, false}, {1184, false}, {1184, false}, {25, true},
}

func rawProductFormats(fds []pgconn.FieldDescription) bool {
	if len(fds) != len(productPageColumns) {
		return false
	}
	for i, c := range productPageColumns {
		if (c.oid != 0 && fds[i].DataTypeOID != c.oid) || (!c.textual && fds[i].Format != pgx.BinaryFormatCode) {
			return false
		}
	}
	return true
}

var errProductRow = errors.New("catalog: product row the raw decoder does not read")

// product decodes one row of a product page (nil is NULL) as rows.Scan
// into productScanTargets would, with the strings in the batch's shared
// memory. An error (a value it does not handle, such as an infinite
// timestamp) leaves the row to rows.Scan.
func (a *rowArena) product(p *dbq.Product, sortVal *string, cols [][]byte, jsonbBinary bool) error {
	be := binary.BigEndian
	if len(cols) != len(productPageColumns) {
		return errProductRow
	}
	for i, c := range cols {
		if c == nil && i != 10 && i != 11 { // only the SEO texts are nullable
			return errProductRow
		}
	}
	if len(cols[0]) != 16 || len(cols[1]) != 16 || len(cols[14]) != 8 || len(cols[15]) != 8 {
		return errProductRow
	}
	attrs := cols[12]
	if jsonbBinary {
		if len(attrs) < 1 || attrs[0] != 1 {
			return errProductRow
		}
		attrs = attrs[1:] // jsonb's version byte
	}
	created, ok := timestamptz(cols[16])
	if !ok {
		return errProductRow
	}
	updated, ok := timestamptz(cols[17])
	if !ok {
		return errProductRow
	}
	tags, err := a.textArray(cols[9])
	if err != nil {
		return errProductRow
	}
	copy(p.ShopID[:], cols[0])
	copy(p.ID[:], cols[1])
	p.Handle, p.Title = a.str(cols[2]), a.str(cols[3])
	p.Description, p.DescriptionHtml = a.str(cols[4]), a.str(cols[5])
	p.Status = dbq.ProductStatus(a.str(cols[6]))
	p.ProductType, p.Vendor = a.str(cols[7]), a.str(cols[8])
	p.Tags = tags
	p.SeoTitle, p.SeoDescription = a.optStr(cols[10]), a.optStr(cols[11])
	p.Attributes = a.bytes(attrs)
	p.CurrencyCode = money.Currency(a.str(cols[13]))
	p.PriceMin, p.PriceMax = int64(be.Uint64(cols[14])), int64(be.Uint64(cols[15]))
	p.CreatedAt, p.UpdatedAt = created, updated
	*sortVal = a.str(cols[18])
	return nil
}

// timestamptz decodes a binary timestamptz as pgx does (a time in the
// local zone); infinity and out-of-range values are not read here.
func timestamptz(b []byte) (time.Time, bool) {
	if len(b) != 8 {
		return time.Time{}, false
	}
	const unixToY2K = 946_684_800 * 1_000_000 // microseconds
	us := int64(binary.BigEndian.Uint64(b))
	if us == 9223372036854775807 || us == -9223372036854775808 {
		return time.Time{}, false
	}
	t := time.Unix(unixToY2K/1_000_000+us/1_000_000, (unixToY2K%1_000_000*1_000)+(us%1_000_000*1_000))
	if t.Year() < -4712 || t.Year() > 294276 {
		return time.Time{}, false
	}
	return t, true
}

// optStr is a nullable text: nil for NULL.
func (a *rowArena) optStr(b []byte) *string {
	if b == nil {
		return nil
	}
	if len(a.ptrs) == cap(a.ptrs) {
		a.ptrs = make([]string, 0, max(min(2*cap(a.ptrs), 128), 8))
	}
	a.ptrs = append(a.ptrs, a.str(b))
	return &a.ptrs[len(a.ptrs)-1]
}

// bytes copies b into the batch's memory (never nil: pgx reads an empty
// value as an empty slice).
func (a *rowArena) bytes(b []byte) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	s := a.str(b)
	return unsafeBytes(s)
}
