package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

// Fuzz and table tests of wsframe.go: the reader of client frames
// (readMessage, frameHeader) and the opening handshake (wsUpgrade). The
// input is what a client sent; it is handed to a wsFrameConn through its
// pre buffer (and, split at a fuzzed offset, partly through a net.Conn that
// yields one byte per Read), then io.EOF.

// wsTestMask is the masking key of every frame the helpers build.
var wsTestMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

const (
	wsFin  = 0x80
	wsRsv1 = 0x40
	wsRsv2 = 0x20
	wsRsv3 = 0x10
)

// wsTestFrame builds one client frame: b0 is FIN|RSV|opcode, claimed the
// length put in the header (minimally encoded, 7/16/64 bits), payload what
// follows it (masked with wsTestMask when masked; it may be shorter or
// longer than claimed, to build truncated or lying frames).
func wsTestFrame(b0 byte, masked bool, claimed uint64, payload []byte) []byte {
	var maskBit byte
	if masked {
		maskBit = 0x80
	}
	b := []byte{b0}
	switch {
	case claimed <= 125:
		b = append(b, maskBit|byte(claimed))
	case claimed <= 0xffff:
		b = append(b, maskBit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(claimed))
	default:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, claimed)
	}
	if masked {
		b = append(b, wsTestMask[:]...)
	}
	for i, c := range payload {
		if masked {
			c ^= wsTestMask[i&3]
		}
		b = append(b, c)
	}
	return b
}

// wsTestMasked is a well-formed masked client frame.
func wsTestMasked(b0 byte, payload []byte) []byte {
	return wsTestFrame(b0, true, uint64(len(payload)), payload)
}

// wsTestFrame64 is a masked frame whose length always takes the 64-bit
// form (also when a shorter one would do: RFC 6455 asks for the minimal
// encoding, which the reader does not enforce).
func wsTestFrame64(b0 byte, claimed uint64, payload []byte) []byte {
	b := []byte{b0, 0x80 | 127}
	b = binary.BigEndian.AppendUint64(b, claimed)
	b = append(b, wsTestMask[:]...)
	for i, c := range payload {
		b = append(b, c^wsTestMask[i&3])
	}
	return b
}

func wsTestCat(frames ...[]byte) []byte { return slices.Concat(frames...) }

func wsTestClosePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// wsTestConn is the client's end of a connection: reads come from r (EOF
// when nil or exhausted), writes (the server's frames) are recorded.
type wsTestConn struct {
	r   io.Reader
	out bytes.Buffer
}

func (c *wsTestConn) Read(p []byte) (int, error) {
	if c.r == nil {
		return 0, io.EOF
	}
	return c.r.Read(p)
}
func (c *wsTestConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *wsTestConn) Close() error                { return nil }
func (c *wsTestConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
}
func (c *wsTestConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}
}
func (c *wsTestConn) SetDeadline(time.Time) error      { return nil }
func (c *wsTestConn) SetReadDeadline(time.Time) error  { return nil }
func (c *wsTestConn) SetWriteDeadline(time.Time) error { return nil }

// newWSTestFrameConn returns a wsFrameConn that reads pre, then rest one
// byte per Read, then io.EOF.
func newWSTestFrameConn(pre, rest []byte, readLimit int) (*wsFrameConn, *wsTestConn) {
	nc := &wsTestConn{}
	if len(rest) > 0 {
		nc.r = iotest.OneByteReader(bytes.NewReader(rest))
	}
	c := &wsFrameConn{nc: nc, readLimit: readLimit, writeTimeout: time.Second}
	if len(pre) > 0 {
		c.pre = append([]byte(nil), pre...)
	}
	return c, nc
}

type wsTestMsg struct {
	op   byte
	data []byte
}

// wsReadOutcome is everything reading a connection to its end produced.
type wsReadOutcome struct {
	msgs     []wsTestMsg
	controls int    // onControl calls (pings and pongs)
	err      error  // the error that ended it
	out      []byte // what the server wrote back (pongs)
}

// wsReadAll reads messages until an error. Every successful readMessage
// consumes at least one 6-byte frame header, so more than len(input)/6+1
// messages means the reader is making things up: that, like a reader that
// never returns an error, fails the test.
func wsReadAll(t testing.TB, c *wsFrameConn, nc *wsTestConn, inputLen int) wsReadOutcome {
	t.Helper()
	var o wsReadOutcome
	onControl := func() { o.controls++ }
	for range inputLen/6 + 2 {
		op, data, err := c.readMessage(onControl)
		if err != nil {
			o.err = err
			o.out = nc.out.Bytes()
			return o
		}
		o.msgs = append(o.msgs, wsTestMsg{op, data})
	}
	t.Fatalf("readMessage returned more than %d messages from %d bytes without an error", inputLen/6+1, inputLen)
	return o
}

// wsDescribeErr is an error's kind and fields, for comparing outcomes.
func wsDescribeErr(err error) string {
	var ce *wsCloseError
	var pe *wsProtocolError
	switch {
	case err == nil:
		return "nil"
	case errors.As(err, &ce):
		return fmt.Sprintf("close %d %q", ce.code, ce.reason)
	case errors.As(err, &pe):
		return fmt.Sprintf("protocol %d %s", pe.code, pe.msg)
	default:
		return fmt.Sprintf("%T %v", err, err)
	}
}

type wsServerFrame struct {
	b0      byte
	payload []byte
}

