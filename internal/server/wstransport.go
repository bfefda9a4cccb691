package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/cost"
	"cartograph/internal/events"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// wsTransport serves GraphQL subscriptions over websockets: the
// graphql-transport-ws protocol and the legacy graphql-ws one
// (subscriptions-transport-ws), driving gqlgen's executor directly.
//
// It replaces gqlgen's transport.Websocket for memory: that one parks
// about six goroutines per connection (the HTTP handler, keep-alive,
// ping, close-on-cancel, one per subscription, the websocket library's)
// plus per-connection buffers, ~117 KB of RSS per idle subscription. Here
// a connection is one goroutine blocked reading its socket (started
// fresh, so its stack stays small; anything deep runs on a short-lived
// goroutine), timers instead of ticker goroutines, and no goroutine per
// subscription: the events hub hands each event to the subscription
// (events.Pusher) on the goroutine that has it, which runs gqlgen's
// response handler and writes the frame under a write deadline. The HTTP
// handler returns right after the upgrade, so net/http's request, buffers
// and goroutine are freed.
//
// Protocol rules (beyond gqlgen's): 4408 when no connection_init arrives
// in time, 4401 for a subscribe before connection_ack, 4409 for a
// subscribe reusing a live id, 4429 for a second connection_init, 4400
// for a message graphql-transport-ws does not know; the per-connection
// subscription cap answers the extra subscription with an error message
// (code THROTTLED) and keeps the connection. Authentication is
// connection_init's (wsAuthenticate); a refusal closes with 4401/4403/4429.
type wsTransport struct {
	policy *wsPolicy
	log    *slog.Logger
	// ping is the graphql-transport-ws ping interval; a client that sends
	// nothing for two intervals is dropped. keepAlive is the legacy
	// protocol's "ka" interval.
	ping, keepAlive time.Duration
	readLimit       int
	writeTimeout    time.Duration
}

var _ graphql.Transport = (*wsTransport)(nil)

const (
	protoTransportWS = "graphql-transport-ws"
	protoGraphQLWS   = "graphql-ws"

	closeBadMessage = 4400
)

// The server's order of preference when a client offers both (as gqlgen's).
var wsProtocols = []string{protoGraphQLWS, protoTransportWS}

