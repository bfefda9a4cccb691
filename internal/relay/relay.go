// Package relay implements the GraphQL conventions shared by every domain:
// global opaque IDs (gid://cartograph/<Type>/<uuid>), opaque keyset cursors
// and validation of Relay pagination arguments. Malformed input is always an
// apperr BAD_USER_INPUT naming the argument.
package relay

import (
	"encoding/base64"
	"strings"

	"cartograph/internal/apperr"

	"github.com/google/uuid"
)

// MaxPage is the largest page a client may ask for (first/last).
const MaxPage = 250

const gidPrefix = "gid://cartograph/"

// GlobalID returns the global ID of an object of typ with id.
func GlobalID(typ string, id uuid.UUID) string {
	var b strings.Builder
	b.Grow(len(gidPrefix) + len(typ) + 1 + 36)
	b.WriteString(gidPrefix)
	b.WriteString(typ)
	b.WriteByte('/')
	var hex [36]byte
	b.Write(AppendUUID(hex[:0], id)) // one allocation: the builder's
	return b.String()
}

// AppendGlobalID appends GlobalID(typ, id) to b (its text needs no JSON
// escaping).
func AppendGlobalID(b []byte, typ string, id uuid.UUID) []byte {
	b = append(b, gidPrefix...)
	b = append(b, typ...)
	b = append(b, '/')
	return AppendUUID(b, id)
}

// AppendUUID appends id in its canonical text form (as uuid.UUID.String
// writes it) to b, without allocating when b has room.
func AppendUUID(b []byte, id uuid.UUID) []byte {
	const digits = "0123456789abcdef"
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, digits[c>>4], digits[c&0xf])
	}
	return b
}

// ParseGlobalID splits a global ID into its type and uuid. Anything not of
// the form gid://cartograph/<Type>/<uuid> is BAD_USER_INPUT on field.
func ParseGlobalID(field, gid string) (string, uuid.UUID, error) {
	rest, ok := strings.CutPrefix(gid, gidPrefix)
	if ok {
		if typ, raw, ok := strings.Cut(rest, "/"); ok && typ != "" {
			if id, err := uuid.Parse(raw); err == nil && len(raw) == 36 {
				return typ, id, nil
			}
		}
	}
	return "", uuid.Nil, apperr.BadInput(field, "%q is not a valid global id", gid)
}

// ParseTypedID parses a global ID that must be of type typ.
func ParseTypedID(field, typ, gid string) (uuid.UUID, error) {
	t, id, err := ParseGlobalID(field, gid)
	if err != nil {
		return uuid.Nil, err
	}
	if t != typ {
		return uuid.Nil, apperr.BadInput(field, "%q is not a %s id", gid, typ)
	}
	return id, nil
}

// EncodeCursor makes an opaque cursor from a sort-key name and its parts.
// Only the last part may contain the separator byte (0x1f), so put free
// text (a title) last.
func EncodeCursor(key string, parts ...string) string {
	var raw [96]byte // most cursors fit: then the result is the only allocation
	b := append(raw[:0], key...)
	for _, p := range parts {
		b = append(b, 0x1f)
		b = append(b, p...)
	}
	return encodeCursor(b)
}

// EncodeIDCursor is EncodeCursor(key, id.String(), rest...) with one
// allocation when the cursor is short.
func EncodeIDCursor(key string, id uuid.UUID, rest ...string) string {
	var raw [96]byte
	b := append(raw[:0], key...)
	b = append(b, 0x1f)
	b = AppendUUID(b, id)
	for _, p := range rest {
		b = append(b, 0x1f)
		b = append(b, p...)
	}
	return encodeCursor(b)
}

