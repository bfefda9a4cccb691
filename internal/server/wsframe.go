package server

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"cartograph/internal/apperr"
)

// The websocket wire protocol (RFC 6455), server side, only what the
// GraphQL subscription transport needs: the opening handshake, reading
// masked client frames (fragmented messages, ping/pong/close between
// them), writing unfragmented frames, and the closing handshake. No
// extensions (permessage-deflate is not offered), no per-connection
// buffers: frame headers are read into a 14-byte scratch array, a message
// gets a slice of its own size, and a write is one syscall from a pooled
// buffer. An idle connection is this struct and its socket.

const wsAcceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Opcodes and close codes of RFC 6455.
const (
	wsOpContinuation = 0x0
	wsOpText         = 0x1
	wsOpBinary       = 0x2
	wsOpClose        = 0x8
	wsOpPing         = 0x9
	wsOpPong         = 0xA

	wsCloseNormal        = 1000
	wsCloseProtocolError = 1002
	wsCloseUnsupported   = 1003
	wsCloseNoStatus      = 1005
	wsCloseInvalidData   = 1007
	wsCloseTooBig        = 1009
)

// wsHeadroom is the room kept in front of an outgoing payload for its
// frame header (at most 10 bytes from server to client: no mask).
const wsHeadroom = 10

// wsCloseError is a close frame received from the client: code is one a
// peer may send (wsValidCloseCode), or wsCloseNoStatus for an empty body;
// reason is UTF-8.
type wsCloseError struct {
	code   int
	reason string
}

func (e *wsCloseError) Error() string { return "websocket closed by peer: " + strconv.Itoa(e.code) }

// wsValidCloseCode reports whether a peer may put code in a close frame
// (RFC 6455 §7.4): the defined codes, except 1004 (reserved) and 1005,
// 1006 and 1015 (never on the wire), the IANA-registered 1012-1014, and
// the 3000-4999 range of libraries and applications.
func wsValidCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	default:
		return code >= 3000 && code <= 4999
	}
}

// wsProtocolError is a frame the client must not send; the connection is
// closed with code.
type wsProtocolError struct {
	code int
	msg  string
}

func (e *wsProtocolError) Error() string { return "websocket: " + e.msg }

// wsFrameConn is one upgraded connection.
type wsFrameConn struct {
	nc net.Conn
	// pre holds bytes the HTTP server had read past the handshake.
	pre          []byte
	readLimit    int
	writeTimeout time.Duration
	hdr          [14]byte // the reader's scratch

	writeMu   sync.Mutex
	closeSent bool
}

// headerHasToken reports whether a comma-separated header holds token
// (case-insensitively), as Connection: keep-alive, Upgrade does.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// wsSelectProtocol picks the first of ours the client offered ("" when
// none: the caller decides what that means).
func wsSelectProtocol(r *http.Request, ours []string) string {
	var offered []string
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for part := range strings.SplitSeq(v, ",") {
			if p := strings.TrimSpace(part); p != "" {
				offered = append(offered, p)
			}
		}
	}
	for _, p := range ours {
		for _, o := range offered {
			if o == p {
				return p
			}
		}
	}
	return ""
}

// errNotWebsocket: the request is not a valid websocket opening handshake
// (answered with 400/426 before any hijack).
var errNotWebsocket = errors.New("not a websocket handshake")

// wsUpgrade validates the opening handshake, hijacks the connection and
// answers 101 with the chosen subprotocol (plus the headers the
// middleware set, such as X-Request-Id and CORS). On errNotWebsocket it has
// answered the request itself.
func wsUpgrade(w http.ResponseWriter, r *http.Request, protocols []string, readLimit int, writeTimeout time.Duration) (*wsFrameConn, string, error) {
	key := r.Header.Get("Sec-WebSocket-Key")
	switch {
	case r.Method != http.MethodGet || !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket"):
		writeError(w, http.StatusBadRequest, apperr.BadUserInput, "a websocket upgrade needs GET with Connection: Upgrade and Upgrade: websocket", nil)
		return nil, "", errNotWebsocket
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		w.Header().Set("Sec-WebSocket-Version", "13")
		writeError(w, http.StatusUpgradeRequired, apperr.BadUserInput, "unsupported websocket version (13 only)", nil)
		return nil, "", errNotWebsocket
	}
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		writeError(w, http.StatusBadRequest, apperr.BadUserInput, "invalid Sec-WebSocket-Key", nil)
		return nil, "", errNotWebsocket
	}
	proto := wsSelectProtocol(r, protocols)
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeError(w, http.StatusInternalServerError, apperr.Internal, "websocket upgrade is not supported here", nil)
		return nil, "", errNotWebsocket
	}
	sum := sha1.Sum([]byte(key + wsAcceptGUID))
	resp := make([]byte, 0, 256)
	resp = append(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = base64.StdEncoding.AppendEncode(resp, sum[:])
	resp = append(resp, "\r\n"...)
	if proto != "" {
		resp = append(resp, "Sec-WebSocket-Protocol: "+proto+"\r\n"...)
	}
	for k, vs := range w.Header() {
		switch http.CanonicalHeaderKey(k) {
		case "Upgrade", "Connection", "Sec-Websocket-Accept", "Sec-Websocket-Protocol", "Content-Type", "Content-Length":
			continue
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				continue
			}
			resp = append(resp, k+": "+v+"\r\n"...)
		}
	}
	resp = append(resp, "\r\n"...)
	c := &wsFrameConn{nc: nc, readLimit: readLimit, writeTimeout: writeTimeout}
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		c.pre = append([]byte(nil), b...)
	}
	_ = nc.SetDeadline(time.Time{})
	_ = nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := nc.Write(resp); err != nil {
		_ = nc.Close()
		return nil, "", err
	}
	return c, proto, nil
}

