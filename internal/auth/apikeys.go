package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"
	"cartograph/internal/relay"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// API key format: {pk|sk}_{shop handle}_{64 hex chars = 256 random bits}.
// Only the SHA-256 of the whole key is stored; the key is shown once.
const keySecretHex = 64

// KeyCacheTTL bounds how long a verified key is trusted without going back to
// PostgreSQL. Revocation and expiry therefore take effect within this time on
// every instance, without any cross-instance messaging.
const KeyCacheTTL = time.Second

// NewKeySecret returns a fresh key for shop handle of kind ("public"/"secret").
func NewKeySecret(kind, shopHandle string) (string, error) {
	b := make([]byte, keySecretHex/2)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	prefix := "pk_"
	if kind == "secret" {
		prefix = "sk_"
	}
	return prefix + shopHandle + "_" + hex.EncodeToString(b), nil
}

// HashKey is the stored form of a key.
func HashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// parseKey checks the shape of a presented key without touching storage.
func parseKey(key string) (kind string, err error) {
	var rest string
	switch {
	case strings.HasPrefix(key, "pk_"):
		kind, rest = "public", key[3:]
	case strings.HasPrefix(key, "sk_"):
		kind, rest = "secret", key[3:]
	default:
		return "", apperr.New(apperr.Unauthenticated, "malformed API key: must start with pk_ or sk_")
	}
	i := strings.LastIndexByte(rest, '_')
	if i <= 0 || len(rest)-i-1 != keySecretHex {
		return "", apperr.New(apperr.Unauthenticated, "malformed API key: wrong length")
	}
	if _, err := hex.DecodeString(rest[i+1:]); err != nil {
		return "", apperr.New(apperr.Unauthenticated, "malformed API key")
	}
	return kind, nil
}

// maxKeyMisses bounds the negative key cache; KeyMissTTL is how long an
// unknown key is remembered (a key is random and secret, so nobody can
// present it before it exists: a long negative TTL is safe).
const (
	maxKeyMisses = 10000
	KeyMissTTL   = 30 * time.Second
)

type cachedKey struct {
	key     *Key
	expires time.Time
}

// Keys verifies presented API keys against PostgreSQL with a 1-second cache
// and records last use off the request path (flushed in batches).
type Keys struct {
	owner *pgxpool.Pool // app pool; global index read plainly
	mu    sync.Mutex
	cache map[[32]byte]cachedKey
	// misses remembers unknown keys apart from cache, bounded, so a flood
	// of random keys costs SQL once per key and evicts only other misses.
	misses *lru.Cache[[32]byte, time.Time]
	used   map[uuid.UUID]map[uuid.UUID]time.Time // shop → key → last use
	now    func() time.Time
}

// NewKeys returns a verifier over the application pool.
func NewKeys(db *pgxpool.Pool) *Keys {
	misses, _ := lru.New[[32]byte, time.Time](maxKeyMisses)
	return &Keys{owner: db, cache: map[[32]byte]cachedKey{}, misses: misses, used: map[uuid.UUID]map[uuid.UUID]time.Time{}, now: time.Now}
}

