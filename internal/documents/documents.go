// Package documents owns a shop's API policy and its trusted documents.
//
// A trusted document is a GraphQL document a shop has registered ahead of
// time (a persisted-query manifest built from its storefront's code),
// addressed by the sha256 of its text. Any client may send the hash alone
// instead of the text (`documentId: "sha256:<hex>"`, or Apollo's
// `extensions.persistedQuery.sha256Hash`). A shop that turns on
// trusted-documents-only mode accepts from public callers (anonymous,
// pk_ keys, customers) nothing else: an unregistered document is refused
// with DOCUMENT_NOT_TRUSTED before it is parsed, validated or priced —
// the strongest protection a storefront can opt into. Staff and secret
// keys (admin tooling, back ends) are not restricted.
//
// The policy also carries the shop's own query-cost limits (null: the
// gateway's defaults).
//
// Reads are cached per instance: a shop's policy and the set of its
// registered hashes for PolicyTTL (so an unregistered document costs a
// hash and a map lookup, never a statement), a document's text for
// DocumentTTL. A change made through one instance reaches the others
// within PolicyTTL; the instance that made it sees it at once.
package documents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"
	"cartograph/internal/relay"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Cache lifetimes and bounds.
const (
	PolicyTTL   = 5 * time.Second
	DocumentTTL = 10 * time.Minute
	// MaxBody is the largest document a shop may register (bytes).
	MaxBody = 64 << 10
	// MaxPerCall bounds one registration.
	MaxPerCall = 500
	// MaxPerShop bounds what a shop may keep registered.
	MaxPerShop = 5000
)

// Code is the error code of a refused untrusted document.
const Code apperr.Code = "DOCUMENT_NOT_TRUSTED"

// Policy is a shop's API policy. Nil limits mean the gateway's defaults.
type Policy struct {
	TrustedDocumentsOnly bool
	MaxQueryCost         *int
	CostBucketMax        *int
	CostRestoreRate      *int
	// AllowedOrigins are the browser origins the shop admits (CORS) on
	// its own host, besides the gateway's ALLOWED_ORIGINS. In SetPolicy,
	// nil leaves the stored list unchanged and an empty slice clears it.
	AllowedOrigins []string
	UpdatedAt      *time.Time
}

// MaxAllowedOrigins bounds a shop's CORS origin list.
const MaxAllowedOrigins = 50

