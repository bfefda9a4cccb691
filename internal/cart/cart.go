// Package cart keeps storefront carts in Redis: one hash per cart
// (cart:{shop}:{token}) whose fields are variant ids and quantities, changed
// only by atomic Lua scripts (no read-modify-write races), expiring 7 days
// after the last write. A cart belongs to one shop: another shop's cart id
// is NOT_FOUND. Prices are never stored; checkout and reads price lines from
// the catalog's current prices.
package cart

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/catalog"
	"cartograph/internal/metrics"
	"cartograph/internal/relay"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// DefaultMaxLines is the default bound on lines per cart (as Shopify).
const DefaultMaxLines = 250

// TTL is how long an untouched cart lives.
const TTL = 7 * 24 * time.Hour

const (
	linePrefix = "l:"
	fieldBuyer = "m:buyer"
	fieldEmail = "m:email"
	fieldMade  = "m:created"
)

// apply: KEYS[1] cart; ARGV[1] mode add|set, ARGV[2] max, ARGV[3] ttl s,
// ARGV[4] must exist 1|0, ARGV[5] now (unix s), ARGV[6] max lines, then
// field/value pairs. All lines are checked before any is written: a batch
// is all-or-nothing. Returns {0} ok, {-1} no such cart, {-2, i, current}
// line i over max, {-3, lines} the cart would hold more than max lines.
var apply = redis.NewScript(`
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local max = tonumber(ARGV[2])
local new = {}
for i = 7, #ARGV, 2 do
  local f, v = ARGV[i], tonumber(ARGV[i + 1])
  local q = v
  if ARGV[1] == 'add' then
    q = (new[f] or tonumber(redis.call('HGET', KEYS[1], f)) or 0) + v
  end
  if q > max then return {-2, (i - 7) / 2, q - v} end
  new[f] = q
end
local count = 0
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 2) == 'l:' then count = count + 1 end
end
for f, q in pairs(new) do
  local had = redis.call('HEXISTS', KEYS[1], f) == 1
  if had and q <= 0 then count = count - 1 elseif not had and q > 0 then count = count + 1 end
end
if count > tonumber(ARGV[6]) then return {-3, count} end
for f, q in pairs(new) do
  if q <= 0 then redis.call('HDEL', KEYS[1], f) else redis.call('HSET', KEYS[1], f, q) end
end
redis.call('HSETNX', KEYS[1], 'm:created', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {0}
`)

// merge: KEYS[1] guest cart, KEYS[2] target cart; ARGV[1] max, ARGV[2] ttl,
// ARGV[3] max lines. Adds the guest's lines into the target (capped at max
// quantity; lines beyond max lines are dropped) and deletes the guest cart,
// atomically.
var merge = redis.NewScript(`
local lines = redis.call('HGETALL', KEYS[1])
local count = 0
for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do
  if string.sub(f, 1, 2) == 'l:' then count = count + 1 end
end
for i = 1, #lines, 2 do
  local f = lines[i]
  local fresh = redis.call('HEXISTS', KEYS[2], f) == 0
  if string.sub(f, 1, 2) == 'l:' and not (fresh and count >= tonumber(ARGV[3])) then
    if fresh then count = count + 1 end
    local q = (tonumber(redis.call('HGET', KEYS[2], f)) or 0) + tonumber(lines[i + 1])
    if q > tonumber(ARGV[1]) then q = tonumber(ARGV[1]) end
    redis.call('HSET', KEYS[2], f, q)
  end
end
redis.call('DEL', KEYS[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
`)

// Line is a cart line: a variant and a quantity.
type Line struct {
	VariantID uuid.UUID
	Quantity  int
}

// Cart is a cart as stored (no prices).
type Cart struct {
	Token      string
	ShopID     uuid.UUID
	Lines      []Line
	CustomerID *uuid.UUID
	Email      string
	// Meta holds the note, attributes, discount codes and timestamps.
	Meta Meta
}

// ID is the cart's global id.
func (c *Cart) ID() string { return "gid://cartograph/Cart/" + c.Token }

// LineID is a line's global id: unique per cart (Apollo-style normalized
// caches key lines by id) and stable across updates, in Shopify's form
// gid://cartograph/CartLine/<variant>?cart=<token>.
func LineID(token string, variant uuid.UUID) string {
	return relay.GlobalID("CartLine", variant) + "?cart=" + token
}

