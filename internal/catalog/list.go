package catalog

import (
	"context"
	"strconv"
	"strings"

	"cartograph/internal/apperr"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"
	"cartograph/internal/relay"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// sortSpec describes one keyset ordering: the SQL expression, the type its
// cursor value is cast back to, and the name stamped into cursors so a
// cursor from one ordering is refused by another.
type sortSpec struct {
	key  string // cursor key
	col  string // SQL expression; "" means order by id only
	cast string // PostgreSQL type of col
}

var productSorts = map[string]sortSpec{
	"ID":           {key: "ID"},
	"CREATED_AT":   {key: "CREATED_AT", col: "p.created_at", cast: "timestamptz"},
	"UPDATED_AT":   {key: "UPDATED_AT", col: "p.updated_at", cast: "timestamptz"},
	"TITLE":        {key: "TITLE", col: "p.title", cast: "text"},
	"PRICE":        {key: "PRICE", col: "p.price_min", cast: "bigint"},
	"PRODUCT_TYPE": {key: "PRODUCT_TYPE", col: "p.product_type", cast: "text"},
	"VENDOR":       {key: "VENDOR", col: "p.vendor", cast: "text"},
	// No sales data yet: BEST_SELLING and RELEVANCE fall back to ID order
	// (a stable, honest order rather than a fake ranking).
	"BEST_SELLING": {key: "ID"},
	"RELEVANCE":    {key: "ID"},
}

var collectionProductSorts = map[string]sortSpec{
	"ID":                 {key: "ID"},
	"TITLE":              {key: "TITLE", col: "p.title", cast: "text"},
	"PRICE":              {key: "PRICE", col: "p.price_min", cast: "bigint"},
	"CREATED":            {key: "CREATED", col: "p.created_at", cast: "timestamptz"},
	"MANUAL":             {key: "POSITION", col: "cp.position", cast: "int"},
	"COLLECTION_DEFAULT": {key: "POSITION", col: "cp.position", cast: "int"},
	"BEST_SELLING":       {key: "POSITION", col: "cp.position", cast: "int"},
	"RELEVANCE":          {key: "POSITION", col: "cp.position", cast: "int"},
}

var collectionSorts = map[string]sortSpec{
	"ID":         {key: "ID"},
	"TITLE":      {key: "TITLE", col: "c.title", cast: "text"},
	"UPDATED_AT": {key: "UPDATED_AT", col: "c.updated_at", cast: "timestamptz"},
	"RELEVANCE":  {key: "ID"},
}

// productColumns matches dbq.Product field order (scanProduct).
const productColumns = `p.shop_id, p.id, p.handle, p.title, p.description, p.description_html, p.status,
 p.product_type, p.vendor, p.tags, p.seo_title, p.seo_description, p.attributes, p.currency_code,
 p.price_min, p.price_max, p.created_at, p.updated_at`

const collectionColumns = `c.shop_id, c.id, c.handle, c.title, c.description, c.description_html,
 c.seo_title, c.seo_description, c.image_url, c.created_at, c.updated_at`

// keyset builds the shared WHERE/ORDER BY/LIMIT tail of a keyset query.
type keyset struct {
	sql  strings.Builder
	args []any
}

func (k *keyset) arg(v any) string {
	k.args = append(k.args, v)
	return "$" + strconv.Itoa(len(k.args))
}

// bound adds "(col, id) op (cursor)" for an after/before cursor.
func (k *keyset) bound(field, cursor string, s sortSpec, idCol string, greater bool) error {
	op := "<"
	if greater {
		op = ">"
	}
	if s.col == "" {
		parts, err := relay.DecodeCursor(field, cursor, s.key, 1)
		if err != nil {
			return err
		}
		id, err := uuid.Parse(parts[0])
		if err != nil {
			return apperr.BadInput(field, "invalid cursor for this query")
		}
		k.sql.WriteString(" AND " + idCol + " " + op + " " + k.arg(id))
		return nil
	}
	parts, err := relay.DecodeCursor(field, cursor, s.key, 2)
	if err != nil {
		return err
	}
	id, err := uuid.Parse(parts[0])
	if err != nil {
		return apperr.BadInput(field, "invalid cursor for this query")
	}
	if s.cast == "bigint" || s.cast == "int" {
		if _, err := strconv.ParseInt(parts[1], 10, 64); err != nil {
			return apperr.BadInput(field, "invalid cursor for this query")
		}
	}
	k.sql.WriteString(" AND (" + s.col + ", " + idCol + ") " + op + " (" + k.arg(parts[1]) + "::" + s.cast + ", " + k.arg(id) + ")")
	return nil
}

// window adds bounds, ORDER BY and LIMIT for page p over sort s. desc is
// the order of the result; for backward pages the query runs the other way
// and the caller reverses the rows.
func (k *keyset) window(p relay.Page, s sortSpec, idCol string, desc bool) error {
	if p.After != "" {
		if err := k.bound("after", p.After, s, idCol, !desc); err != nil {
			return err
		}
	}
	if p.Before != "" {
		if err := k.bound("before", p.Before, s, idCol, desc); err != nil {
			return err
		}
	}
	dir := " ASC"
	if desc != p.Backward {
		dir = " DESC"
	}
	k.sql.WriteString(" ORDER BY ")
	if s.col != "" {
		k.sql.WriteString(s.col + dir + ", ")
	}
	k.sql.WriteString(idCol + dir + " LIMIT " + k.arg(p.Limit+1))
	return nil
}

func sortValueColumn(s sortSpec) string {
	if s.col == "" {
		return ", ''::text"
	}
	return ", " + s.col + "::text"
}

func cursorFor(s sortSpec, id uuid.UUID, sortValue string) string {
	if s.col == "" {
		return relay.EncodeIDCursor(s.key, id)
	}
	return relay.EncodeIDCursor(s.key, id, sortValue)
}

// pageInfo trims the extra row fetched to detect more, restores result
// order for backward pages and computes PageInfo.
func pageInfo[T any](rows []T, p relay.Page) ([]T, relay.PageInfo) {
	var info relay.PageInfo
	more := len(rows) > p.Limit
	if more {
		rows = rows[:p.Limit]
	}
	if p.Backward {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
		info.HasPreviousPage = more
		info.HasNextPage = p.Before != ""
	} else {
		info.HasNextPage = more
		info.HasPreviousPage = p.After != ""
	}
	return rows, info
}

type productRow struct {
	p       Product
	sortVal string
}

// queryProducts reads a page of products; limit is the page size (the
// statement reads one more row, to know if another page follows).
func (s *Service) queryProducts(ctx context.Context, sql string, args []any, limit int) ([]productRow, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, pg.MapError(err)
	}
	out, err := scanProductRows(rows, limit)
	if err != nil {
		return nil, pg.MapError(err)
	}
	if p := PresenterFrom(ctx); p != nil {
		for i := range out {
			p.PresentProduct(&out[i].p)
		}
	}
	return out, nil
}