func (t *wsTransport) Supports(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

func (t *wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	sess, _ := r.Context().Value(wsSessionKey{}).(*wsSession)
	if sess == nil {
		writeError(w, http.StatusInternalServerError, apperr.Internal, "websocket session missing", nil)
		return
	}
	fc, proto, err := wsUpgrade(w, r, wsProtocols, t.readLimit, t.writeTimeout)
	if err != nil {
		return
	}
	if proto == "" {
		proto = protoGraphQLWS // gqlgen's default for clients that name none
	}
	// The connection outlives the request: keep its values (credentials,
	// loaders, request id), not its cancellation.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	c := &wsConnection{t: t, exec: exec, ws: fc, legacy: proto == protoGraphQLWS, sess: sess, ctx: ctx, cancel: cancel, active: map[string]*wsSub{}}
	if v := r.Header.Get(cost.CostOnlyHeader); v != "" {
		c.headers = http.Header{cost.CostOnlyHeader: {v}}
	}
	sess.attach(c)
	c.initTimer = time.AfterFunc(t.policy.initTimeout, func() {
		c.mu.Lock()
		inited := c.state != wsStateNew
		c.mu.Unlock()
		if !inited {
			c.closeWith(closeInitTimeout, "Connection initialisation timeout")
		}
	})
	go c.readLoop()
}

type wsState int

const (
	wsStateNew  wsState = iota
	wsStateInit         // connection_init received, being authenticated
	wsStateAcked
	wsStateClosing
)

// wsConnection is one websocket connection's GraphQL state.
type wsConnection struct {
	t       *wsTransport
	exec    graphql.GraphExecutor
	ws      *wsFrameConn
	legacy  bool
	sess    *wsSession
	headers http.Header

	// ctx is the connection's: after connection_init it carries the
	// principal and shop. cancel ends every subscription.
	ctx    context.Context
	cancel context.CancelFunc

	initTimer *time.Timer
	pingTimer *time.Timer
	// silent counts ping intervals without a frame from the client.
	silent atomic.Int32

	mu     sync.Mutex
	state  wsState
	active map[string]*wsSub
}

// wsSub is one subscription (operation) of a connection.
type wsSub struct {
	c      *wsConnection
	id     string
	idJSON []byte
	ctx    context.Context
	cancel context.CancelFunc
	// pushed: the events hub pushes to it (events.Pusher); otherwise a
	// goroutine pulls from gqlgen's response handler.
	pushed atomic.Bool

	mu        sync.Mutex // held while the operation is dispatched
	responses graphql.ResponseHandler
	rctx      context.Context
	// dead: completed (by either side); nothing more is written for it.
	// Guarded by c.ws.writeMu.
	dead bool
}

// wsMessage is a client message of either protocol.
type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// readLoop reads the client's messages until the connection ends. It is
// the connection's only long-lived goroutine, and stays shallow: message
// handlers that authenticate or execute run on a goroutine of their own.
func (c *wsConnection) readLoop() {
	defer c.teardown()
	defer c.recoverPanic("websocket reader")
	alive := func() { c.silent.Store(0) }
	for {
		op, data, err := c.ws.readMessage(alive)
		if err != nil {
			var ce *wsCloseError
			var pe *wsProtocolError
			switch {
			case errors.As(err, &ce):
				// The closing handshake's answer (ignored after ours): the
				// client's code, or 1000 for an empty close body (1005 is
				// not for the wire; readMessage lets no other invalid code
				// through, this keeps any off it too).
				code := ce.code
				if !wsValidCloseCode(code) {
					code = wsCloseNormal
				}
				_ = c.ws.writeClose(code, "")
			case errors.As(err, &pe):
				_ = c.ws.writeClose(pe.code, pe.msg)
			}
			return
		}
		alive()
		if c.ws.closeWasSent() {
			continue // draining until the client's close frame
		}
		if op != wsOpText && op != wsOpBinary {
			continue
		}
		c.handle(data)
	}
}

// run runs f on a fresh goroutine and waits: f may go deep (auth, SQL),
// and a goroutine that exits gives its grown stack back, whereas the
// reader's would stay grown for the life of the connection.
func (c *wsConnection) run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer c.recoverPanic("websocket connection_init")
		f()
	}()
	<-done
}

// recoverPanic turns a panic on one of the connection's goroutines into a
// 1011 close (the HTTP handler's recovery no longer covers them).
func (c *wsConnection) recoverPanic(where string) {
	if r := recover(); r != nil {
		c.t.log.Error(where+" panic", "panic", r)
		c.closeWith(closeInternal, "internal error")
	}
}

func (c *wsConnection) handle(data []byte) {
	var m wsMessage
	if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
		c.badMessage("invalid json")
		return
	}
	switch m.Type {
	case "connection_init":
		c.mu.Lock()
		st := c.state
		if st == wsStateNew {
			c.state = wsStateInit
		}
		c.mu.Unlock()
		if st != wsStateNew {
			c.closeWith(closeTooManyInits, "Too many initialisation requests")
			return
		}
		c.initTimer.Stop()
		c.run(func() { c.connectionInit(m.Payload) })
	case "subscribe", "start":
		if c.legacy != (m.Type == "start") {
			c.badMessage("unexpected message " + m.Type)
			return
		}
		c.subscribe(m.ID, m.Payload)
	case "complete", "stop":
		if c.legacy != (m.Type == "stop") {
			c.badMessage("unexpected message " + m.Type)
			return
		}
		c.mu.Lock()
		s := c.active[m.ID]
		delete(c.active, m.ID)
		c.mu.Unlock()
		if s != nil {
			// The protocol allows nothing more for this id: not even the
			// server's complete.
			c.ws.writeMu.Lock()
			s.dead = true
			c.ws.writeMu.Unlock()
			s.cancel()
		}
	case "ping":
		if c.legacy {
			c.badMessage("unexpected message ping")
			return
		}
		c.write(nil, "pong", m.Payload)
	case "pong":
		if c.legacy {
			c.badMessage("unexpected message pong")
		}
	case "connection_terminate":
		if !c.legacy {
			c.badMessage("unexpected message connection_terminate")
			return
		}
		c.closeWith(wsCloseNormal, "terminated")
	default:
		c.badMessage("unexpected message " + m.Type)
	}
}

