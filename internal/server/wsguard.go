package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"

	"github.com/redis/go-redis/v9"
)

// Close codes of the graphql-transport-ws protocol beyond 4403 (see
// subscriptions.go). graphql-ws clients treat all of them as fatal, so
// none makes a client reconnect in a loop.
const (
	closeUnauthorized     = 4401 // subscribe before connection_ack; no credentials
	closeInitTimeout      = 4408 // no connection_init in time
	closeDuplicateID      = 4409 // a subscribe reusing a live id
	closeTooManyInits     = 4429 // a second connection_init (the spec's meaning)
	closeTooManyConns     = 4429 // over the per-principal connection cap
	codeTooManySubscribes = apperr.Throttled
)

// wsPolicy holds the websocket limits (config WS_*) and the count of open
// connections per principal (across instances, see connCounter).
type wsPolicy struct {
	gateway     *auth.Gateway
	initTimeout time.Duration
	revalidate  time.Duration
	maxSubs     int
	conns       *connCounter
}

func newWSPolicy(g *auth.Gateway, rdb redis.UniversalClient, log *slog.Logger, initTimeout, revalidate time.Duration, maxSubs, maxConns int) *wsPolicy {
	// Zero values (a Config not made by config.Load) get config's defaults.
	if initTimeout <= 0 {
		initTimeout = 10 * time.Second
	}
	if revalidate <= 0 {
		revalidate = 30 * time.Second
	}
	if maxSubs <= 0 {
		maxSubs = 100
	}
	if maxConns <= 0 {
		maxConns = 20
	}
	// A lease outlives two missed renewals (one per revalidation).
	return &wsPolicy{gateway: g, initTimeout: initTimeout, revalidate: revalidate, maxSubs: maxSubs,
		conns: newConnCounter(rdb, maxConns, 3*revalidate, log)}
}

// wsSession is one websocket connection's admission state: its place in
// its principal's connection count, the credentials' expiry and their
// periodic revalidation. Timers, not goroutines: an idle connection costs
// none.
type wsSession struct {
	policy *wsPolicy

	mu       sync.Mutex
	conn     *wsConnection
	attached bool
	ended    bool
	holder   *connLease // the connection's place in its principal's count
	creds    auth.Credentials
	expiry   *time.Timer
	reval    *time.Timer
}

type wsSessionKey struct{}

// attach hands the session to the upgraded connection, which ends it.
func (s *wsSession) attach(c *wsConnection) {
	s.mu.Lock()
	s.conn, s.attached = c, true
	s.mu.Unlock()
}

// endUnlessAttached ends a session whose request never became a
// connection (the upgrade failed).
func (s *wsSession) endUnlessAttached() {
	s.mu.Lock()
	attached := s.attached
	s.mu.Unlock()
	if !attached {
		s.end()
	}
}

// end runs once, when the connection is gone.
func (s *wsSession) end() {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	for _, t := range []*time.Timer{s.expiry, s.reval} {
		if t != nil {
			t.Stop()
		}
	}
	holder := s.holder
	s.conn = nil
	s.mu.Unlock()
	if holder != nil {
		s.policy.conns.release(holder)
	}
}

// admit runs after connection_init authenticated p: it applies the
// credential rules beyond authentication. A non-zero code refuses the
// connection.
func (s *wsSession) admit(creds auth.Credentials, p *auth.Principal) (int, string) {
	ref := p.Ref()
	if ref == "anonymous" {
		return closeUnauthorized, "Unauthorized: connection_init must carry an API key or a session token"
	}
	lease, ok := s.policy.conns.acquire(context.Background(), ref)
	if !ok {
		return closeTooManyConns, "Too many connections for these credentials"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		go s.policy.conns.release(lease)
		return closeTooManyConns, "connection closed"
	}
	s.holder, s.creds = lease, creds
	if !p.ExpiresAt.IsZero() {
		s.expiry = time.AfterFunc(time.Until(p.ExpiresAt), func() { s.close(closeForbidden, "Forbidden: credentials expired") })
	}
	s.reval = time.AfterFunc(s.policy.revalidate, s.revalidate)
	return 0, ""
}

// revalidate authenticates the connection's credentials again (every
// interval): a revoked key, a logged-out customer session or a removed
// staff member closes the connection with 4403.
func (s *wsSession) revalidate() {
	s.mu.Lock()
	creds, lease, ended := s.creds, s.holder, s.ended
	s.mu.Unlock()
	if ended {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err := s.policy.gateway.Authenticate(ctx, creds)
	s.policy.conns.renew(ctx, lease)
	cancel()
	switch apperr.CodeOf(err) {
	case apperr.Unauthenticated, apperr.Forbidden, apperr.ShopNotFound:
		s.close(closeForbidden, "Forbidden: credentials no longer valid")
		return
	}
	s.mu.Lock()
	if !s.ended {
		s.reval.Reset(s.policy.revalidate)
	}
	s.mu.Unlock()
}

func (s *wsSession) close(code int, reason string) {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		c.closeWith(code, reason)
	}
}
