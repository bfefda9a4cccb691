package cart

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cartograph/internal/apperr"
	"cartograph/internal/relay"
	"cartograph/internal/shop"

	"github.com/redis/go-redis/v9"
)

// Bounds on what a storefront may store on a cart (Shopify's limits).
const (
	MaxNoteLength      = 5000
	MaxAttributes      = 250
	MaxAttributeLength = 1000
	MaxDiscountCodes   = 25
	MaxCodeLength      = 255
)

const (
	fieldNote    = "m:note"
	fieldAttrs   = "m:attrs"
	fieldCodes   = "m:codes"
	fieldUpdated = "m:updated"
)

// Attribute is a key/value pair a storefront stores on a cart.
type Attribute struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Meta is what a cart stores besides its lines.
type Meta struct {
	Note       *string
	Attributes []Attribute
	// DiscountCodes are stored as entered; pricing says which apply.
	DiscountCodes []string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// Destination is where the cart ships (zero until the buyer says).
	Destination Destination
	// delivery is the delivery option selected, for its group.
	delivery selection
}

func metaOf(m map[string]string) Meta {
	var out Meta
	if n, ok := m[fieldNote]; ok {
		out.Note = &n
	}
	_ = json.Unmarshal([]byte(m[fieldAttrs]), &out.Attributes)
	_ = json.Unmarshal([]byte(m[fieldCodes]), &out.DiscountCodes)
	_ = json.Unmarshal([]byte(m[fieldDest]), &out.Destination)
	_ = json.Unmarshal([]byte(m[fieldDelivery]), &out.delivery)
	if s, err := strconv.ParseInt(m[fieldMade], 10, 64); err == nil {
		out.CreatedAt = time.Unix(s, 0).UTC()
	}
	out.UpdatedAt = out.CreatedAt
	if s, err := strconv.ParseInt(m[fieldUpdated], 10, 64); err == nil {
		out.UpdatedAt = time.Unix(s, 0).UTC()
	}
	return out
}

// normalizeLines maps line ids of cart tok (with or without their
// ?cart=<token> suffix) to plain CartLine ids; a line id of another cart
// is a user error. An update naming merchandiseId of another variant moves
// the line's quantity to that variant (Shopify's variant swap).
func normalizeLines(tok string, in []LineInput, byLine bool) ([]LineInput, []apperr.UserError) {
	if !byLine {
		return in, nil
	}
	var ues []apperr.UserError
	out := make([]LineInput, 0, len(in))
	for i, l := range in {
		field := []string{"lines", strconv.Itoa(i), "id"}
		id, q, found := strings.Cut(l.LineID, "?")
		if found && q != "cart="+tok {
			ues = append(ues, apperr.UserError{Field: field, Message: "the line does not belong to this cart", Code: "INVALID"})
			continue
		}
		l.LineID = id
		if l.MerchandiseID != "" {
			from, err1 := relay.ParseTypedID("id", "CartLine", id)
			to, err2 := relay.ParseTypedID("merchandiseId", "ProductVariant", l.MerchandiseID)
			if err1 == nil && err2 != nil {
				ues = append(ues, apperr.UserError{Field: []string{"lines", strconv.Itoa(i), "merchandiseId"}, Message: "invalid merchandise id", Code: "INVALID_MERCHANDISE_LINE"})
				continue
			}
			if err1 == nil && from != to {
				out = append(out, LineInput{LineID: id, Quantity: 0}, LineInput{LineID: relay.GlobalID("CartLine", to), Quantity: l.Quantity})
				continue
			}
		}
		out = append(out, l)
	}
	return out, ues
}

// SetNote sets the cart's note. MISSING_NOTE/NOTE_TOO_LONG user errors.
func (s *Service) SetNote(ctx context.Context, cartID, note string) (*Cart, []apperr.UserError, error) {
	if utf8.RuneCountInString(note) > MaxNoteLength {
		return nil, []apperr.UserError{{Field: []string{"note"}, Message: "the note is longer than " + strconv.Itoa(MaxNoteLength) + " characters", Code: "NOTE_TOO_LONG"}}, nil
	}
	return s.setMeta(ctx, cartID, fieldNote, note)
}

// SetAttributes replaces the cart's attributes (a later duplicate key
// wins). INVALID user errors for too many or too long attributes.
func (s *Service) SetAttributes(ctx context.Context, cartID string, attrs []Attribute) (*Cart, []apperr.UserError, error) {
	if len(attrs) > MaxAttributes {
		return nil, []apperr.UserError{{Field: []string{"attributes"}, Message: "at most " + strconv.Itoa(MaxAttributes) + " attributes", Code: "INVALID"}}, nil
	}
	var out []Attribute
	for i, a := range attrs {
		if a.Key == "" || len(a.Key) > MaxAttributeLength || len(a.Value) > MaxAttributeLength {
			return nil, []apperr.UserError{{Field: []string{"attributes", strconv.Itoa(i)}, Message: "attribute key must be 1 to 1000 and value at most 1000 characters", Code: "INVALID"}}, nil
		}
		replaced := false
		for j := range out {
			if out[j].Key == a.Key {
				out[j].Value, replaced = a.Value, true
			}
		}
		if !replaced {
			out = append(out, a)
		}
	}
	b, _ := json.Marshal(out)
	return s.setMeta(ctx, cartID, fieldAttrs, string(b))
}

// SetDiscountCodes replaces the cart's discount codes (deduplicated,
// case-insensitively). Every code is stored as entered; Price reports
// whether each applies and, if not, why (unknown, malformed, expired,
// exhausted codes are kept and reported not applicable). A code longer than
// MaxCodeLength is an INVALID user error and changes nothing.
func (s *Service) SetDiscountCodes(ctx context.Context, cartID string, codes []string) (*Cart, []apperr.UserError, error) {
	var out []string
	for i, c := range codes {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if len(c) > MaxCodeLength {
			return nil, []apperr.UserError{{Field: []string{"discountCodes", strconv.Itoa(i)}, Message: "discount code too long", Code: "INVALID"}}, nil
		}
		dup := false
		for _, o := range out {
			dup = dup || strings.EqualFold(o, c)
		}
		if !dup {
			out = append(out, c)
		}
	}
	if len(out) > MaxDiscountCodes {
		return nil, []apperr.UserError{{Field: []string{"discountCodes"}, Message: "at most " + strconv.Itoa(MaxDiscountCodes) + " discount codes", Code: "INVALID"}}, nil
	}
	b, _ := json.Marshal(out)
	return s.setMeta(ctx, cartID, fieldCodes, string(b))
}

// setMeta writes one metadata field of an existing cart and its update
// time, refreshing its expiry. NOT_FOUND for an unknown cart.
func (s *Service) setMeta(ctx context.Context, cartID, field, value string) (*Cart, []apperr.UserError, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	tok, err := ParseID("cartId", cartID)
	if err != nil {
		return nil, nil, err
	}
	k := key(sh.ID, tok)
	n, err := setMetaScript.Run(ctx, s.rdb, []string{k}, field, value, time.Now().Unix(), int(TTL/time.Second)).Int()
	if err != nil {
		return nil, nil, unavailable(err)
	}
	if n == 0 {
		return nil, nil, apperr.New(apperr.NotFound, "no such cart")
	}
	c, err := s.load(ctx, sh.ID, tok)
	return c, nil, err
}

// setMetaScript: KEYS[1] cart; ARGV[1] field, ARGV[2] value, ARGV[3] now
// (unix s), ARGV[4] ttl s. Returns 0 when the cart does not exist.
var setMetaScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], 'm:updated', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
`)