// badMessage ends a connection that sent something its protocol does not
// allow: 4400 in graphql-transport-ws; a connection_error and 1002 in the
// legacy protocol (as gqlgen did).
func (c *wsConnection) badMessage(msg string) {
	if c.legacy {
		c.connectionError(msg)
		c.closeWith(wsCloseProtocolError, msg)
		return
	}
	c.closeWith(closeBadMessage, "Invalid message received")
}

func (c *wsConnection) connectionError(msg string) {
	if c.legacy {
		b, _ := json.Marshal(&gqlerror.Error{Message: msg})
		c.write(nil, "connection_error", b)
	}
}

// connectionInit authenticates the connection (wsAuthenticate) and acks it,
// or closes it with the refusal's code.
func (c *wsConnection) connectionInit(payload json.RawMessage) {
	var p map[string]any
	if len(payload) > 0 && !bytes.Equal(payload, []byte("null")) {
		if err := json.Unmarshal(payload, &p); err != nil {
			c.connectionError("invalid json")
			c.closeWith(wsCloseProtocolError, "decoding error")
			return
		}
	}
	ctx, code, reason, err := wsAuthenticate(c.t.policy.gateway, c.ctx, c.sess, p)
	if err != nil {
		c.connectionError(err.Error())
		c.closeWith(code, reason)
		return
	}
	c.mu.Lock()
	if c.state != wsStateInit {
		c.mu.Unlock()
		return // closed meanwhile
	}
	c.ctx = ctx
	c.state = wsStateAcked
	c.mu.Unlock()
	c.write(nil, "connection_ack", nil)
	if c.legacy {
		c.write(nil, "ka", nil)
	}
	c.mu.Lock()
	switch {
	case c.state != wsStateAcked:
	case c.legacy && c.t.keepAlive > 0:
		c.pingTimer = time.AfterFunc(c.t.keepAlive, c.keepAliveTick)
	case !c.legacy && c.t.ping > 0:
		c.pingTimer = time.AfterFunc(c.t.ping, c.pingTick)
	}
	c.mu.Unlock()
}

// resetPing re-arms the keep-alive timer unless the connection is closing.
func (c *wsConnection) resetPing(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == wsStateAcked && c.pingTimer != nil {
		c.pingTimer.Reset(d)
	}
}

// pingTick sends a graphql-transport-ws ping; a client silent for two
// intervals (no pong, nothing else) is dropped without a close frame.
func (c *wsConnection) pingTick() {
	if c.silent.Add(1) > 2 {
		_ = c.ws.nc.Close()
		return
	}
	if c.write(nil, "ping", nil) {
		c.resetPing(c.t.ping)
	}
}

func (c *wsConnection) keepAliveTick() {
	if c.write(nil, "ka", nil) {
		c.resetPing(c.t.keepAlive)
	}
}

// subscribe applies the connection's rules to a subscribe/start and runs
// the operation.
func (c *wsConnection) subscribe(id string, payload json.RawMessage) {
	c.mu.Lock()
	st, dup, n := c.state, c.active[id] != nil, len(c.active)
	var s *wsSub
	if st == wsStateAcked && !dup && n < c.t.policy.maxSubs {
		s = &wsSub{c: c, id: id}
		s.idJSON, _ = json.Marshal(id)
		s.ctx, s.cancel = context.WithCancel(c.ctx)
		c.active[id] = s
	}
	c.mu.Unlock()
	switch {
	case st == wsStateClosing:
		return
	case st != wsStateAcked:
		c.closeWith(closeUnauthorized, "Unauthorized")
		return
	case dup:
		c.closeWith(closeDuplicateID, "Subscriber for "+truncate(id, 64)+" already exists")
		return
	case s == nil:
		idJSON, _ := json.Marshal(id)
		b, _ := json.Marshal([]map[string]any{{"message": "too many subscriptions on this connection; complete one first or open another connection",
			"extensions": map[string]any{"code": string(codeTooManySubscribes)}}})
		c.write(idJSON, "error", b)
		return
	}
	start := graphql.Now()
	go s.start(payload, start)
}