func encodeCursor(raw []byte) string {
	var out [128]byte
	n := base64.RawURLEncoding.EncodedLen(len(raw))
	if n > len(out) {
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	base64.RawURLEncoding.Encode(out[:n], raw)
	return string(out[:n])
}

// DecodeCursor reverses EncodeCursor; a cursor made for another sort key or
// with the wrong number of parts is BAD_USER_INPUT on field.
func DecodeCursor(field, cursor, key string, nparts int) ([]string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil {
		parts := strings.SplitN(string(raw), "\x1f", nparts+1)
		if len(parts) == nparts+1 && parts[0] == key {
			return parts[1:], nil
		}
	}
	return nil, apperr.BadInput(field, "invalid cursor for this query")
}

// Page is a validated set of Relay pagination arguments.
type Page struct {
	// Limit is how many items to return (first or last).
	Limit int
	// Backward is true for last/before pagination: the last Limit items
	// before the upper bound.
	Backward bool
	// After and Before are the raw cursors, "" when absent.
	After, Before string
}

// NewPage validates first/last/after/before: exactly one of first and last,
// between 0 and MaxPage. defaultFirst is used when neither is given
// (0 makes one of them mandatory).
func NewPage(first, last *int, after, before *string, defaultFirst int) (Page, error) {
	var p Page
	if after != nil {
		p.After = *after
	}
	if before != nil {
		p.Before = *before
	}
	switch {
	case first != nil && last != nil:
		return p, apperr.BadInput("first", "pass either first or last, not both")
	case first != nil:
		p.Limit = *first
	case last != nil:
		p.Limit, p.Backward = *last, true
	case defaultFirst > 0:
		p.Limit = defaultFirst
	default:
		return p, apperr.BadInput("first", "you must provide one of first or last")
	}
	field := "first"
	if p.Backward {
		field = "last"
	}
	if p.Limit < 0 {
		return p, apperr.BadInput(field, "%s must not be negative", field)
	}
	if p.Limit > MaxPage {
		return p, apperr.BadInput(field, "%s must be at most %d", field, MaxPage)
	}
	return p, nil
}

// PageInfo is the GraphQL PageInfo object.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	start, end      *string
	// An in-memory page's cursors are key|id, encoded only when asked for
	// (a listing's variant pages rarely select them).
	idKey          string
	startID, endID uuid.UUID
	idCursors      bool
}

// SetCursors sets the cursors of the first and last edges.
func (p *PageInfo) SetCursors(start, end *string) { p.start, p.end = start, end }

// SetIDCursors makes the cursors EncodeIDCursor(key, start) and
// EncodeIDCursor(key, end), encoded when read.
func (p *PageInfo) SetIDCursors(key string, start, end uuid.UUID) {
	p.idKey, p.startID, p.endID, p.idCursors = key, start, end, true
}

// StartCursor is the first edge's cursor (GraphQL startCursor).
func (p *PageInfo) StartCursor() *string {
	if p.start == nil && p.idCursors {
		s := EncodeIDCursor(p.idKey, p.startID)
		return &s
	}
	return p.start
}

// EndCursor is the last edge's cursor (GraphQL endCursor).
func (p *PageInfo) EndCursor() *string {
	if p.end == nil && p.idCursors {
		s := EncodeIDCursor(p.idKey, p.endID)
		return &s
	}
	return p.end
}

// SliceWindow applies p to an in-memory ordered list of n items whose cursor
// for index i is cursorOf(i). It returns the half-open index window [lo, hi)
// and the PageInfo. Used for small per-parent lists (variants, images)
// already loaded in full through a dataloader.
func SliceWindow(p Page, n int, cursorOf func(i int) string, indexOf func(cursor string) (int, bool)) (lo, hi int, info PageInfo, err error) {
	lo, hi, info, err = window(p, n, indexOf)
	if err == nil && hi > lo {
		s, e := cursorOf(lo), cursorOf(hi-1)
		info.SetCursors(&s, &e)
	}
	return lo, hi, info, err
}