// wsParseServerFrames splits what the server wrote into frames, failing on
// anything a client would reject: masked, truncated, non-minimal length.
func wsParseServerFrames(b []byte) ([]wsServerFrame, error) {
	var frames []wsServerFrame
	for len(b) > 0 {
		if len(b) < 2 {
			return frames, fmt.Errorf("truncated header % x", b)
		}
		b0, b1 := b[0], b[1]
		if b1&0x80 != 0 {
			return frames, errors.New("server frame is masked")
		}
		n, hl := uint64(b1&0x7f), 2
		switch n {
		case 126:
			if len(b) < 4 {
				return frames, errors.New("truncated 16-bit length")
			}
			n, hl = uint64(binary.BigEndian.Uint16(b[2:])), 4
			if n <= 125 {
				return frames, errors.New("non-minimal 16-bit length")
			}
		case 127:
			if len(b) < 10 {
				return frames, errors.New("truncated 64-bit length")
			}
			n, hl = binary.BigEndian.Uint64(b[2:]), 10
			if n <= 0xffff {
				return frames, errors.New("non-minimal 64-bit length")
			}
		}
		if uint64(len(b)-hl) < n {
			return frames, fmt.Errorf("payload of %d bytes, %d left", n, len(b)-hl)
		}
		frames = append(frames, wsServerFrame{b0, b[hl : hl+int(n)]})
		b = b[hl+int(n):]
	}
	return frames, nil
}

// wsCheckOutcome asserts the invariants any input must keep.
func wsCheckOutcome(t testing.TB, o wsReadOutcome, readLimit int) {
	t.Helper()
	for i, m := range o.msgs {
		if m.op != wsOpText && m.op != wsOpBinary {
			t.Errorf("message %d: opcode %#x is not text or binary", i, m.op)
		}
		if len(m.data) > readLimit {
			t.Errorf("message %d: %d bytes, over the read limit %d", i, len(m.data), readLimit)
		}
		if m.op == wsOpText && !utf8.Valid(m.data) {
			t.Errorf("message %d: text message is not UTF-8: %q", i, m.data)
		}
	}
	var ce *wsCloseError
	var pe *wsProtocolError
	var ne net.Error
	switch {
	case o.err == nil:
		t.Errorf("reading ended without an error")
	case errors.As(o.err, &ce):
		switch {
		case ce.code == wsCloseNoStatus:
			if ce.reason != "" {
				t.Errorf("close without a status (1005) but with a reason %q", ce.reason)
			}
		case !wsTestPeerCloseCode(ce.code):
			t.Errorf("close code %d, which a peer may not send (RFC 6455 §7.4)", ce.code)
		}
		if !utf8.ValidString(ce.reason) {
			t.Errorf("close reason is not UTF-8: %q", ce.reason)
		}
		if len(ce.reason) > 123 {
			t.Errorf("close reason of %d bytes (a control payload holds at most 125)", len(ce.reason))
		}
	case errors.As(o.err, &pe):
		switch pe.code {
		case wsCloseProtocolError, wsCloseInvalidData, wsCloseTooBig:
		default:
			t.Errorf("protocol error with close code %d: %v", pe.code, pe)
		}
	case errors.Is(o.err, io.EOF), errors.Is(o.err, io.ErrUnexpectedEOF), errors.Is(o.err, net.ErrClosed), errors.As(o.err, &ne):
	default:
		t.Errorf("unexpected error type %T: %v", o.err, o.err)
	}
	frames, err := wsParseServerFrames(o.out)
	if err != nil {
		t.Errorf("server wrote a malformed frame: %v (% x)", err, o.out)
	}
	if len(frames) > o.controls {
		t.Errorf("%d frames written back for %d control frames read", len(frames), o.controls)
	}
	for i, fr := range frames {
		if fr.b0 != wsFin|wsOpPong {
			t.Errorf("server frame %d: first byte %#x, want a final pong (%#x)", i, fr.b0, wsFin|wsOpPong)
		}
		if len(fr.payload) > 125 {
			t.Errorf("server frame %d: pong of %d bytes", i, len(fr.payload))
		}
	}
}

// wsTestPeerCloseCode reports whether a close frame may carry code (RFC
// 6455 §7.4.1-2): 1000-1003, 1007-1011, the registered 1012-1014, and
// 3000-4999. Never 1004 (reserved), 1005, 1006 or 1015 (not for the wire),
// 1016-2999 (unassigned) or 5000 and up. Spelled out here, not taken from
// wsframe.go, so the tests check the reader against the RFC.
func wsTestPeerCloseCode(code int) bool {
	switch code {
	case 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014:
		return true
	}
	return 3000 <= code && code <= 4999
}

// wsFrameCase is one seed with the outcome the reader gives it.
type wsFrameCase struct {
	name      string
	in        []byte
	readLimit int

	msgs     []wsTestMsg // the messages read, in order
	pongs    []string    // the payloads of the pongs written back
	controls int         // onControl calls
	// the error that ends reading: "eof", "unexpected-eof", "close" (code,
	// reason) or "protocol" (code).
	errKind string
	code    int
	reason  string
	// note, when set, says where this outcome departs from RFC 6455
	// (logged; the table pins what the code does today).
	note string
}

func wsText(s string) wsTestMsg   { return wsTestMsg{wsOpText, []byte(s)} }
func wsBinary(s string) wsTestMsg { return wsTestMsg{wsOpBinary, []byte(s)} }

const wsProdReadLimit = 1 << 20 // what subscriptions.go configures