// Verify returns the live key row for a presented key, or UNAUTHENTICATED
// saying why (malformed, unknown, revoked, expired).
func (k *Keys) Verify(ctx context.Context, presented string) (*Key, error) {
	kind, err := parseKey(presented)
	if err != nil {
		return nil, err
	}
	var h [32]byte
	copy(h[:], HashKey(presented))
	now := k.now()
	k.mu.Lock()
	c, ok := k.cache[h]
	k.mu.Unlock()
	var row *Key
	if ok && now.Before(c.expires) {
		row = c.key
	} else if until, miss := k.misses.Get(h); miss && now.Before(until) {
		row = nil
	} else {
		row, err = k.load(ctx, h[:])
		if err != nil {
			return nil, err
		}
		if row == nil {
			k.misses.Add(h, now.Add(KeyMissTTL))
			return nil, apperr.New(apperr.Unauthenticated, "unknown API key")
		}
		k.mu.Lock()
		if len(k.cache) > 50000 {
			k.cache = map[[32]byte]cachedKey{}
		}
		k.cache[h] = cachedKey{key: row, expires: now.Add(KeyCacheTTL)}
		k.mu.Unlock()
	}
	switch {
	case row == nil:
		return nil, apperr.New(apperr.Unauthenticated, "unknown API key")
	case row.Kind != kind:
		return nil, apperr.New(apperr.Unauthenticated, "unknown API key")
	case row.RevokedAt != nil:
		return nil, apperr.New(apperr.Unauthenticated, "API key has been revoked")
	case row.ExpiresAt != nil && !now.Before(*row.ExpiresAt):
		return nil, apperr.New(apperr.Unauthenticated, "API key has expired")
	}
	k.markUsed(row.ShopID, row.ID, now)
	return row, nil
}

func (k *Keys) load(ctx context.Context, hash []byte) (*Key, error) {
	idx, err := dbq.New(k.owner).APIKeyIndexLookup(ctx, hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, pg.MapError(err)
	}
	tctx := pg.WithShopID(ctx, idx.ShopID)
	r, err := dbq.New(pg.Tenant{Pool: k.owner}).APIKeyByID(tctx, dbq.APIKeyByIDParams{ShopID: idx.ShopID, ID: idx.KeyID})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, pg.MapError(err)
	}
	key := Key(r)
	return &key, nil
}

// Key is an API key as the rest of Cartograph sees it: never its hash.
// Its fields mirror the store's row (a converted dbq row), so a column
// change fails to compile here instead of reaching the API silently.
type Key struct {
	ID            uuid.UUID
	ShopID        uuid.UUID
	Kind          string
	Name          string
	DisplayPrefix string
	Scopes        []string
	RateLimit     int32
	ExpiresAt     *time.Time
	RevokedAt     *time.Time
	CreatedBy     *uuid.UUID
	CreatedAt     time.Time
	LastUsedAt    *time.Time
	// CostLimit is the key's own query-cost bucket (nil: the default).
	CostLimit *int32
}

// NodeID is the key's global ID.
func (k *Key) NodeID() string { return relay.GlobalID("ApiKey", k.ID) }

// IsNode marks Key as a Node.
func (*Key) IsNode() {}

// Forget drops a key from this instance's cache (called on revoke, so the
// revoking instance stops accepting it at once; others within KeyCacheTTL).
func (k *Keys) Forget(hash []byte) {
	var h [32]byte
	copy(h[:], hash)
	k.mu.Lock()
	delete(k.cache, h)
	k.mu.Unlock()
}

func (k *Keys) markUsed(shop, key uuid.UUID, t time.Time) {
	k.mu.Lock()
	m := k.used[shop]
	if m == nil {
		m = map[uuid.UUID]time.Time{}
		k.used[shop] = m
	}
	m[key] = t
	k.mu.Unlock()
}

// Flush writes recorded last-use times, one statement per shop.
func (k *Keys) Flush(ctx context.Context) error {
	k.mu.Lock()
	used := k.used
	k.used = map[uuid.UUID]map[uuid.UUID]time.Time{}
	k.mu.Unlock()
	var errs []error
	for shop, m := range used {
		p := dbq.APIKeysTouchParams{ShopID: shop}
		for id, t := range m {
			p.Ids = append(p.Ids, id)
			p.Times = append(p.Times, t)
		}
		if err := dbq.New(pg.Tenant{Pool: k.owner}).APIKeysTouch(pg.WithShopID(ctx, shop), p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RunFlusher flushes last-use times every interval until ctx ends.
func (k *Keys) RunFlusher(ctx context.Context, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := k.Flush(context.WithoutCancel(ctx)); err != nil && onErr != nil {
				onErr(err)
			}
			return
		case <-t.C:
			if err := k.Flush(ctx); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}