// window is the [lo, hi) window and page flags of p over n items, the
// after/before cursors located by indexOf; the cursors are the caller's.
func window(p Page, n int, indexOf func(cursor string) (int, bool)) (lo, hi int, info PageInfo, err error) {
	lo, hi = 0, n
	if p.After != "" {
		i, ok := indexOf(p.After)
		if !ok {
			return 0, 0, info, apperr.BadInput("after", "invalid cursor for this query")
		}
		lo = i + 1
	}
	if p.Before != "" {
		i, ok := indexOf(p.Before)
		if !ok {
			return 0, 0, info, apperr.BadInput("before", "invalid cursor for this query")
		}
		hi = i
	}
	if hi < lo {
		hi = lo
	}
	if p.Backward {
		if hi-lo > p.Limit {
			info.HasPreviousPage = true
			lo = hi - p.Limit
		}
		info.HasNextPage = hi < n && p.Before != ""
	} else {
		if hi-lo > p.Limit {
			info.HasNextPage = true
			hi = lo + p.Limit
		}
		info.HasPreviousPage = lo > 0 && p.After != ""
	}
	return lo, hi, info, nil
}

// IDWindow is SliceWindow for a list whose cursors are key|id (id(i) the
// id of item i): the after/before cursors are decoded once and looked up
// by id, and the page's cursors are encoded only when read.
func IDWindow(p Page, n int, key string, id func(i int) uuid.UUID) (lo, hi int, info PageInfo, err error) {
	lo, hi, info, err = window(p, n, func(c string) (int, bool) { return indexOfID(c, key, n, id) })
	if err == nil && hi > lo {
		info.SetIDCursors(key, id(lo), id(hi-1))
	}
	return lo, hi, info, err
}

func indexOfID(cursor, key string, n int, id func(int) uuid.UUID) (int, bool) {
	parts, err := DecodeCursor("after", cursor, key, 1)
	if err != nil {
		return 0, false
	}
	want, err := uuid.Parse(parts[0])
	if err != nil {
		return 0, false
	}
	for i := range n {
		if id(i) == want {
			return i, true
		}
	}
	return 0, false
}

// Nodes lists the nodes of a connection's edges (GraphQL `nodes`).
func Nodes[E, N any](edges []E, node func(*E) *N) []*N {
	out := make([]*N, len(edges))
	for i := range edges {
		out[i] = node(&edges[i])
	}
	return out
}

// Edge is one node of a Conn with its opaque cursor.
type Edge[N any] struct {
	Cursor string
	Node   N
}

// Conn is the one page shape services return for keyset-paginated lists
// (orders, customers, API keys); graph/ maps it mechanically onto the
// GraphQL connection types. The catalog's hot-path connection types have
// the same fields and are bound by gqlgen directly.
type Conn[N any] struct {
	Edges    []Edge[N]
	PageInfo PageInfo
}

// Nodes lists the page's nodes in order.
func (c Conn[N]) Nodes() []N {
	out := make([]N, len(c.Edges))
	for i := range c.Edges {
		out[i] = c.Edges[i].Node
	}
	return out
}

// ForwardConn builds a forward page from rows fetched with LIMIT limit+1
// (the extra row only says there is a next page). hadAfter reports whether
// the page started after a cursor.
func ForwardConn[N any](rows []N, limit int, hadAfter bool, cursor func(N) string) Conn[N] {
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	c := Conn[N]{Edges: make([]Edge[N], len(rows)), PageInfo: PageInfo{HasNextPage: more, HasPreviousPage: hadAfter}}
	for i, r := range rows {
		c.Edges[i] = Edge[N]{Cursor: cursor(r), Node: r}
	}
	if n := len(c.Edges); n > 0 {
		c.PageInfo.SetCursors(&c.Edges[0].Cursor, &c.Edges[n-1].Cursor)
	}
	return c
}

// IDCursor encodes the cursor of an id-ordered list under key.
func IDCursor(key string, id uuid.UUID) string { return EncodeIDCursor(key, id) }

// AfterID decodes p.After as an IDCursor of key: nil when the page starts
// at the beginning, BAD_USER_INPUT on "after" when it is not such a cursor.
func AfterID(p Page, key string) (*uuid.UUID, error) {
	if p.After == "" {
		return nil, nil
	}
	parts, err := DecodeCursor("after", p.After, key, 1)
	if err != nil {
		return nil, err
	}
	id, err := uuid.Parse(parts[0])
	if err != nil {
		return nil, apperr.BadInput("after", "invalid cursor for this query")
	}
	return &id, nil
}