func wsFrameCases() []wsFrameCase {
	ping125 := strings.Repeat("p", 125)
	return []wsFrameCase{
		{name: "empty input", in: nil, errKind: "eof"},
		{name: "masked text hello",
			in:   wsTestMasked(wsFin|wsOpText, []byte("hello")),
			msgs: []wsTestMsg{wsText("hello")}, errKind: "eof"},
		{name: "two messages",
			in:   wsTestCat(wsTestMasked(wsFin|wsOpText, []byte("a")), wsTestMasked(wsFin|wsOpBinary, []byte{0xff, 0x00})),
			msgs: []wsTestMsg{wsText("a"), {wsOpBinary, []byte{0xff, 0x00}}}, errKind: "eof"},
		{name: "empty text message",
			in:   wsTestMasked(wsFin|wsOpText, nil),
			msgs: []wsTestMsg{wsText("")}, errKind: "eof"},
		{name: "binary message need not be UTF-8",
			in:   wsTestMasked(wsFin|wsOpBinary, []byte{0xc3, 0x28}),
			msgs: []wsTestMsg{{wsOpBinary, []byte{0xc3, 0x28}}}, errKind: "eof"},
		{name: "16-bit length",
			in:   wsTestMasked(wsFin|wsOpText, bytes.Repeat([]byte("x"), 300)),
			msgs: []wsTestMsg{wsText(strings.Repeat("x", 300))}, errKind: "eof"},
		{name: "non-minimal 64-bit length",
			in:   wsTestFrame64(wsFin|wsOpText, 2, []byte("ok")),
			msgs: []wsTestMsg{wsText("ok")}, errKind: "eof",
			note: "RFC 6455 §5.2 wants the minimal length encoding; accepting this is common and harmless"},
		{name: "fragmented message with a ping in the middle",
			in: wsTestCat(
				wsTestMasked(wsOpText, []byte("Hel")),
				wsTestMasked(wsFin|wsOpPing, []byte("p!")),
				wsTestMasked(wsOpContinuation, []byte("l")),
				wsTestMasked(wsFin|wsOpPong, []byte("unsolicited")),
				wsTestMasked(wsFin|wsOpContinuation, []byte("o"))),
			msgs: []wsTestMsg{wsText("Hello")}, pongs: []string{"p!"}, controls: 2, errKind: "eof"},
		{name: "ping of 125 bytes",
			in:    wsTestMasked(wsFin|wsOpPing, []byte(ping125)),
			pongs: []string{ping125}, controls: 1, errKind: "eof"},
		{name: "close 1000",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(1000, "bye")),
			errKind: "close", code: 1000, reason: "bye"},
		{name: "close without a body",
			in:      wsTestMasked(wsFin|wsOpClose, nil),
			errKind: "close", code: wsCloseNoStatus},
		{name: "close inside a fragmented message",
			in:      wsTestCat(wsTestMasked(wsOpText, []byte("par")), wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(1001, ""))),
			errKind: "close", code: 1001},
		// RFC 6455 §5.5.1: a close body starts with a 2-byte code.
		{name: "close with a 1-byte body", // 88 81 37 fa 21 3d 34
			in:      wsTestMasked(wsFin|wsOpClose, []byte{0x03}),
			errKind: "protocol", code: wsCloseProtocolError},
		// RFC 6455 §7.4.1: 1005, 1006 and 1015 are never on the wire; §7.4.2:
		// codes below 1000 are unused, 1004 reserved, 1016-2999 unassigned.
		{name: "close with code 1005 on the wire",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(1005, "")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "close with code 1006",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(1006, "gone")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "close with code 1015",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(1015, "")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "close with code 1004",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(1004, "")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "close with code 999",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(999, "")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "close with code 0",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(0, "")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "close with code 2999",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(2999, "")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "close with code 5000",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(5000, "")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "close with code 65535",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(0xffff, "")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "close with code 1011",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(1011, "oops")),
			errKind: "close", code: 1011, reason: "oops"},
		{name: "close with code 1014",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(1014, "")),
			errKind: "close", code: 1014},
		{name: "close with code 3000",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(3000, "")),
			errKind: "close", code: 3000},
		{name: "close with code 4999",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(4999, "")),
			errKind: "close", code: 4999},
		// RFC 6455 §5.5.1, §8.1: the close reason is UTF-8.
		{name: "close reason not UTF-8",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(1000, "\xff")),
			errKind: "protocol", code: wsCloseInvalidData},
		{name: "close reason with a surrogate half",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(4000, "ok\xed\xa0\x80")),
			errKind: "protocol", code: wsCloseInvalidData},
		{name: "close reason of 123 bytes of UTF-8",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(1001, strings.Repeat("€", 41))),
			errKind: "close", code: 1001, reason: strings.Repeat("€", 41)},
		{name: "invalid close code checked before the reason",
			in:      wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(1005, "\xff")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "message at the read limit", readLimit: 8,
			in:   wsTestCat(wsTestMasked(wsOpBinary, []byte("1234")), wsTestMasked(wsFin|wsOpContinuation, []byte("5678"))),
			msgs: []wsTestMsg{wsBinary("12345678")}, errKind: "eof"},
		{name: "oversized length header", readLimit: wsProdReadLimit,
			in:      wsTestFrame(wsFin|wsOpText, true, wsProdReadLimit+1, nil),
			errKind: "protocol", code: wsCloseTooBig},
		{name: "oversized 16-bit length header", readLimit: 64,
			in:      wsTestFrame(wsFin|wsOpText, true, 65, nil),
			errKind: "protocol", code: wsCloseTooBig},
		{name: "fragments over the read limit", readLimit: 8,
			in:      wsTestCat(wsTestMasked(wsOpText, []byte("12345")), wsTestMasked(wsFin|wsOpContinuation, []byte("6789"))),
			errKind: "protocol", code: wsCloseTooBig},
		{name: "64-bit length of 2^62", readLimit: wsProdReadLimit,
			in:      wsTestFrame(wsFin|wsOpBinary, true, 1<<62, nil),
			errKind: "protocol", code: wsCloseTooBig},
		// RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
		{name: "64-bit length with the top bit set", readLimit: wsProdReadLimit,
			in:      wsTestFrame(wsFin|wsOpBinary, true, 1<<63, nil),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "64-bit length all ones", readLimit: wsProdReadLimit,
			in:      wsTestFrame(wsFin|wsOpBinary, true, ^uint64(0), nil),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "64-bit length 2^63-1", readLimit: wsProdReadLimit,
			in:      wsTestFrame(wsFin|wsOpBinary, true, 1<<63-1, nil),
			errKind: "protocol", code: wsCloseTooBig},
		{name: "unmasked client frame",
			in:      wsTestFrame(wsFin|wsOpText, false, 5, []byte("hello")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "ping with payload over 125",
			in:      wsTestFrame(wsFin|wsOpPing, true, 126, bytes.Repeat([]byte("p"), 126)),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "close with payload over 125 (64-bit length)",
			in:      wsTestFrame(wsFin|wsOpClose, true, 1<<40, nil),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "fragmented control frame",
			in:      wsTestMasked(wsOpPing, []byte("p")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "valid UTF-8 split across fragments",
			in:   wsTestCat(wsTestMasked(wsOpText, []byte("\xe2\x82")), wsTestMasked(wsFin|wsOpContinuation, []byte("\xac"))),
			msgs: []wsTestMsg{wsText("€")}, errKind: "eof"},
		{name: "invalid UTF-8 split across fragments",
			in:      wsTestCat(wsTestMasked(wsOpText, []byte("a\xe2\x82")), wsTestMasked(wsFin|wsOpContinuation, []byte("("))),
			errKind: "protocol", code: wsCloseInvalidData},
		{name: "invalid UTF-8 in one frame",
			in:      wsTestMasked(wsFin|wsOpText, []byte("\xc3\x28")),
			errKind: "protocol", code: wsCloseInvalidData},
		{name: "surrogate half is not UTF-8",
			in:      wsTestMasked(wsFin|wsOpText, []byte("\xed\xa0\x80")),
			errKind: "protocol", code: wsCloseInvalidData},
		{name: "RSV1 set",
			in:      wsTestMasked(wsFin|wsRsv1|wsOpText, []byte("x")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "RSV2 set",
			in:      wsTestMasked(wsFin|wsRsv2|wsOpText, []byte("x")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "RSV3 set on a ping",
			in:      wsTestMasked(wsFin|wsRsv3|wsOpPing, nil),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "unknown data opcode 0x3",
			in:      wsTestMasked(wsFin|0x3, []byte("x")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "unknown control opcode 0xB",
			in:      wsTestMasked(wsFin|0xB, nil),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "unknown opcode 0xF",
			in:      wsTestMasked(wsFin|0xF, []byte("x")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "continuation without a message",
			in:      wsTestMasked(wsFin|wsOpContinuation, []byte("x")),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "new message inside a fragmented one",
			in:      wsTestCat(wsTestMasked(wsOpText, []byte("a")), wsTestMasked(wsFin|wsOpText, []byte("b"))),
			errKind: "protocol", code: wsCloseProtocolError},
		{name: "truncated header",
			in:      []byte{wsFin | wsOpText},
			errKind: "unexpected-eof"},
		{name: "truncated extended length",
			in:      []byte{wsFin | wsOpText, 0x80 | 127, 0, 0},
			errKind: "unexpected-eof"},
		{name: "truncated mask",
			in:      []byte{wsFin | wsOpText, 0x80 | 1, 1, 2},
			errKind: "unexpected-eof"},
		{name: "truncated payload",
			in:      wsTestFrame(wsFin|wsOpText, true, 10, []byte("abc")),
			errKind: "unexpected-eof"},
		{name: "EOF between fragments",
			in:      wsTestMasked(wsOpText, []byte("abc")),
			errKind: "eof"},
	}
}

// TestWSFrameReadCases: each seed gives its expected messages, pongs and
// error, whether the bytes arrive all at once (pre) or one per Read.
func TestWSFrameReadCases(t *testing.T) {
	for _, tc := range wsFrameCases() {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.readLimit
			if limit == 0 {
				limit = wsProdReadLimit
			}
			if tc.note != "" {
				t.Logf("known deviation from RFC 6455: %s", tc.note)
			}
			for _, split := range []int{len(tc.in), 0, len(tc.in) / 2} {
				c, nc := newWSTestFrameConn(tc.in[:split], tc.in[split:], limit)
				o := wsReadAll(t, c, nc, len(tc.in))
				wsCheckOutcome(t, o, limit)
				if len(o.msgs) != len(tc.msgs) {
					t.Fatalf("split %d: %d messages %v, want %d %v", split, len(o.msgs), o.msgs, len(tc.msgs), tc.msgs)
				}
				for i, m := range o.msgs {
					if m.op != tc.msgs[i].op || !bytes.Equal(m.data, tc.msgs[i].data) {
						t.Errorf("split %d: message %d = %#x %q, want %#x %q", split, i, m.op, m.data, tc.msgs[i].op, tc.msgs[i].data)
					}
				}
				if o.controls != tc.controls {
					t.Errorf("split %d: %d onControl calls, want %d", split, o.controls, tc.controls)
				}
				frames, _ := wsParseServerFrames(o.out)
				var pongs []string
				for _, fr := range frames {
					pongs = append(pongs, string(fr.payload))
				}
				if !slices.Equal(pongs, tc.pongs) {
					t.Errorf("split %d: pongs %q, want %q", split, pongs, tc.pongs)
				}
				var ce *wsCloseError
				var pe *wsProtocolError
				switch tc.errKind {
				case "eof":
					if o.err != io.EOF {
						t.Errorf("split %d: error %s, want io.EOF", split, wsDescribeErr(o.err))
					}
				case "unexpected-eof":
					if o.err != io.ErrUnexpectedEOF {
						t.Errorf("split %d: error %s, want io.ErrUnexpectedEOF", split, wsDescribeErr(o.err))
					}
				case "close":
					if !errors.As(o.err, &ce) || ce.code != tc.code || ce.reason != tc.reason {
						t.Errorf("split %d: error %s, want close %d %q", split, wsDescribeErr(o.err), tc.code, tc.reason)
					}
				case "protocol":
					if !errors.As(o.err, &pe) || pe.code != tc.code {
						t.Errorf("split %d: error %s, want a protocol error with code %d", split, wsDescribeErr(o.err), tc.code)
					}
				default:
					t.Fatalf("bad errKind %q", tc.errKind)
				}
			}
		})
	}
}

// TestWSFrameOversizedClaimAllocatesNothing: a length header over the read
// limit is refused before anything of that size is allocated.
func TestWSFrameOversizedClaimAllocatesNothing(t *testing.T) {
	for _, claimed := range []uint64{wsProdReadLimit + 1, 1 << 40, 1 << 62, 1<<63 - 1, 1 << 63, ^uint64(0)} {
		want := wsCloseTooBig
		if claimed>>63 != 0 {
			want = wsCloseProtocolError // RFC 6455 §5.2: the top bit MUST be 0
		}
		in := wsTestFrame(wsFin|wsOpBinary, true, claimed, nil)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c, _ := newWSTestFrameConn(in, nil, wsProdReadLimit)
		_, _, err := c.readMessage(nil)
		runtime.ReadMemStats(&after)
		var pe *wsProtocolError
		if !errors.As(err, &pe) || pe.code != want {
			t.Errorf("claimed %d: error %s, want protocol %d", claimed, wsDescribeErr(err), want)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
			t.Errorf("claimed %d: %d bytes allocated before refusing the frame", claimed, d)
		}
	}
}

// TestWSFramePingAfterCloseSent: once our close frame is out, a ping is not
// answered (nothing may follow a close frame) but reading goes on, through
// messages and pings, to the client's close frame (or the end of input).
func TestWSFramePingAfterCloseSent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       []byte
		msgs     int
		controls int
		want     string
	}{
		{"ping then close",
			wsTestCat(wsTestMasked(wsFin|wsOpPing, []byte("p")), wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(1000, ""))),
			0, 1, `close 1000 ""`},
		{"ping, message, ping, close",
			wsTestCat(
				wsTestMasked(wsFin|wsOpPing, []byte("p1")),
				wsTestMasked(wsFin|wsOpText, []byte("late")),
				wsTestMasked(wsOpText, []byte("frag")),
				wsTestMasked(wsFin|wsOpPing, []byte("p2")),
				wsTestMasked(wsFin|wsOpContinuation, []byte("ment")),
				wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(4400, "bye"))),
			2, 2, `close 4400 "bye"`},
		{"ping then EOF", wsTestMasked(wsFin|wsOpPing, []byte("p")), 0, 1, "*errors.errorString EOF"},
		{"ping then an invalid close",
			wsTestCat(wsTestMasked(wsFin|wsOpPing, nil), wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(1005, ""))),
			0, 1, "protocol 1002 invalid close code 1005"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, nc := newWSTestFrameConn(tc.in, nil, wsProdReadLimit)
			c.closeSent = true
			o := wsReadAll(t, c, nc, len(tc.in))
			wsCheckOutcome(t, o, wsProdReadLimit)
			if got := wsDescribeErr(o.err); len(o.msgs) != tc.msgs || o.controls != tc.controls || got != tc.want {
				t.Errorf("%d messages, %d controls, error %s; want %d, %d, %s", len(o.msgs), o.controls, got, tc.msgs, tc.controls, tc.want)
			}
			if nc.out.Len() != 0 {
				t.Errorf("wrote % x after the close frame", nc.out.Bytes())
			}
		})
	}
}