// start prepares and dispatches the operation. A subscription the events
// hub pushes to is left to it; anything else (queries, errors, other
// streams) is pulled here until it ends.
func (s *wsSub) start(payload json.RawMessage, start time.Time) {
	c := s.c
	defer func() {
		if r := recover(); r != nil {
			c.t.log.Error("websocket operation panic", "panic", r)
			s.fail(gqlerror.List{{Message: "internal system error"}})
		}
	}()
	ctx := graphql.StartOperationTrace(s.ctx)
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(params); err != nil {
		s.fail(gqlerror.List{{Message: "invalid json"}})
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	params.Headers = c.headers
	rc, errs := c.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			s.fail(resp.Errors)
			return
		}
		s.next(&graphql.Response{Errors: errs})
		s.finish()
		return
	}
	ctx = graphql.WithOperationContext(ctx, rc)
	ctx = events.WithPusher(ctx, s)
	responses, rctx := s.dispatch(ctx, rc)
	if s.pushed.Load() {
		return
	}
	for {
		resp := responses(rctx)
		if resp == nil {
			break
		}
		s.next(resp)
	}
	s.finish()
}

// dispatch runs the operation (the resolver subscribes) holding s.mu, so
// a Push from the events hub waits for the handler it needs.
func (s *wsSub) dispatch(ctx context.Context, rc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responses, s.rctx = s.c.exec.DispatchOperation(ctx, rc)
	return s.responses, s.rctx
}

// Bind implements events.Pusher: the hub will push to s.
func (s *wsSub) Bind() { s.pushed.Store(true) }

// Push implements events.Pusher: the subscription's channel holds one value
// (or was closed); gqlgen's response handler takes it, and the response is
// written on the caller's goroutine.
func (s *wsSub) Push() {
	s.mu.Lock() // waits until the dispatch has returned the handler
	responses, rctx := s.responses, s.rctx
	s.mu.Unlock()
	if responses == nil {
		return // the dispatch failed (it panicked; start reported it)
	}
	defer func() {
		if r := recover(); r != nil {
			s.c.t.log.Error("websocket subscription panic", "panic", r)
			s.fail(gqlerror.List{{Message: "internal system error"}})
		}
	}()
	resp := responses(rctx)
	if resp == nil {
		s.finish()
		return
	}
	s.next(resp)
}

// next writes one result.
func (s *wsSub) next(resp *graphql.Response) {
	typ := "next"
	if s.c.legacy {
		typ = "data"
	}
	buf := wsBuffer()
	*buf = appendEnvelope(*buf, s.idJSON, typ)
	*buf = appendResponse(*buf, resp)
	*buf = append(*buf, '}')
	s.c.writeSub(s, buf, false)
}

// finish ends the subscription from the server's side with complete.
func (s *wsSub) finish() {
	buf := wsBuffer()
	*buf = appendEnvelope(*buf, s.idJSON, "complete")
	*buf = (*buf)[:len(*buf)-len(`,"payload":`)]
	*buf = append(*buf, '}')
	s.c.writeSub(s, buf, true)
}

// fail ends the subscription with an error message (graphql-transport-ws
// sends no complete after it; the legacy protocol does).
func (s *wsSub) fail(errs gqlerror.List) {
	b, err := json.Marshal(errs)
	if err != nil {
		b = []byte(`[{"message":"internal system error"}]`)
	}
	buf := wsBuffer()
	*buf = appendEnvelope(*buf, s.idJSON, "error")
	*buf = append(*buf, b...)
	*buf = append(*buf, '}')
	s.c.writeSub(s, buf, !s.c.legacy)
	if s.c.legacy {
		s.finish()
	}
}