func (c *wsFrameConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		if len(c.pre) == 0 {
			c.pre = nil
		}
		return n, nil
	}
	return c.nc.Read(p)
}

// frameHeader reads one frame header: fin, opcode, payload length and mask.
func (c *wsFrameConn) frameHeader() (fin bool, op byte, n int64, mask [4]byte, err error) {
	h := c.hdr[:2]
	if _, err = io.ReadFull(c, h); err != nil {
		return
	}
	fin, op = h[0]&0x80 != 0, h[0]&0x0f
	if h[0]&0x70 != 0 {
		err = &wsProtocolError{wsCloseProtocolError, "reserved bits set (no extension was negotiated)"}
		return
	}
	if h[1]&0x80 == 0 {
		err = &wsProtocolError{wsCloseProtocolError, "client frames must be masked"}
		return
	}
	n = int64(h[1] & 0x7f)
	switch n {
	case 126:
		if _, err = io.ReadFull(c, c.hdr[:2]); err != nil {
			return
		}
		n = int64(binary.BigEndian.Uint16(c.hdr[:2]))
	case 127:
		if _, err = io.ReadFull(c, c.hdr[:8]); err != nil {
			return
		}
		u := binary.BigEndian.Uint64(c.hdr[:8])
		if u>>63 != 0 {
			err = &wsProtocolError{wsCloseProtocolError, "64-bit length with the most significant bit set"}
			return
		}
		if u > 1<<62 {
			err = &wsProtocolError{wsCloseTooBig, "frame too large"}
			return
		}
		n = int64(u)
	}
	if op >= wsOpClose && (n > 125 || !fin) {
		err = &wsProtocolError{wsCloseProtocolError, "invalid control frame"}
		return
	}
	if _, err = io.ReadFull(c, c.hdr[:4]); err != nil {
		return
	}
	copy(mask[:], c.hdr[:4])
	return
}

func unmask(b []byte, mask [4]byte, off int) {
	for i := range b {
		b[i] ^= mask[(off+i)&3]
	}
}

// readMessage returns the next text or binary message, reassembled from
// its fragments. Pings are answered (not once our close frame is out:
// nothing may follow it, and reading goes on to the client's close) and
// pings and pongs reported to onControl in between; a valid close frame
// returns *wsCloseError, an invalid one (a 1-byte body, a code a peer
// may not send, a reason that is not UTF-8) *wsProtocolError.
func (c *wsFrameConn) readMessage(onControl func()) (byte, []byte, error) {
	var msg []byte
	var msgOp byte
	inMsg := false
	for {
		fin, op, n, mask, err := c.frameHeader()
		if err != nil {
			return 0, nil, err
		}
		switch op {
		case wsOpPing, wsOpPong, wsOpClose:
			var p [125]byte
			b := p[:n]
			if _, err := io.ReadFull(c, b); err != nil {
				return 0, nil, err
			}
			unmask(b, mask, 0)
			switch op {
			case wsOpPing:
				if err := c.writeControl(wsOpPong, b); err != nil && !errors.Is(err, errWSCloseSent) {
					return 0, nil, err
				}
			case wsOpClose:
				return 0, nil, wsParseClose(b)
			}
			if onControl != nil {
				onControl()
			}
			continue
		case wsOpText, wsOpBinary:
			if inMsg {
				return 0, nil, &wsProtocolError{wsCloseProtocolError, "new message inside a fragmented one"}
			}
			inMsg, msgOp = true, op
		case wsOpContinuation:
			if !inMsg {
				return 0, nil, &wsProtocolError{wsCloseProtocolError, "continuation without a message"}
			}
		default:
			return 0, nil, &wsProtocolError{wsCloseProtocolError, "unknown opcode"}
		}
		if int64(len(msg))+n > int64(c.readLimit) {
			return 0, nil, &wsProtocolError{wsCloseTooBig, "message over " + strconv.Itoa(c.readLimit) + " bytes"}
		}
		off := len(msg)
		msg = append(msg, make([]byte, n)...)
		if _, err := io.ReadFull(c, msg[off:]); err != nil {
			return 0, nil, err
		}
		unmask(msg[off:], mask, 0)
		if fin {
			if msgOp == wsOpText && !utf8.Valid(msg) {
				return 0, nil, &wsProtocolError{wsCloseInvalidData, "text message is not UTF-8"}
			}
			return msgOp, msg, nil
		}
	}
}