// TestWSFrameCloseCodes: every 16-bit close code is passed on exactly when
// a peer may send it, and refused with 1002 otherwise.
func TestWSFrameCloseCodes(t *testing.T) {
	for code := range 1 << 16 {
		in := wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(uint16(code), "r"))
		c, _ := newWSTestFrameConn(in, nil, wsProdReadLimit)
		_, _, err := c.readMessage(nil)
		want := `protocol 1002 invalid close code ` + fmt.Sprint(code)
		if wsTestPeerCloseCode(code) {
			want = fmt.Sprintf("close %d %q", code, "r")
		}
		if got := wsDescribeErr(err); got != want {
			t.Errorf("code %d: %s, want %s", code, got, want)
		}
	}
}

// wsTestReadLoop runs a connection's readLoop on the server end of a
// net.Pipe (which has real deadlines) and returns the client end and a
// channel closed when readLoop has returned.
func wsTestReadLoop(t *testing.T) (*wsConnection, net.Conn, <-chan struct{}) {
	t.Helper()
	srv, cli := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	c := &wsConnection{
		t:         &wsTransport{log: slog.New(slog.DiscardHandler)},
		ws:        &wsFrameConn{nc: srv, readLimit: wsProdReadLimit, writeTimeout: time.Second},
		sess:      &wsSession{},
		ctx:       ctx,
		cancel:    cancel,
		initTimer: time.AfterFunc(time.Hour, func() {}),
		active:    map[string]*wsSub{},
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.readLoop()
	}()
	t.Cleanup(func() {
		_ = cli.Close()
		<-done
	})
	return c, cli, done
}

