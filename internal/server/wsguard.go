package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/redis/go-redis/v9"
)

// Close codes of the graphql-transport-ws protocol that gqlgen's transport
// does not send itself. graphql-ws clients treat all of them (and 4403) as
// fatal, so none makes a client reconnect in a loop.
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

// wsSession is one websocket connection's server-side state, shared by the
// upgrade handler, the guarded connection and connection_init.
type wsSession struct {
	policy *wsPolicy
	conn   *guardConn
	done   chan struct{}

	mu     sync.Mutex
	holder *connLease // the connection's place in its principal's count
	timer  *time.Timer
}

type wsSessionKey struct{}

// end runs when the connection's handler returns.
func (s *wsSession) end() {
	close(s.done)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.holder != nil {
		s.policy.conns.release(s.holder)
	}
}

// admit runs after connection_init authenticated p: it applies the
// credential rules gqlgen's transport does not know. A non-zero code
// refuses the connection.
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
	s.holder = lease
	if !p.ExpiresAt.IsZero() {
		s.timer = time.AfterFunc(time.Until(p.ExpiresAt), func() { s.close(closeForbidden, "Forbidden: credentials expired") })
	}
	s.mu.Unlock()
	go s.revalidate(creds, lease)
	return 0, ""
}

// revalidate authenticates the connection's credentials again every
// interval: a revoked key, a logged-out customer session or a removed staff
// member closes the connection with 4403.
func (s *wsSession) revalidate(creds auth.Credentials, lease *connLease) {
	t := time.NewTicker(s.policy.revalidate)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
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
	}
}

func (s *wsSession) close(code int, reason string) {
	if s.conn != nil {
		s.conn.closeWith(code, reason)
	}
}

// guardedWebsocket wraps gqlgen's websocket implementation with the
// protocol rules its transport lacks: 4408 when no connection_init arrives
// in time, 4401 for a subscribe before it, 4409 for a subscribe reusing a
// live id, 4429 for a second connection_init, and the per-connection
// subscription cap (an error message for the extra subscription; the
// connection and its other subscriptions stay).
type guardedWebsocket struct {
	inner  transport.WebsocketImplementation
	policy *wsPolicy
}

func (g guardedWebsocket) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	c, err := g.inner.Accept(w, r, o)
	if err != nil {
		return nil, err
	}
	gc := &guardConn{inner: c, maxSubs: g.policy.maxSubs, active: map[string]bool{}, closing: map[string]chan struct{}{}}
	if s, ok := r.Context().Value(wsSessionKey{}).(*wsSession); ok {
		s.conn = gc
	}
	gc.initTimer = time.AfterFunc(g.policy.initTimeout, func() {
		gc.mu.Lock()
		inited := gc.inited
		gc.mu.Unlock()
		if !inited {
			gc.closeWith(closeInitTimeout, "Connection initialisation timeout")
		}
	})
	return gc, nil
}

type guardConn struct {
	inner     transport.WebsocketConn
	maxSubs   int
	initTimer *time.Timer

	mu     sync.Mutex
	inited bool
	closed bool
	active map[string]bool
	// closing holds ids the client completed whose server side has not
	// finished yet (gqlgen still writes their final complete): their
	// messages are dropped, and a subscribe reusing the id waits for it.
	closing map[string]chan struct{}
}

var (
	_ transport.WebsocketReadLimiter   = (*guardConn)(nil)
	_ transport.WebsocketReadDeadliner = (*guardConn)(nil)
)

type wsEnvelope struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// NextReader hands gqlgen the client's next message after applying the
// protocol rules to it.
func (c *guardConn) NextReader() (int, io.Reader, error) {
	for {
		typ, r, err := c.inner.NextReader()
		if err != nil {
			return typ, r, err
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return typ, nil, err
		}
		var m wsEnvelope
		if json.Unmarshal(data, &m) != nil {
			return typ, bytes.NewReader(data), nil // gqlgen answers malformed JSON
		}
		if m.Type == "subscribe" || m.Type == "start" {
			c.awaitTeardown(m.ID)
		}
		code, reason, refuse := c.admit(m)
		switch {
		case code != 0:
			c.closeWith(code, reason)
			return typ, nil, transport.ErrWebsocketClosed
		case refuse != "":
			_ = c.inner.WriteJSON(map[string]any{"id": m.ID, "type": "error", "payload": []map[string]any{
				{"message": refuse, "extensions": map[string]any{"code": string(codeTooManySubscribes)}}}})
			continue
		}
		return typ, bytes.NewReader(data), nil
	}
}

func (c *guardConn) admit(m wsEnvelope) (code int, reason, refuse string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m.Type {
	case "connection_init":
		if c.inited {
			return closeTooManyInits, "Too many initialisation requests", ""
		}
		c.inited = true
		c.initTimer.Stop()
	case "subscribe", "start":
		switch {
		case !c.inited:
			return closeUnauthorized, "Unauthorized", ""
		case c.active[m.ID]:
			return closeDuplicateID, "Subscriber for " + truncate(m.ID, 64) + " already exists", ""
		case len(c.active) >= c.maxSubs:
			return 0, "", "too many subscriptions on this connection; complete one first or open another connection"
		}
		c.active[m.ID] = true
	case "complete", "stop":
		if c.active[m.ID] && c.closing[m.ID] == nil {
			c.closing[m.ID] = make(chan struct{})
		}
	}
	return 0, "", ""
}

// awaitTeardown waits (briefly) until a completed subscription with this id
// has finished on the server, so a reused id cannot receive the old one's
// final messages.
func (c *guardConn) awaitTeardown(id string) {
	c.mu.Lock()
	ch := c.closing[id]
	c.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
	}
}

// WriteJSON forgets a subscription id once the server completes or fails
// it, and drops messages of subscriptions the client completed (the
// protocol allows none after the client's complete).
func (c *guardConn) WriteJSON(v any) error {
	m := envelopeOf(v)
	if m.ID != "" {
		c.mu.Lock()
		ch := c.closing[m.ID]
		if m.Type == "complete" || m.Type == "error" {
			delete(c.active, m.ID)
			if ch != nil {
				delete(c.closing, m.ID)
				close(ch)
			}
		}
		c.mu.Unlock()
		if ch != nil {
			return nil // the client completed it: nothing more for this id
		}
	}
	return c.inner.WriteJSON(v)
}

// envelopeOf reads the type and id of an outgoing gqlgen message (its
// exported Type and ID fields) without encoding it twice: every event to
// every subscriber passes here.
func envelopeOf(v any) wsEnvelope {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return wsEnvelope{}
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return wsEnvelope{}
	}
	var m wsEnvelope
	if f := rv.FieldByName("Type"); f.IsValid() && f.Kind() == reflect.String {
		m.Type = f.String()
	}
	if f := rv.FieldByName("ID"); f.IsValid() && f.Kind() == reflect.String {
		m.ID = f.String()
	}
	return m
}

// closeWith closes the connection with a code, once.
func (c *guardConn) closeWith(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	_ = c.inner.WriteClose(code, reason)
}

func (c *guardConn) WriteClose(code int, reason string) error {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	if already {
		return nil
	}
	return c.inner.WriteClose(code, reason)
}

func (c *guardConn) Close() error {
	c.initTimer.Stop()
	return c.inner.Close()
}

func (c *guardConn) Subprotocol() string { return c.inner.Subprotocol() }

func (c *guardConn) SetReadLimit(n int64) {
	if l, ok := c.inner.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(n)
	}
}

func (c *guardConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.inner.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}