// scanProductRows reads the rows of a product page statement. Rows in the
// expected formats are decoded from their raw bytes (the strings of the
// page in shared memory); others, and any row the decoder does not read,
// by rows.Scan. Every column is scanned into r (NULL as nil), so one set
// of targets serves every row.
func scanProductRows(rows pgx.Rows, limit int) ([]productRow, error) {
	defer rows.Close()
	out := make([]productRow, 0, min(max(limit, 0), relay.MaxPage)+1)
	fds := rows.FieldDescriptions()
	raw := rawProductFormats(fds)
	jsonbBinary := raw && fds[12].Format == pgx.BinaryFormatCode
	var (
		r  productRow
		ra rowArena
	)
	targets := productScanTargets(&r.p.Product, &r.sortVal)
	for rows.Next() {
		if !raw || ra.product(&r.p.Product, &r.sortVal, rows.RawValues(), jsonbBinary) != nil {
			if err := rows.Scan(targets...); err != nil {
				return nil, err
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func productScanTargets(p *dbq.Product, extra ...any) []any {
	t := append(make([]any, 0, 18+len(extra)), &p.ShopID, &p.ID, &p.Handle, &p.Title, &p.Description, &p.DescriptionHtml, &p.Status,
		&p.ProductType, &p.Vendor, &p.Tags, &p.SeoTitle, &p.SeoDescription, &p.Attributes, &p.CurrencyCode,
		&p.PriceMin, &p.PriceMax, &p.CreatedAt, &p.UpdatedAt)
	return append(t, extra...)
}

func productConnection(rows []productRow, p relay.Page, s sortSpec) *ProductConnection {
	rows, info := pageInfo(rows, p)
	conn := &ProductConnection{Edges: make([]ProductEdge, len(rows)), PageInfo: info}
	for i := range rows {
		conn.Edges[i] = ProductEdge{Cursor: cursorFor(s, rows[i].p.ID, rows[i].sortVal), Node: &rows[i].p}
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.SetCursors(&conn.Edges[0].Cursor, &conn.Edges[n-1].Cursor)
	}
	return conn
}

// applyFilter appends the WHERE terms of a parsed query string.
func (k *keyset) applyFilter(f *filter) {
	for _, w := range f.titleWords {
		k.sql.WriteString(" AND p.title ILIKE " + k.arg(likeEscape(w)))
	}
	for _, t := range f.tags {
		k.sql.WriteString(" AND p.tags @> ARRAY[" + k.arg(t) + "::text]")
	}
	if len(f.productTypes) > 0 {
		for _, t := range f.productTypes {
			k.sql.WriteString(" AND lower(p.product_type) = lower(" + k.arg(t) + "::text)")
		}
	}
	for _, v := range f.vendors {
		k.sql.WriteString(" AND lower(p.vendor) = lower(" + k.arg(v) + "::text)")
	}
	if f.priceMin != nil {
		op := " >= "
		if f.priceMinExcl {
			op = " > "
		}
		k.sql.WriteString(" AND p.price_max" + op + k.arg(*f.priceMin))
	}
	if f.priceMax != nil {
		op := " <= "
		if f.priceMaxExcl {
			op = " < "
		}
		k.sql.WriteString(" AND p.price_min" + op + k.arg(*f.priceMax))
	}
}