// wsTestReadServerFrame reads one (unmasked, short) server frame.
func wsTestReadServerFrame(cli net.Conn) (byte, []byte, error) {
	_ = cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(cli, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1] > 125 {
		return 0, nil, fmt.Errorf("unexpected server frame header % x", h)
	}
	p := make([]byte, h[1])
	_, err := io.ReadFull(cli, p)
	return h[0], p, err
}

// wsTestExpectEnd asserts the server writes nothing more and readLoop
// returns (its teardown closes the socket: EOF for the client).
func wsTestExpectEnd(t *testing.T, cli net.Conn, done <-chan struct{}) {
	t.Helper()
	_ = cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(cli); len(b) > 0 || err != nil {
		t.Errorf("after the closing handshake: read % x, error %v; want EOF", b, err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("readLoop did not return")
	}
}

// TestWSFrameReadLoopAnswersClose: readLoop answers a valid close frame
// with its code (1000 for an empty body) and an invalid one with 1002 or
// 1007, so 1005/1006/1015 and unassigned codes never go back on the wire.
func TestWSFrameReadLoopAnswersClose(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
		want uint16
	}{
		{"empty body", nil, wsCloseNormal},
		{"1000", wsTestClosePayload(1000, "bye"), 1000},
		{"1001", wsTestClosePayload(1001, ""), 1001},
		{"4000", wsTestClosePayload(4000, "app"), 4000},
		{"1-byte body", []byte{0x03}, wsCloseProtocolError},
		{"1005", wsTestClosePayload(1005, ""), wsCloseProtocolError},
		{"1006", wsTestClosePayload(1006, ""), wsCloseProtocolError},
		{"1015", wsTestClosePayload(1015, ""), wsCloseProtocolError},
		{"999", wsTestClosePayload(999, ""), wsCloseProtocolError},
		{"5000", wsTestClosePayload(5000, ""), wsCloseProtocolError},
		{"reason not UTF-8", wsTestClosePayload(1000, "\xff"), wsCloseInvalidData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, cli, done := wsTestReadLoop(t)
			_ = cli.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := cli.Write(wsTestMasked(wsFin|wsOpClose, tc.body)); err != nil {
				t.Fatal(err)
			}
			b0, p, err := wsTestReadServerFrame(cli)
			if err != nil {
				t.Fatalf("reading the server's close frame: %v", err)
			}
			if b0 != wsFin|wsOpClose || len(p) < 2 {
				t.Fatalf("server frame %#x % x, want a close frame with a code", b0, p)
			}
			if code := binary.BigEndian.Uint16(p); code != tc.want {
				t.Errorf("server closed with %d (reason %q), want %d", code, p[2:], tc.want)
			}
			if !utf8.Valid(p[2:]) {
				t.Errorf("server close reason is not UTF-8: %q", p[2:])
			}
			wsTestExpectEnd(t, cli, done)
		})
	}
}