// writeSub writes a message of s unless s is dead; last marks s dead and
// frees its id. dead is checked and set under the write lock, and a
// complete from the client is handled before the reader reads the next
// message, so a reused id never gets an old subscription's message after
// its own subscribe.
func (c *wsConnection) writeSub(s *wsSub, buf *[]byte, last bool) {
	if last {
		c.mu.Lock()
		if c.active[s.id] == s {
			delete(c.active, s.id)
		}
		c.mu.Unlock()
		defer s.cancel()
	}
	err := c.ws.writeFrameIf(wsOpText, buf, func() bool {
		dead := s.dead
		if last {
			s.dead = true
		}
		return !dead
	})
	if err != nil && !errors.Is(err, net.ErrClosed) {
		c.drop()
	}
}

// write sends a connection-level message; false when the connection is
// gone.
func (c *wsConnection) write(idJSON []byte, typ string, payload json.RawMessage) bool {
	buf := wsBuffer()
	*buf = appendEnvelope(*buf, idJSON, typ)
	if len(payload) > 0 {
		*buf = append(*buf, payload...)
	} else {
		*buf = (*buf)[:len(*buf)-len(`,"payload":`)]
	}
	*buf = append(*buf, '}')
	if err := c.ws.writeFrame(wsOpText, buf); err != nil {
		if !errors.Is(err, net.ErrClosed) {
			c.drop()
		}
		return false
	}
	return true
}

// appendEnvelope appends {"id":…,"type":…,"payload": (id only when given).
func appendEnvelope(b, idJSON []byte, typ string) []byte {
	b = append(b, '{')
	if len(idJSON) > 0 {
		b = append(b, `"id":`...)
		b = append(b, idJSON...)
		b = append(b, ',')
	}
	b = append(b, `"type":"`...)
	b = append(b, typ...)
	b = append(b, `","payload":`...)
	return b
}

// appendResponse appends a response as gqlgen's transport encoded it,
// without re-encoding the data the executor already produced (only
// errors and extensions go through encoding/json).
func appendResponse(b []byte, resp *graphql.Response) []byte {
	if resp.Label != "" || resp.Path != nil || resp.HasNext != nil {
		out, err := json.Marshal(resp)
		if err != nil {
			return append(b, `{"errors":[{"message":"internal system error"}],"data":null}`...)
		}
		return append(b, out...)
	}
	b = append(b, '{')
	if len(resp.Errors) > 0 {
		out, err := json.Marshal(resp.Errors)
		if err != nil {
			out = []byte(`[{"message":"internal system error"}]`)
		}
		b = append(b, `"errors":`...)
		b = append(b, out...)
		b = append(b, ',')
	}
	b = append(b, `"data":`...)
	if len(resp.Data) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, resp.Data...)
	}
	if len(resp.Extensions) > 0 {
		b = append(b, `,"extensions":`...)
		b = appendExtensions(b, resp.Extensions)
	}
	return append(b, '}')
}

// closeWith starts the closing handshake with code: every subscription
// ends, nothing more is written, and the reader waits (briefly) for the
// client's close frame.
func (c *wsConnection) closeWith(code int, reason string) {
	c.mu.Lock()
	c.state = wsStateClosing
	c.mu.Unlock()
	c.cancel()
	if err := c.ws.writeClose(code, reason); err != nil {
		_ = c.ws.nc.Close()
		return
	}
	_ = c.ws.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
}

// drop closes the socket without a closing handshake (a write failed or
// timed out: the peer is gone or too slow).
func (c *wsConnection) drop() { _ = c.ws.nc.Close() }

// teardown runs once, when the reader ends.
func (c *wsConnection) teardown() {
	c.mu.Lock()
	c.state = wsStateClosing
	c.active = nil
	ping := c.pingTimer
	c.mu.Unlock()
	c.cancel()
	c.initTimer.Stop()
	if ping != nil {
		ping.Stop()
	}
	_ = c.ws.nc.Close()
	c.sess.end()
}
