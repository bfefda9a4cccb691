package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/cost"
	"cartograph/internal/metrics"
	"cartograph/internal/ratelimit"

	"github.com/redis/go-redis/v9"
)

type requestIDKey struct{}

// RequestID returns the request's id ("" outside a request).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// withRequestLog assigns a request id (honouring a sane incoming
// X-Request-Id), recovers panics as a coded INTERNAL response, and logs one
// line per request. Successful requests log at debug to keep the hot path
// cheap; errors and slow requests at info/warn.
func withRequestLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if len(id) == 0 || len(id) > 64 {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(ctx, "http panic", "request_id", id, "panic", p)
				if sw.status == 0 {
					writeError(sw, http.StatusInternalServerError, apperr.Internal, "internal error (request id "+id+")", nil)
				}
			}
			d := time.Since(start)
			lvl := slog.LevelDebug
			if sw.status >= 500 {
				lvl = slog.LevelError
			} else if sw.status >= 400 || d > time.Second {
				lvl = slog.LevelInfo
			}
			log.Log(ctx, lvl, "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "bytes", sw.bytes, "duration_ms", float64(d.Microseconds())/1000)
		}()
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// withAuth runs the auth gateway (API key → session → shop → anonymous,
// then the rate limit). Failures answer before any GraphQL runs:
// UNAUTHENTICATED 401, SHOP_NOT_FOUND 404, THROTTLED 429 with Retry-After.
//
// With deferRate (the GraphQL endpoint) the principal's rate-limit check is
// left in the principal for the query-cost extension to send in the same
// Redis round trip as its bucket take (one round trip per request, not
// two); a request that ends before reaching it (refused by a document
// limit, the body size, validation) makes the check when it ends, so it is
// counted all the same.
func withAuth(g *auth.Gateway, deferRate bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		creds := auth.FromRequest(r)
		creds.DeferRateLimit = deferRate
		ctx, err := g.Authenticate(r.Context(), creds)
		if err != nil {
			ae, ok := apperr.As(err)
			if !ok || ae.Code == apperr.Internal {
				writeError(w, http.StatusInternalServerError, apperr.Internal, "internal error (request id "+RequestID(r.Context())+")", nil)
				return
			}
			status := http.StatusBadRequest
			switch ae.Code {
			case apperr.Unauthenticated:
				status = http.StatusUnauthorized
			case apperr.ShopNotFound:
				status = http.StatusNotFound
			case apperr.ServiceUnavailable:
				status = http.StatusServiceUnavailable
				w.Header().Set("Retry-After", "5")
			case apperr.Throttled:
				status = http.StatusTooManyRequests
				if ra, ok := ae.Extensions["retryAfter"].(int); ok {
					w.Header().Set("Retry-After", strconv.Itoa(ra))
				}
			}
			writeError(w, status, ae.Code, ae.Message, ae.Extensions)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
		if pd := auth.FromContext(ctx).PendingRateLimit(); pd != nil && !pd.Made() {
			countThrottle(pd.Check(context.WithoutCancel(ctx)))
		}
	})
}

// rateRider is the request's deferred rate-limit check as a rider of the
// query-cost take (nil when authentication made it already).
func rateRider(ctx context.Context) cost.Rider {
	if pd := auth.FromContext(ctx).PendingRateLimit(); pd != nil {
		return countedRider{pd}
	}
	return nil
}

// countedRider counts the throttles of a deferred rate-limit check as
// authentication counts its own.
type countedRider struct{ p *ratelimit.Pending }

func (c countedRider) Queue(ctx context.Context, pipe redis.Pipeliner) func(context.Context) error {
	result := c.p.Queue(ctx, pipe)
	return func(ctx context.Context) error { return countThrottle(result(ctx)) }
}

func (c countedRider) Check(ctx context.Context) error { return countThrottle(c.p.Check(ctx)) }

func countThrottle(err error) error {
	if apperr.CodeOf(err) == apperr.Throttled {
		metrics.RateLimited("principal")
	}
	return err
}

// withDeclaredSize refuses, before authentication (no lookup, no Redis), a
// request whose declared Content-Length is above what its caller could be
// allowed: the private limit for anyone, the public one when the request
// presents no credential that could be trusted (auth.MayBeTrusted). The
// body is not read. withBodyLimit still applies the authenticated
// caller's limit after.
func withDeclaredSize(private, public int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > public {
			limit := private
			if !auth.MayBeTrusted(r) {
				limit = public
			}
			if r.ContentLength > limit {
				// The unread body is not worth draining: close after replying.
				w.Header().Set("Connection", "close")
				writeTooLarge(w, limit)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// withBodyLimit caps request bodies by caller: public callers (anonymous,
// pk_ keys, customers) get public, staff and secret keys private. It runs
// after authentication, so an over-long declared body is refused from its
// Content-Length without reading a byte, and a failed authentication never
// reads the body at all. A POST body is read once here (invalid UTF-8 is
// refused before JSON decoding silently turns it into U+FFFD) and handed
// on as a *readBody, which the POST transport uses without copying.
func withBodyLimit(private, public int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := public
		if trusted(auth.FromContext(r.Context())) {
			limit = private
		}
		if r.ContentLength > limit {
			writeTooLarge(w, limit)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if r.Method == http.MethodPost {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				if _, ok := err.(*http.MaxBytesError); ok {
					writeTooLarge(w, limit)
				} else {
					writeError(w, http.StatusBadRequest, apperr.BadUserInput, "could not read request body", nil)
				}
				return
			}
			if !utf8.Valid(b) {
				writeError(w, http.StatusBadRequest, apperr.BadUserInput, "request body is not valid UTF-8", nil)
				return
			}
			r.Body = &readBody{Reader: bytes.NewReader(b), b: b}
		}
		next.ServeHTTP(w, r)
	})
}

// writeTooLarge is the 413 of a body over limit bytes.
func writeTooLarge(w http.ResponseWriter, limit int64) {
	writeError(w, http.StatusRequestEntityTooLarge, apperr.BadUserInput, "request body too large", map[string]any{"maxBytes": limit})
}

// readBody is a request body already read (and checked) by withBodyLimit.
type readBody struct {
	*bytes.Reader
	b []byte
}

func (*readBody) Close() error { return nil }

// bodyBytes returns r's whole body: without a copy when withBodyLimit has
// read it.
func bodyBytes(r *http.Request) ([]byte, error) {
	if rb, ok := r.Body.(*readBody); ok {
		return rb.b, nil
	}
	return io.ReadAll(r.Body)
}

// protocolStatus rewrites gqlgen's 422 for unusable requests (no query,
// unparsable document) to 400 as the GraphQL-over-HTTP spec asks.
type protocolStatus struct{ http.ResponseWriter }

func (w protocolStatus) WriteHeader(code int) {
	if code == http.StatusUnprocessableEntity {
		code = http.StatusBadRequest
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w protocolStatus) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeError(w http.ResponseWriter, status int, code apperr.Code, msg string, ext map[string]any) {
	w.Header().Set("Content-Type", "application/graphql-response+json")
	w.WriteHeader(status)
	_, _ = w.Write(errorBody(code, msg, ext))
}

// withTimeout bounds a request: its context (which net/http already
// cancels when the client disconnects) is cancelled after d, and resolvers,
// dataloaders and SQL stop with it.
func withTimeout(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