// wsTestStartClose has the server start the closing handshake (as a
// protocol rule does) and reads its close frame.
func wsTestStartClose(t *testing.T, c *wsConnection, cli net.Conn) {
	t.Helper()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		c.closeWith(closeBadMessage, "bye")
	}()
	b0, p, err := wsTestReadServerFrame(cli)
	if err != nil || b0 != wsFin|wsOpClose || len(p) < 2 || binary.BigEndian.Uint16(p) != closeBadMessage {
		t.Fatalf("server close frame %#x % x, error %v; want close %d", b0, p, err, closeBadMessage)
	}
	<-closed
}

// TestWSFrameReadLoopDrainsAfterClose: after our close frame, readLoop
// keeps reading (pings unanswered, messages ignored) until the client's
// close frame, and then ends without writing anything more.
func TestWSFrameReadLoopDrainsAfterClose(t *testing.T) {
	c, cli, done := wsTestReadLoop(t)
	wsTestStartClose(t, c, cli)
	_ = cli.SetWriteDeadline(time.Now().Add(5 * time.Second))
	for i, fr := range [][]byte{
		wsTestMasked(wsFin|wsOpPing, []byte("p1")),
		wsTestMasked(wsFin|wsOpText, []byte(`{"type":"ping"}`)),
		wsTestMasked(wsFin|wsOpPing, nil),
	} {
		// net.Pipe: a write returns once the reader has taken it all; it
		// fails when readLoop has ended (and closed the socket).
		if _, err := cli.Write(fr); err != nil {
			t.Fatalf("frame %d after our close: %v (readLoop stopped draining)", i, err)
		}
	}
	select {
	case <-done:
		t.Fatal("readLoop ended before the client's close frame")
	default:
	}
	if _, err := cli.Write(wsTestMasked(wsFin|wsOpClose, wsTestClosePayload(1000, ""))); err != nil {
		t.Fatalf("client close frame: %v", err)
	}
	wsTestExpectEnd(t, cli, done) // no pong, no second close frame
}

// TestWSFrameReadLoopCloseTimeout: a client that answers our close frame
// with pings only, never a close, is dropped at closeWith's read deadline
// (pings do not extend it).
func TestWSFrameReadLoopCloseTimeout(t *testing.T) {
	c, cli, done := wsTestReadLoop(t)
	start := time.Now()
	wsTestStartClose(t, c, cli)
	stop := make(chan struct{})
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = cli.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := cli.Write(wsTestMasked(wsFin|wsOpPing, []byte("still here"))); err != nil {
					return
				}
			}
		}
	}()
	defer func() {
		close(stop)
		<-pinged
	}()
	select {
	case <-done:
		if d := time.Since(start); d < time.Second {
			t.Errorf("readLoop ended after %v, before the close timeout", d)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("readLoop still running 6s after our close frame")
	}
}