// Catalog is what the cart needs from the catalog (a *catalog.Service).
type Catalog interface {
	VariantsByIDs(ctx context.Context, ids []uuid.UUID) ([]*catalog.Variant, error)
	ProductsByIDs(ctx context.Context, ids []uuid.UUID) ([]*catalog.Product, error)
	CollectionIDsByProductIDs(ctx context.Context, ids []uuid.UUID) ([][]uuid.UUID, error)
}

// Service manages carts.
type Service struct {
	rdb     redis.UniversalClient
	catalog Catalog
	// MaxQuantity bounds a line's quantity.
	MaxQuantity int
	// MaxLines bounds the distinct lines of one cart (Shopify's 250; set
	// from CART_MAX_LINES). A change that would exceed it is refused with a
	// userError and leaves the cart unchanged.
	MaxLines int
	// baseDomain and checkoutTemplate build Cart.checkoutUrl.
	baseDomain, checkoutTemplate string
	// Pricing sources (UsePricing); nil: none.
	discounts Discounts
	shipping  Shipping
	taxes     Taxes
	markets   Markets
}

// New returns a cart service. checkoutTemplate is the default checkout URL
// ({host}, {token}, {cartId}); a shop's own template wins.
func New(rdb redis.UniversalClient, cat Catalog, maxQuantity int, baseDomain, checkoutTemplate string) *Service {
	return &Service{rdb: rdb, catalog: cat, MaxQuantity: maxQuantity, MaxLines: DefaultMaxLines, baseDomain: baseDomain, checkoutTemplate: checkoutTemplate}
}

// Cart keys carry the shop as a Redis Cluster hash tag ({shop}): the merge
// script and the customer pipeline touch two keys of one shop together, and
// a cluster accepts that only when they hash to one slot.
func key(shopID uuid.UUID, token string) string { return "cart:{" + shopID.String() + "}:" + token }

func customerKey(shopID, customerID uuid.UUID) string {
	return "custcart:{" + shopID.String() + "}:" + customerID.String()
}

// ParseID validates a cart id; malformed → BAD_USER_INPUT on field.
// Accepted forms: gid://cartograph/Cart/<token> and Shopify's
// gid://shopify/Cart/<token> (storefronts such as Hydrogen keep only the
// token and rebuild the id), each with or without a ?key=… suffix.
func ParseID(field, id string) (string, error) {
	tok, ok := strings.CutPrefix(id, "gid://cartograph/Cart/")
	if !ok {
		tok, ok = strings.CutPrefix(id, "gid://shopify/Cart/")
	}
	if t, q, found := strings.Cut(tok, "?"); found {
		tok = t
		ok = ok && strings.HasPrefix(q, "key=") && len(q) <= 128
	}
	if ok && len(tok) == 32 {
		if _, err := hex.DecodeString(tok); err == nil {
			return tok, nil
		}
	}
	return "", apperr.BadInput(field, "%q is not a valid cart id", id)
}

// LineInput is a requested line change.
type LineInput struct {
	MerchandiseID string
	LineID        string
	Quantity      int
}

