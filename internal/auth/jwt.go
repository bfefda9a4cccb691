package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"cartograph/internal/apperr"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Issuer and audience of every Cartograph session token.
const (
	TokenIssuer   = "cartograph"
	TokenAudience = "cartograph-api"
)

// Claims are the session token's claims. A token is bound to ONE shop.
type Claims struct {
	jwt.RegisteredClaims
	Shop   string   `json:"shop"`
	Typ    string   `json:"typ"` // "staff" or "customer"
	Role   string   `json:"role,omitempty"`
	Scopes []string `json:"scopes,omitempty"`
}

// Signer signs and verifies HS256 session tokens with a set of keys: the
// first signs, all verify (rotation: add a new key first, drop the old one
// after the longest token lifetime).
type Signer struct {
	keys   map[string][]byte
	signID string
	parser *jwt.Parser
}

// NewSigner parses "kid:secret,kid2:secret2" (secrets ≥ 32 bytes). An empty
// spec yields a random per-process key (development only: tokens die with
// the process and are not shared between instances).
func NewSigner(spec string) (*Signer, error) {
	s := &Signer{keys: map[string][]byte{}}
	if strings.TrimSpace(spec) == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		spec = "dev-" + hex.EncodeToString(b[:4]) + ":" + hex.EncodeToString(b)
	}
	for i, part := range strings.Split(spec, ",") {
		kid, secret, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || kid == "" || len(secret) < 32 {
			return nil, fmt.Errorf("JWT_KEYS: entry %d must be kid:secret with a secret of at least 32 bytes", i+1)
		}
		if strings.Contains(strings.ToLower(secret), "change-me") {
			return nil, fmt.Errorf("JWT_KEYS: entry %d is a published example secret; generate your own (e.g. openssl rand -hex 32)", i+1)
		}
		s.keys[kid] = []byte(secret)
		if i == 0 {
			s.signID = kid
		}
	}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(TokenIssuer),
		jwt.WithAudience(TokenAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(5*time.Second),
	)
	return s, nil
}

// Sign issues a token of typ for subject at shop, valid for ttl.
func (s *Signer) Sign(typ string, subject, shop uuid.UUID, role string, scopes []string, ttl time.Duration, now time.Time) (string, *Claims, error) {
	c := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    TokenIssuer,
			Subject:   subject.String(),
			Audience:  jwt.ClaimStrings{TokenAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid.Must(uuid.NewV7()).String(),
		},
		Shop: shop.String(), Typ: typ, Role: role, Scopes: scopes,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["kid"] = s.signID
	signed, err := t.SignedString(s.keys[s.signID])
	return signed, c, err
}

// Verify checks signature, algorithm, issuer, audience, expiry and issue
// time; any failure is UNAUTHENTICATED with a short reason.
func (s *Signer) Verify(token string) (*Claims, error) {
	c := &Claims{}
	_, err := s.parser.ParseWithClaims(token, c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		key, ok := s.keys[kid]
		if !ok {
			return nil, errors.New("unknown key id")
		}
		return key, nil
	})
	if err != nil {
		reason := "invalid session token"
		if errors.Is(err, jwt.ErrTokenExpired) {
			reason = "session token expired"
		}
		return nil, apperr.Wrap(err, apperr.Unauthenticated, "%s", reason)
	}
	if c.Typ != "staff" && c.Typ != "customer" {
		return nil, apperr.New(apperr.Unauthenticated, "invalid session token")
	}
	return c, nil
}