// NormalizeOrigin checks a CORS origin as a shop declares it and returns
// its canonical form: "*", or scheme://host[:port] with scheme http or
// https, in lower case, with no user info, path, query or fragment, and
// without the default port. Browsers send Origin in exactly this form.
func NormalizeOrigin(o string) (string, bool) {
	o = strings.TrimSpace(o)
	if o == "*" {
		return o, true
	}
	u, err := url.Parse(strings.TrimSuffix(o, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || strings.HasSuffix(u.Host, ":") {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.ContainsAny(host, "*%") {
		return "", false
	}
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", false
		}
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	return u.Scheme + "://" + host, true
}

func normalizeOrigins(in []string) ([]string, []apperr.UserError) {
	if in == nil {
		return nil, nil
	}
	if len(in) > MaxAllowedOrigins {
		return nil, []apperr.UserError{{Field: []string{"input", "allowedOrigins"},
			Message: "at most " + itoa(MaxAllowedOrigins) + " origins", Code: "TOO_MANY"}}
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	var ues []apperr.UserError
	for i, o := range in {
		n, ok := NormalizeOrigin(o)
		if !ok {
			ues = append(ues, apperr.UserError{Field: []string{"input", "allowedOrigins", itoa(i)},
				Message: "an origin is \"*\" or scheme://host[:port] with scheme http or https and no path", Code: "INVALID"})
			continue
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, ues
}

// Document describes a registered document (its text is not listed).
type Document struct {
	Hash      string
	Name      *string
	Size      int
	CreatedAt time.Time
}

// ID is the document's id in the trusted-documents form, "sha256:<hex>".
func (d *Document) ID() string { return "sha256:" + d.Hash }

// Input is a document to register: its text and an optional name. When
// Hash is given it must be the sha256 of Body (a manifest's key).
type Input struct {
	Body string
	Name *string
	Hash *string
}

type docKey struct {
	shop uuid.UUID
	hash string
}

// state is what a request needs of its shop, cached for PolicyTTL: the
// policy and the set of registered hashes, so an unregistered document or
// id is refused without a statement.
type state struct {
	policy Policy
	hashes map[string]struct{}
}

// Service reads and manages policies and documents.
type Service struct {
	q      *dbq.Queries
	db     *pgxpool.Pool
	states *expirable.LRU[uuid.UUID, *state]
	docs   *expirable.LRU[docKey, string]
	// Validate, when set, checks a document before it is registered (the
	// server parses and validates it against the schema and applies the
	// document limits): a document that could never run is refused.
	Validate func(body string) error
}

// New returns a service over the application pool.
func New(db *pgxpool.Pool) *Service {
	return &Service{
		q: dbq.New(pg.Tenant{Pool: db}), db: db,
		states: expirable.NewLRU[uuid.UUID, *state](10000, nil, PolicyTTL),
		docs:   expirable.NewLRU[docKey, string](20000, nil, DocumentTTL),
	}
}

func intp(v *int32) *int {
	if v == nil {
		return nil
	}
	i := int(*v)
	return &i
}

func int32p(v *int) *int32 {
	if v == nil {
		return nil
	}
	i := int32(*v)
	return &i
}

func fromRow(r dbq.ApiPolicy) Policy {
	t := r.UpdatedAt
	return Policy{TrustedDocumentsOnly: r.TrustedDocumentsOnly, MaxQueryCost: intp(r.MaxQueryCost),
		CostBucketMax: intp(r.CostBucketMax), CostRestoreRate: intp(r.CostRestoreRate), AllowedOrigins: r.AllowedOrigins, UpdatedAt: &t}
}

// stateOf loads (or returns the cached) policy and hash set of shopID:
// two indexed statements per shop per PolicyTTL.
func (s *Service) stateOf(ctx context.Context, shopID uuid.UUID) (*state, error) {
	if st, ok := s.states.Get(shopID); ok {
		return st, nil
	}
	ctx = pg.WithShopID(ctx, shopID)
	st := &state{}
	r, err := s.q.APIPolicy(ctx, shopID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		st.policy = fromRow(r)
	}
	hashes, err := s.q.TrustedDocumentHashes(ctx, shopID)
	if err != nil {
		return nil, err
	}
	st.hashes = make(map[string]struct{}, len(hashes))
	for _, h := range hashes {
		st.hashes[h] = struct{}{}
	}
	s.states.Add(shopID, st)
	return st, nil
}

// PolicyOf returns the policy of shopID (the zero Policy when it has
// none), cached for PolicyTTL.
func (s *Service) PolicyOf(ctx context.Context, shopID uuid.UUID) (Policy, error) {
	st, err := s.stateOf(ctx, shopID)
	if err != nil {
		return Policy{}, err
	}
	return st.policy, nil
}

// AllowsOrigin reports whether shopID admits the browser origin (its
// AllowedOrigins; "*" admits any), from the cached policy.
func (s *Service) AllowsOrigin(ctx context.Context, shopID uuid.UUID, origin string) (bool, error) {
	st, err := s.stateOf(ctx, shopID)
	if err != nil {
		return false, err
	}
	origin = strings.ToLower(origin)
	for _, o := range st.policy.AllowedOrigins {
		if o == "*" || o == origin {
			return true, nil
		}
	}
	return false, nil
}

// Lookup returns the body of the document registered under hash (lower
// case hex sha256) for shopID. A hash the shop has not registered costs
// no statement.
func (s *Service) Lookup(ctx context.Context, shopID uuid.UUID, hash string) (string, bool, error) {
	st, err := s.stateOf(ctx, shopID)
	if err != nil {
		return "", false, err
	}
	if _, ok := st.hashes[hash]; !ok {
		return "", false, nil
	}
	k := docKey{shopID, hash}
	if b, ok := s.docs.Get(k); ok {
		return b, true, nil
	}
	b, err := s.q.TrustedDocument(pg.WithShopID(ctx, shopID), dbq.TrustedDocumentParams{ShopID: shopID, Hash: hash})
	switch {
	case errors.Is(err, pgx.ErrNoRows): // removed meanwhile
		return "", false, nil
	case err != nil:
		return "", false, err
	}
	s.docs.Add(k, b)
	return b, true, nil
}

// Hash is the lower-case hex sha256 of a document's text.
func Hash(body string) string {
	h := sha256.Sum256([]byte(body))
	return hex.EncodeToString(h[:])
}

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ParseID accepts "sha256:<hex>" or a bare hex hash and returns the hex.
func ParseID(id string) (string, bool) {
	h := strings.ToLower(strings.TrimPrefix(id, "sha256:"))
	return h, validHash(h)
}

func manage(ctx context.Context) (*shop.Shop, error) {
	if err := auth.Require(ctx, auth.ScopeAPIKeysManage); err != nil {
		return nil, err
	}
	return shop.FromContext(ctx)
}

// Policy returns the shop's policy for staff (apikeys:manage).
func (s *Service) Policy(ctx context.Context) (Policy, error) {
	sh, err := manage(ctx)
	if err != nil {
		return Policy{}, err
	}
	s.states.Remove(sh.ID) // staff read the stored value, not a cached one
	return s.PolicyOf(ctx, sh.ID)
}

// SetPolicy replaces the shop's policy (apikeys:manage). Limits must be
// positive. Turning trusted-documents-only on with no document registered
// is refused: it would lock every storefront out.
func (s *Service) SetPolicy(ctx context.Context, p Policy) (Policy, []apperr.UserError, error) {
	sh, err := manage(ctx)
	if err != nil {
		return Policy{}, nil, err
	}
	var ues []apperr.UserError
	for _, f := range []struct {
		name string
		v    *int
	}{{"maxQueryCost", p.MaxQueryCost}, {"costBucketMax", p.CostBucketMax}, {"costRestoreRate", p.CostRestoreRate}} {
		if f.v != nil && (*f.v <= 0 || *f.v > 1<<30) {
			ues = append(ues, apperr.UserError{Field: []string{"input", f.name}, Message: f.name + " must be between 1 and 1073741824", Code: "INVALID"})
		}
	}
	origins, oues := normalizeOrigins(p.AllowedOrigins)
	ues = append(ues, oues...)
	if len(ues) > 0 {
		return Policy{}, ues, nil
	}
	var out Policy
	err = pg.WithTenantTx(ctx, s.db, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		if p.TrustedDocumentsOnly {
			page, err := q.TrustedDocumentsPage(ctx, dbq.TrustedDocumentsPageParams{ShopID: sh.ID, Lim: 1})
			if err != nil {
				return err
			}
			if len(page) == 0 {
				ues = append(ues, apperr.UserError{Field: []string{"input", "trustedDocumentsOnly"},
					Message: "register the storefront's documents before accepting only trusted documents", Code: "NO_TRUSTED_DOCUMENTS"})
				return nil
			}
		}
		r, err := q.APIPolicyUpsert(ctx, dbq.APIPolicyUpsertParams{ShopID: sh.ID, TrustedDocumentsOnly: p.TrustedDocumentsOnly,
			MaxQueryCost: int32p(p.MaxQueryCost), CostBucketMax: int32p(p.CostBucketMax), CostRestoreRate: int32p(p.CostRestoreRate), AllowedOrigins: origins})
		out = fromRow(r)
		return err
	})
	if err != nil || len(ues) > 0 {
		return Policy{}, ues, err
	}
	s.states.Remove(sh.ID)
	return out, nil, nil
}

// Register stores documents for the shop (apikeys:manage); registering a
// document again is a no-op (a new name replaces the old). Every document
// is checked first — text, size, hash, Validate — and nothing is stored
// unless all pass.
func (s *Service) Register(ctx context.Context, in []Input) ([]*Document, []apperr.UserError, error) {
	sh, err := manage(ctx)
	if err != nil {
		return nil, nil, err
	}
	if len(in) == 0 || len(in) > MaxPerCall {
		return nil, []apperr.UserError{{Field: []string{"documents"}, Message: "register between 1 and 500 documents per call", Code: "INVALID"}}, nil
	}
	var ues []apperr.UserError
	hashes, bodies, names := make([]string, len(in)), make([]string, len(in)), make([]string, len(in))
	for i, d := range in {
		field := []string{"documents", itoa(i)}
		bad := func(msg, code string, sub ...string) {
			ues = append(ues, apperr.UserError{Field: append(field, sub...), Message: msg, Code: code})
		}
		switch {
		case strings.TrimSpace(d.Body) == "":
			bad("document is blank", "BLANK", "body")
			continue
		case len(d.Body) > MaxBody:
			bad("document is larger than 65536 bytes", "TOO_LONG", "body")
			continue
		case !utf8.ValidString(d.Body) || strings.ContainsRune(d.Body, 0):
			bad("document is not valid UTF-8 text", "INVALID", "body")
			continue
		}
		h := Hash(d.Body)
		if d.Hash != nil {
			if given, ok := ParseID(*d.Hash); !ok || given != h {
				bad("hash is not the sha256 of the document", "HASH_MISMATCH", "hash")
				continue
			}
		}
		if d.Name != nil && (len(*d.Name) > 255 || !utf8.ValidString(*d.Name) || strings.ContainsRune(*d.Name, 0)) {
			bad("name must be valid text of at most 255 bytes", "INVALID", "name")
			continue
		}
		if s.Validate != nil {
			if err := s.Validate(d.Body); err != nil {
				bad("document does not run against this API: "+err.Error(), "INVALID_DOCUMENT", "body")
				continue
			}
		}
		hashes[i], bodies[i] = h, d.Body
		if d.Name != nil {
			names[i] = *d.Name
		}
	}
	if len(ues) > 0 {
		return nil, ues, nil
	}
	err = pg.WithTenantTx(ctx, s.db, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		if _, err := q.TrustedDocumentsInsert(ctx, dbq.TrustedDocumentsInsertParams{ShopID: sh.ID, Hashes: hashes, Bodies: bodies, Names: names}); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM trusted_documents WHERE shop_id = $1", sh.ID).Scan(&n); err != nil {
			return err
		}
		if n > MaxPerShop {
			ues = append(ues, apperr.UserError{Field: []string{"documents"}, Message: "a shop keeps at most 5000 trusted documents; remove unused ones first", Code: "LIMIT_EXCEEDED"})
			return errRollback
		}
		return nil
	})
	if errors.Is(err, errRollback) {
		return nil, ues, nil
	}
	if err != nil {
		return nil, nil, err
	}
	out := make([]*Document, len(in))
	now := time.Now()
	s.states.Remove(sh.ID)
	for i := range in {
		s.docs.Add(docKey{sh.ID, hashes[i]}, bodies[i])
		out[i] = &Document{Hash: hashes[i], Name: in[i].Name, Size: len(bodies[i]), CreatedAt: now}
	}
	return out, nil, nil
}

var errRollback = errors.New("rollback")

// Remove deletes registered documents by id (apikeys:manage) and returns
// how many existed. Other instances stop serving them within DocumentTTL
// unless the shop is in trusted-only mode, where the removal is what
// matters: see the package comment.
func (s *Service) Remove(ctx context.Context, ids []string) (int, []apperr.UserError, error) {
	sh, err := manage(ctx)
	if err != nil {
		return 0, nil, err
	}
	hashes := make([]string, 0, len(ids))
	for i, id := range ids {
		h, ok := ParseID(id)
		if !ok {
			return 0, []apperr.UserError{{Field: []string{"ids", itoa(i)}, Message: "id must be sha256:<64 hex digits>", Code: "INVALID"}}, nil
		}
		hashes = append(hashes, h)
	}
	n, err := s.q.TrustedDocumentsDelete(ctx, dbq.TrustedDocumentsDeleteParams{ShopID: sh.ID, Hashes: hashes})
	if err != nil {
		return 0, nil, err
	}
	s.states.Remove(sh.ID)
	for _, h := range hashes {
		s.docs.Remove(docKey{sh.ID, h})
	}
	return int(n), nil, nil
}

// List pages through the shop's documents by hash (apikeys:manage).
func (s *Service) List(ctx context.Context, p relay.Page) (relay.Conn[*Document], error) {
	sh, err := manage(ctx)
	if err != nil {
		return relay.Conn[*Document]{}, err
	}
	var from string
	if p.After != "" {
		parts, err := relay.DecodeCursor("after", p.After, "doc", 1)
		if err != nil {
			return relay.Conn[*Document]{}, err
		}
		from = parts[0]
	}
	rows, err := s.q.TrustedDocumentsPage(ctx, dbq.TrustedDocumentsPageParams{ShopID: sh.ID, After: from, Lim: int32(p.Limit + 1)})
	if err != nil {
		return relay.Conn[*Document]{}, err
	}
	docs := make([]*Document, len(rows))
	for i, r := range rows {
		docs[i] = &Document{Hash: r.Hash, Name: r.Name, Size: int(r.Size), CreatedAt: r.CreatedAt}
	}
	return relay.ForwardConn(docs, p.Limit, p.After != "", func(d *Document) string { return relay.EncodeCursor("doc", d.Hash) }), nil
}

func itoa(i int) string { return strconv.Itoa(i) }