// FuzzWSFrameRead feeds arbitrary client bytes to readMessage, with a
// fuzzed read limit, and checks the invariants of wsCheckOutcome. The same
// input is read a second time split at a fuzzed offset between the pre
// buffer and a connection yielding one byte per Read: the outcome must not
// depend on how the bytes arrived. And a third time with our close frame
// already sent: the same outcome, but nothing written (no pongs).
func FuzzWSFrameRead(f *testing.F) {
	for i, tc := range wsFrameCases() {
		limit := tc.readLimit
		if limit == 0 || limit > 0xffff {
			limit = 0xffff
		}
		f.Add(tc.in, uint16(limit), uint16(i*7))
	}
	f.Fuzz(func(t *testing.T, in []byte, limit16, split16 uint16) {
		limit := int(limit16)
		c, nc := newWSTestFrameConn(in, nil, limit)
		whole := wsReadAll(t, c, nc, len(in))
		wsCheckOutcome(t, whole, limit)

		split := 0
		if len(in) > 0 {
			split = int(split16) % (len(in) + 1)
		}
		c, nc = newWSTestFrameConn(in[:split], in[split:], limit)
		parts := wsReadAll(t, c, nc, len(in))
		if len(parts.msgs) != len(whole.msgs) {
			t.Fatalf("split at %d: %d messages, %d when read whole", split, len(parts.msgs), len(whole.msgs))
		}
		for i := range whole.msgs {
			if parts.msgs[i].op != whole.msgs[i].op || !bytes.Equal(parts.msgs[i].data, whole.msgs[i].data) {
				t.Errorf("split at %d: message %d differs", split, i)
			}
		}
		if a, b := wsDescribeErr(parts.err), wsDescribeErr(whole.err); a != b {
			t.Errorf("split at %d: error %s, %s when read whole", split, a, b)
		}
		if parts.controls != whole.controls || !bytes.Equal(parts.out, whole.out) {
			t.Errorf("split at %d: control frames or pongs differ", split)
		}

		c, nc = newWSTestFrameConn(in, nil, limit)
		c.closeSent = true
		closing := wsReadAll(t, c, nc, len(in))
		wsCheckOutcome(t, closing, limit)
		if len(closing.out) != 0 {
			t.Errorf("after our close frame: wrote % x", closing.out)
		}
		if len(closing.msgs) != len(whole.msgs) || closing.controls != whole.controls {
			t.Errorf("after our close frame: %d messages, %d controls; %d, %d otherwise", len(closing.msgs), closing.controls, len(whole.msgs), whole.controls)
		}
		if a, b := wsDescribeErr(closing.err), wsDescribeErr(whole.err); a != b {
			t.Errorf("after our close frame: error %s, %s otherwise", a, b)
		}
	})
}

// wsHijackRecorder is an http.ResponseWriter that can be hijacked: the
// hijacked connection records what wsUpgrade writes, and its reader holds
// pre as bytes already buffered past the request.
type wsHijackRecorder struct {
	h        http.Header
	status   int
	body     bytes.Buffer
	conn     *wsTestConn
	pre      []byte
	hijacked bool
}