func (s *Service) resolveLines(ctx context.Context, in []LineInput, byLine bool, allowZero bool) ([]Line, []apperr.UserError, error) {
	if len(in) > s.maxLines() {
		return nil, []apperr.UserError{{Field: []string{"lines"}, Message: "a cart holds at most " + strconv.Itoa(s.maxLines()) + " lines", Code: "INVALID"}}, nil
	}
	var ues []apperr.UserError
	lines := make([]Line, 0, len(in))
	ids := make([]uuid.UUID, 0, len(in))
	var pos []int
	for i, l := range in {
		field := []string{"lines", strconv.Itoa(i)}
		var vid uuid.UUID
		var err error
		if byLine {
			vid, err = relay.ParseTypedID("id", "CartLine", l.LineID)
		} else {
			vid, err = relay.ParseTypedID("merchandiseId", "ProductVariant", l.MerchandiseID)
		}
		if err != nil {
			ues = append(ues, apperr.UserError{Field: append(field, "merchandiseId"), Message: "invalid id", Code: "INVALID"})
			continue
		}
		if l.Quantity < 0 || (!allowZero && l.Quantity == 0) || l.Quantity > s.MaxQuantity {
			ues = append(ues, apperr.UserError{Field: append(field, "quantity"), Message: "quantity must be between 1 and " + strconv.Itoa(s.MaxQuantity), Code: "INVALID"})
			continue
		}
		lines = append(lines, Line{VariantID: vid, Quantity: l.Quantity})
		if l.Quantity > 0 {
			ids = append(ids, vid)
			pos = append(pos, i)
		}
	}
	if len(ues) > 0 || len(ids) == 0 {
		return lines, ues, nil
	}
	vs, err := s.catalog.VariantsByIDs(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	for i, v := range vs {
		if v == nil { // unknown, another shop's, or of a draft/archived product
			ues = append(ues, apperr.UserError{Field: []string{"lines", strconv.Itoa(pos[i]), "merchandiseId"}, Message: "merchandise does not exist or is not for sale", Code: "INVALID_MERCHANDISE_LINE"})
		}
	}
	return lines, ues, nil
}

func (s *Service) run(ctx context.Context, k, mode string, mustExist bool, lines []Line) ([]apperr.UserError, error) {
	exist := "0"
	if mustExist {
		exist = "1"
	}
	args := []any{mode, s.MaxQuantity, int(TTL / time.Second), exist, time.Now().Unix(), s.maxLines()}
	for _, l := range lines {
		args = append(args, linePrefix+l.VariantID.String(), l.Quantity)
	}
	res, err := apply.Run(ctx, s.rdb, []string{k}, args...).Int64Slice()
	if err != nil {
		return nil, unavailable(err)
	}
	switch res[0] {
	case -1:
		return nil, apperr.New(apperr.NotFound, "no such cart")
	case -3:
		return []apperr.UserError{{Field: []string{"lines"}, Message: "a cart holds at most " + strconv.Itoa(s.maxLines()) + " lines", Code: "INVALID"}}, nil
	case -2:
		return []apperr.UserError{{Field: []string{"lines", strconv.FormatInt(res[1], 10), "quantity"},
			Message: "quantity would exceed " + strconv.Itoa(s.MaxQuantity), Code: "INVALID"}}, nil
	}
	return nil, nil
}

// Create makes a cart for the request's shop with lines; a logged-in
// customer becomes its buyer.
func (s *Service) Create(ctx context.Context, in []LineInput, email string) (*Cart, []apperr.UserError, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	lines, ues, err := s.resolveLines(ctx, in, false, false)
	if err != nil || len(ues) > 0 {
		return nil, ues, err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, nil, apperr.Wrap(err, apperr.Internal, "cart id")
	}
	tok := hex.EncodeToString(b)
	if ues, err := s.run(ctx, key(sh.ID, tok), "add", false, lines); err != nil || len(ues) > 0 {
		return nil, ues, err
	}
	metrics.CartCreated()
	if email != "" {
		if err := s.rdb.HSet(ctx, key(sh.ID, tok), fieldEmail, email).Err(); err != nil {
			return nil, nil, unavailable(err)
		}
	}
	if own := auth.OwnCustomer(ctx); own != nil {
		return s.attach(ctx, sh.ID, tok, *own)
	}
	return s.Get(ctx, "gid://cartograph/Cart/"+tok)
}

// AddLines adds quantities (merging lines of the same variant).
func (s *Service) AddLines(ctx context.Context, cartID string, in []LineInput) (*Cart, []apperr.UserError, error) {
	return s.change(ctx, cartID, in, "add", false, false)
}

// UpdateLines sets quantities of existing lines (0 removes the line).
func (s *Service) UpdateLines(ctx context.Context, cartID string, in []LineInput) (*Cart, []apperr.UserError, error) {
	return s.change(ctx, cartID, in, "set", true, true)
}

// RemoveLines removes lines.
func (s *Service) RemoveLines(ctx context.Context, cartID string, lineIDs []string) (*Cart, []apperr.UserError, error) {
	in := make([]LineInput, len(lineIDs))
	for i, id := range lineIDs {
		in[i] = LineInput{LineID: id}
	}
	return s.change(ctx, cartID, in, "set", true, true)
}

func (s *Service) change(ctx context.Context, cartID string, in []LineInput, mode string, byLine, allowZero bool) (*Cart, []apperr.UserError, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	tok, err := ParseID("cartId", cartID)
	if err != nil {
		return nil, nil, err
	}
	in, ues := normalizeLines(tok, in, byLine)
	if len(ues) > 0 {
		return nil, ues, nil
	}
	if n, err := s.rdb.Exists(ctx, key(sh.ID, tok)).Result(); err != nil {
		return nil, nil, unavailable(err)
	} else if n == 0 {
		return nil, nil, apperr.New(apperr.NotFound, "no such cart")
	}
	lines, ues, err := s.resolveLines(ctx, in, byLine, allowZero)
	if err != nil || len(ues) > 0 {
		return nil, ues, err
	}
	if ues, err := s.run(ctx, key(sh.ID, tok), mode, true, lines); err != nil || len(ues) > 0 {
		return nil, ues, err
	}
	return s.Get(ctx, cartID)
}

// Get returns the cart, or NOT_FOUND (also for another shop's cart).
func (s *Service) Get(ctx context.Context, cartID string) (*Cart, []apperr.UserError, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	tok, err := ParseID("id", cartID)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.load(ctx, sh.ID, tok)
	return c, nil, err
}

func (s *Service) load(ctx context.Context, shopID uuid.UUID, tok string) (*Cart, error) {
	m, err := s.rdb.HGetAll(ctx, key(shopID, tok)).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	if len(m) == 0 {
		return nil, apperr.New(apperr.NotFound, "no such cart")
	}
	c := &Cart{Token: tok, ShopID: shopID, Email: m[fieldEmail], Meta: metaOf(m)}
	for f, v := range m {
		if id, ok := strings.CutPrefix(f, linePrefix); ok {
			vid, err1 := uuid.Parse(id)
			q, err2 := strconv.Atoi(v)
			if err1 == nil && err2 == nil && q > 0 {
				c.Lines = append(c.Lines, Line{VariantID: vid, Quantity: q})
			}
		}
	}
	if b := m[fieldBuyer]; b != "" {
		if id, err := uuid.Parse(b); err == nil {
			c.CustomerID = &id
		}
	}
	// Stable order: by variant id (lines are keyed by variant); uuids
	// compare bytewise in the same order as their text.
	slices.SortFunc(c.Lines, func(a, b Line) int { return bytes.Compare(a.VariantID[:], b.VariantID[:]) })
	return c, nil
}

// BuyerIdentityUpdate records the buyer's email and, for a logged-in
// customer, attaches the cart: if the customer already has a cart, this
// guest cart's lines merge into it and that cart is returned.
func (s *Service) BuyerIdentityUpdate(ctx context.Context, cartID, email string) (*Cart, []apperr.UserError, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	tok, err := ParseID("cartId", cartID)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.load(ctx, sh.ID, tok); err != nil {
		return nil, nil, err
	}
	if email != "" {
		if err := s.rdb.HSet(ctx, key(sh.ID, tok), fieldEmail, email).Err(); err != nil {
			return nil, nil, unavailable(err)
		}
	}
	if own := auth.OwnCustomer(ctx); own != nil {
		return s.attach(ctx, sh.ID, tok, *own)
	}
	return s.Get(ctx, cartID)
}

func (s *Service) attach(ctx context.Context, shopID uuid.UUID, tok string, customer uuid.UUID) (*Cart, []apperr.UserError, error) {
	ck := customerKey(shopID, customer)
	existing, err := s.rdb.Get(ctx, ck).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, unavailable(err)
	}
	target := tok
	if existing != "" && existing != tok {
		n, err := s.rdb.Exists(ctx, key(shopID, existing)).Result()
		if err != nil {
			return nil, nil, unavailable(err)
		}
		if n == 1 {
			if err := merge.Run(ctx, s.rdb, []string{key(shopID, tok), key(shopID, existing)}, s.MaxQuantity, int(TTL/time.Second), s.maxLines()).Err(); err != nil {
				return nil, nil, unavailable(err)
			}
			target = existing
		}
	}
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, key(shopID, target), fieldBuyer, customer.String())
	pipe.Set(ctx, ck, target, TTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, nil, unavailable(err)
	}
	c, err := s.load(ctx, shopID, target)
	return c, nil, err
}

// Clear deletes a cart (after its order is paid).
func (s *Service) Clear(ctx context.Context, shopID uuid.UUID, cartID string) error {
	tok, err := ParseID("cartId", cartID)
	if err != nil {
		return err
	}
	return s.rdb.Del(ctx, key(shopID, tok)).Err()
}

// Load returns a cart by id for checkout (shop from context).
func (s *Service) Load(ctx context.Context, cartID string) (*Cart, error) {
	c, _, err := s.Get(ctx, cartID)
	return c, err
}

func (s *Service) maxLines() int {
	if s.MaxLines > 0 {
		return s.MaxLines
	}
	return DefaultMaxLines
}

// unavailable reports a cart store (Redis) failure as SERVICE_UNAVAILABLE:
// the client should retry later, and catalog reads keep serving meanwhile.
func unavailable(err error) error {
	e := apperr.Wrap(err, apperr.ServiceUnavailable, "the cart service is temporarily unavailable; retry shortly")
	e.Extensions = map[string]any{"retryAfter": 5}
	return e
}
