package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/metrics"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters (RFC 9106 second recommendation, lighter memory so a
// 2-core box can serve logins): 3 passes, 64 MiB, 2 lanes, 32-byte key.
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
)

// hashing bounds argon2id work: each hash takes 64 MiB and a core for
// tens of milliseconds, so at most slots run at once and at most queue
// more wait; beyond that a login or registration is refused THROTTLED
// instead of growing memory without bound.
type hashing struct {
	slots   chan struct{}
	waiting atomic.Int64
	queue   int64
}

var passwordGate atomic.Pointer[hashing]

func init() { SetPasswordConcurrency(runtime.NumCPU(), 2*runtime.NumCPU()) }

// SetPasswordConcurrency sets how many argon2id hashes may run at once
// (PASSWORD_CONCURRENCY) and how many more may wait (PASSWORD_QUEUE).
// Called once at start-up by the server.
func SetPasswordConcurrency(n, queue int) {
	if n < 1 {
		n = 1
	}
	passwordGate.Store(&hashing{slots: make(chan struct{}, n), queue: int64(max(queue, 0))})
}

// acquire takes a hashing slot, waiting in the bounded queue; it returns
// THROTTLED when the queue is full or ctx ends first.
func acquire(ctx context.Context) (func(), error) {
	g := passwordGate.Load()
	select {
	case g.slots <- struct{}{}:
		return g.done, nil
	default:
	}
	if g.waiting.Add(1) > g.queue {
		g.waiting.Add(-1)
		return nil, throttledHash()
	}
	defer g.waiting.Add(-1)
	select {
	case g.slots <- struct{}{}:
		return g.done, nil
	case <-ctx.Done():
		return nil, throttledHash()
	}
}

// done releases a hashing slot. When it was the last hash running and
// none waits, the garbage collector runs (in the background, at most once
// a second): a hash's 64 MiB is live when a collection sets the heap goal,
// which then stays inflated by that much until the next one, and the
// process grows up to it with ordinary garbage (an instance that served a
// staff login held ~50 MB more for its next thousand websocket
// connections). Collecting once the memory is garbage resets the goal to
// the real live heap; it costs about a millisecond, against the hash's
// tens.
func (g *hashing) done() {
	<-g.slots
	if len(g.slots) == 0 && g.waiting.Load() == 0 {
		go collectHashMemory()
	}
}

var lastHashGC atomic.Int64 // unix nanoseconds of the last collection

func collectHashMemory() {
	now, last := time.Now().UnixNano(), lastHashGC.Load()
	if now-last < int64(time.Second) || !lastHashGC.CompareAndSwap(last, now) {
		return
	}
	runtime.GC()
}

func throttledHash() error {
	metrics.RateLimited("password")
	e := apperr.New(apperr.Throttled, "too many logins in progress; retry after 1s")
	e.Extensions = map[string]any{"retryAfter": 1}
	return e
}

// VerifyPassword is CheckPassword under the hashing bound: THROTTLED when
// too many hashes are running and waiting.
func VerifyPassword(ctx context.Context, hash, pw string) (bool, error) {
	release, err := acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return CheckPassword(hash, pw), nil
}

// NormalizeEmail is the one form of an email address used for login
// limits, lookups and storage: surrounding white space trimmed and
// lower-cased with Unicode simple case folding (strings.ToLower). No other
// Unicode normalisation is applied (NFC/NFKC would merge addresses that
// mail servers treat as distinct).
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// HashPassword returns an argon2id PHC string for pw, under the hashing
// bound (THROTTLED when it is exhausted).
func HashPassword(pw string) (string, error) {
	release, err := acquire(context.Background())
	if err != nil {
		return "", err
	}
	defer release()
	return hashPassword(pw)
}

func hashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches the PHC hash (constant time).
func CheckPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var mem, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, mem, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked when the user does not exist, so a login for an
// unknown email costs the same time as one with a wrong password.
// It is made on first use, not at start-up: argon2id costs 64 MiB and tens
// of milliseconds, and most processes (migrate, seed, keys) never need it.
var dummyHash = sync.OnceValue(func() string {
	h, _ := hashPassword("cartograph-timing-equaliser")
	return h
})