// wsParseClose is the error a close frame's (unmasked) body ends reading
// with.
func wsParseClose(b []byte) error {
	switch {
	case len(b) == 0:
		return &wsCloseError{code: wsCloseNoStatus}
	case len(b) == 1:
		return &wsProtocolError{wsCloseProtocolError, "close frame with a 1-byte body"}
	}
	code := int(binary.BigEndian.Uint16(b))
	if !wsValidCloseCode(code) {
		return &wsProtocolError{wsCloseProtocolError, "invalid close code " + strconv.Itoa(code)}
	}
	if !utf8.Valid(b[2:]) {
		return &wsProtocolError{wsCloseInvalidData, "close reason is not UTF-8"}
	}
	return &wsCloseError{code: code, reason: string(b[2:])}
}

// errWSCloseSent is writeFrame's error once our close frame is out; it is
// a net.ErrClosed, as callers test it.
var errWSCloseSent = fmt.Errorf("websocket: close frame already sent: %w", net.ErrClosed)

// wsBufPool holds write buffers (headroom plus payload).
var wsBufPool = sync.Pool{New: func() any { b := make([]byte, wsHeadroom, 512); return &b }}

// wsBuffer returns a pooled buffer with the header room reserved: append
// the payload to it, pass it to writeFrame, which returns it.
func wsBuffer() *[]byte {
	b := wsBufPool.Get().(*[]byte)
	*b = (*b)[:wsHeadroom]
	return b
}

func wsRelease(b *[]byte) {
	if cap(*b) <= 64<<10 {
		wsBufPool.Put(b)
	}
}

// writeFrame writes buf (from wsBuffer, payload after the headroom) as one
// unfragmented frame and releases it. Nothing is written after a close
// frame (errWSCloseSent). A write that does not finish within the write timeout fails and
// the caller drops the connection.
func (c *wsFrameConn) writeFrame(op byte, buf *[]byte) error {
	return c.writeFrameIf(op, buf, nil)
}

// writeFrameIf is writeFrame, skipped (nil error) when ok, called under the
// write lock, reports false.
func (c *wsFrameConn) writeFrameIf(op byte, buf *[]byte, ok func() bool) error {
	defer wsRelease(buf)
	b := *buf
	n := len(b) - wsHeadroom
	var start int
	switch {
	case n <= 125:
		start = wsHeadroom - 2
		b[start+1] = byte(n)
	case n <= 0xffff:
		start = wsHeadroom - 4
		b[start+1] = 126
		binary.BigEndian.PutUint16(b[start+2:], uint16(n))
	default:
		start = 0
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
	b[start] = 0x80 | op
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.closeSent {
		return errWSCloseSent
	}
	if ok != nil && !ok() {
		return nil
	}
	if op == wsOpClose {
		c.closeSent = true
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	_, err := c.nc.Write(b[start:])
	return err
}

func (c *wsFrameConn) writeControl(op byte, payload []byte) error {
	buf := wsBuffer()
	*buf = append(*buf, payload...)
	return c.writeFrame(op, buf)
}

// writeClose sends a close frame (once); the reason is cut to fit.
func (c *wsFrameConn) writeClose(code int, reason string) error {
	if len(reason) > 123 {
		reason = reason[:123]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	buf := wsBuffer()
	*buf = binary.BigEndian.AppendUint16(*buf, uint16(code))
	*buf = append(*buf, reason...)
	return c.writeFrame(wsOpClose, buf)
}

// closeWasSent reports whether a close frame went out.
func (c *wsFrameConn) closeWasSent() bool {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.closeSent
}