func (w *wsHijackRecorder) Header() http.Header { return w.h }
func (w *wsHijackRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *wsHijackRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

func (w *wsHijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	br := bufio.NewReaderSize(bytes.NewReader(w.pre), max(16, len(w.pre)))
	if len(w.pre) > 0 {
		if _, err := br.Peek(len(w.pre)); err != nil {
			return nil, nil, err
		}
	}
	return w.conn, bufio.NewReadWriter(br, bufio.NewWriter(w.conn)), nil
}

type wsHandshakeInput struct {
	method, connection, upgrade, version, key, protocol, requestID string
	pre                                                            []byte
}

type wsHandshakeResult struct {
	fc     *wsFrameConn
	proto  string
	err    error
	rec    *wsHijackRecorder
	status string   // the 101 status line
	lines  []string // its header lines
}

func wsRunHandshake(in wsHandshakeInput) wsHandshakeResult {
	r := &http.Request{Method: in.method, Header: http.Header{}}
	for k, v := range map[string]string{
		"Connection": in.connection, "Upgrade": in.upgrade, "Sec-Websocket-Version": in.version,
		"Sec-Websocket-Key": in.key, "Sec-Websocket-Protocol": in.protocol,
	} {
		if v != "" {
			r.Header.Set(k, v)
		}
	}
	rec := &wsHijackRecorder{h: http.Header{}, conn: &wsTestConn{}, pre: in.pre}
	rec.h.Set("X-Request-Id", in.requestID) // as the middleware sets it
	fc, proto, err := wsUpgrade(rec, r, wsProtocols, 4096, time.Second)
	res := wsHandshakeResult{fc: fc, proto: proto, err: err, rec: rec}
	if out := rec.conn.out.String(); strings.HasSuffix(out, "\r\n\r\n") {
		lines := strings.Split(strings.TrimSuffix(out, "\r\n\r\n"), "\r\n")
		res.status, res.lines = lines[0], lines[1:]
	}
	return res
}

func wsTestAccept(key string) string {
	sum := sha1.Sum([]byte(key + wsAcceptGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func wsTestHasToken(v, token string) bool {
	for part := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(part), token) {
			return true
		}
	}
	return false
}

// wsCheckHandshake asserts what any handshake must keep: it succeeds
// exactly when the request is a valid version-13 upgrade; a success
// answers one well-formed 101 (no header line split or smuggled in) with
// the right Sec-WebSocket-Accept and a subprotocol of ours the client
// offered, and keeps the bytes buffered past the request; a failure
// answers over HTTP and writes nothing on the raw connection.
func wsCheckHandshake(t testing.TB, in wsHandshakeInput, res wsHandshakeResult) {
	t.Helper()
	raw, kerr := base64.StdEncoding.DecodeString(in.key)
	valid := in.method == http.MethodGet && wsTestHasToken(in.connection, "upgrade") &&
		wsTestHasToken(in.upgrade, "websocket") && in.version == "13" && kerr == nil && len(raw) == 16
	if !valid {
		if !errors.Is(res.err, errNotWebsocket) || res.fc != nil {
			t.Fatalf("invalid handshake %+v: conn %v, error %v; want errNotWebsocket", in, res.fc != nil, res.err)
		}
		if res.rec.status != http.StatusBadRequest && res.rec.status != http.StatusUpgradeRequired {
			t.Errorf("invalid handshake answered %d", res.rec.status)
		}
		if res.rec.hijacked || res.rec.conn.out.Len() > 0 {
			t.Errorf("invalid handshake hijacked the connection")
		}
		return
	}
	if res.err != nil || res.fc == nil {
		t.Fatalf("valid handshake %+v failed: %v (status %d)", in, res.err, res.rec.status)
	}
	if res.rec.status != 0 || res.rec.body.Len() > 0 {
		t.Errorf("valid handshake also answered over HTTP: %d %q", res.rec.status, res.rec.body.String())
	}
	out := res.rec.conn.out.String()
	if !strings.HasSuffix(out, "\r\n\r\n") || strings.Index(out, "\r\n\r\n") != len(out)-4 {
		t.Fatalf("the 101 response does not end at its only blank line: %q", out)
	}
	if res.status != "HTTP/1.1 101 Switching Protocols" {
		t.Errorf("status line %q", res.status)
	}
	headers := map[string][]string{}
	for _, l := range res.lines {
		if strings.ContainsAny(l, "\r\n") {
			t.Errorf("header line with a bare CR or LF: %q", l)
		}
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			t.Errorf("malformed header line %q", l)
			continue
		}
		k = http.CanonicalHeaderKey(k)
		headers[k] = append(headers[k], v)
	}
	want := map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-Websocket-Accept": wsTestAccept(in.key)}
	if res.proto != "" {
		want["Sec-Websocket-Protocol"] = res.proto
	}
	if !strings.ContainsAny(in.requestID, "\r\n") {
		want["X-Request-Id"] = in.requestID
	}
	for k, v := range want {
		if got := headers[k]; len(got) != 1 || got[0] != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	for k := range headers {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected header %s: %q", k, headers[k])
		}
	}
	if res.proto != "" {
		if !slices.Contains(wsProtocols, res.proto) {
			t.Errorf("chose %q, not one of ours", res.proto)
		}
		offered := false
		for part := range strings.SplitSeq(in.protocol, ",") {
			offered = offered || strings.TrimSpace(part) == res.proto
		}
		if !offered {
			t.Errorf("chose %q, which the client did not offer (%q)", res.proto, in.protocol)
		}
	}
	if !bytes.Equal(res.fc.pre, in.pre) {
		t.Errorf("kept %q of the bytes past the request, want %q", res.fc.pre, in.pre)
	}
	if res.fc.readLimit != 4096 || res.fc.writeTimeout != time.Second {
		t.Errorf("readLimit %d, writeTimeout %v", res.fc.readLimit, res.fc.writeTimeout)
	}
}

// The sample nonce of RFC 6455 §1.3 and its answer.
const (
	wsRFCKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	wsRFCAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

func wsHandshakeSeeds() []wsHandshakeInput {
	ok := wsHandshakeInput{method: "GET", connection: "Upgrade", upgrade: "websocket", version: "13", key: wsRFCKey,
		protocol: "graphql-transport-ws", requestID: "req-1"}
	with := func(f func(*wsHandshakeInput)) wsHandshakeInput { in := ok; f(&in); return in }
	return []wsHandshakeInput{
		ok,
		with(func(in *wsHandshakeInput) { in.connection = "keep-alive, UPGRADE"; in.upgrade = "WebSocket" }),
		with(func(in *wsHandshakeInput) { in.protocol = "foo, graphql-ws , graphql-transport-ws" }),
		with(func(in *wsHandshakeInput) { in.protocol = "" }),
		with(func(in *wsHandshakeInput) { in.protocol = "graphql-transport-ws-x" }),
		with(func(in *wsHandshakeInput) { in.pre = wsTestMasked(wsFin|wsOpText, []byte("early")) }),
		with(func(in *wsHandshakeInput) { in.requestID = "a\r\nSet-Cookie: x=1" }),
		with(func(in *wsHandshakeInput) { in.method = "POST" }),
		with(func(in *wsHandshakeInput) { in.connection = "keep-alive" }),
		with(func(in *wsHandshakeInput) { in.upgrade = "h2c" }),
		with(func(in *wsHandshakeInput) { in.version = "8" }),
		with(func(in *wsHandshakeInput) { in.key = "" }),
		with(func(in *wsHandshakeInput) { in.key = "dGhlIHNhbXBsZSBub25j" }),   // 15 bytes
		with(func(in *wsHandshakeInput) { in.key = "dGhlIHNhbXBsZSBub25jZQ" }), // no padding
	}
}

// TestWSFrameHandshakeCases: the RFC 6455 sample handshake and its failures.
func TestWSFrameHandshakeCases(t *testing.T) {
	seeds := wsHandshakeSeeds()
	for _, in := range seeds {
		wsCheckHandshake(t, in, wsRunHandshake(in))
	}
	res := wsRunHandshake(seeds[0])
	if res.err != nil || res.proto != protoTransportWS || !slices.Contains(res.lines, "Sec-WebSocket-Accept: "+wsRFCAccept) {
		t.Errorf("RFC sample: proto %q, error %v, headers %q", res.proto, res.err, res.lines)
	}
	if res := wsRunHandshake(seeds[2]); res.proto != protoGraphQLWS {
		t.Errorf("picked %q, want our first choice %q", res.proto, protoGraphQLWS)
	}
	if res := wsRunHandshake(seeds[4]); res.err != nil || res.proto != "" {
		t.Errorf("unknown subprotocol: proto %q, error %v", res.proto, res.err)
	}
	for i, status := range map[int]int{7: 400, 8: 400, 9: 400, 10: 426, 11: 400, 12: 400, 13: 400} {
		if res := wsRunHandshake(seeds[i]); res.rec.status != status {
			t.Errorf("seed %d: status %d, want %d", i, res.rec.status, status)
		}
	}
	if res := wsRunHandshake(seeds[10]); res.rec.h.Get("Sec-WebSocket-Version") != "13" {
		t.Errorf("426 without Sec-WebSocket-Version: 13")
	}
}

// FuzzWSHandshake: wsUpgrade on arbitrary header values keeps the
// invariants of wsCheckHandshake.
func FuzzWSHandshake(f *testing.F) {
	for _, in := range wsHandshakeSeeds() {
		f.Add(in.method, in.connection, in.upgrade, in.version, in.key, in.protocol, in.requestID, in.pre)
	}
	f.Fuzz(func(t *testing.T, method, connection, upgrade, version, key, protocol, requestID string, pre []byte) {
		in := wsHandshakeInput{method, connection, upgrade, version, key, protocol, requestID, pre}
		wsCheckHandshake(t, in, wsRunHandshake(in))
	})
}
