package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/shop"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// Websocket close codes (graphql-transport-ws): 4403 refuses the
// connection_init credentials (and closes a connection whose credentials
// expired or were revoked) — unlike gqlgen's default 1000, graphql-ws
// clients do not reconnect in a tight loop on it. More in wsguard.go.
const (
	closeForbidden = 4403
	closeThrottled = 4429
	closeInternal  = 1011
)

type wsCredsKey struct{}

// addSubscriptionTransports registers the websocket (graphql-transport-ws
// and legacy graphql-ws, wsTransport) and SSE transports; call it before
// the POST transport, which would otherwise claim SSE requests.
//
// The upgrade's Origin is checked by withSubscriptions (originVerdict: the
// gateway's and the Host's shop's CORS origins).
func addSubscriptionTransports(gql *handler.Server, policy *wsPolicy, log *slog.Logger, ping time.Duration) {
	gql.AddTransport(&wsTransport{policy: policy, log: log,
		ping:      ping,     // graphql-transport-ws ping; a client silent for two intervals is dropped
		keepAlive: ping / 2, // legacy graphql-ws "ka"
		readLimit: 1 << 20, writeTimeout: 10 * time.Second})
	gql.AddTransport(transport.SSE{KeepAlivePingInterval: 15 * time.Second})
}

// wsAuthenticate authenticates connection_init through the same
// auth.Gateway as HTTP: payload keys (or a "headers" object, as Apollo's
// connectionParams send) named like the HTTP headers — Authorization,
// X-Api-Key, X-Shopify-Storefront-Access-Token, X-Shop-Handle — override
// the upgrade request's headers. A refusal returns the close code: 4403
// (4429 when throttled, 4401 without credentials, 1011 on an internal
// error) and its reason.
func wsAuthenticate(g *auth.Gateway, ctx context.Context, sess *wsSession, p map[string]any) (context.Context, int, string, error) {
	creds, _ := ctx.Value(wsCredsKey{}).(auth.Credentials)
	h := http.Header{}
	for k, v := range creds.Header {
		h[k] = v
	}
	set := func(m map[string]any) {
		for k, v := range m {
			if s, ok := v.(string); ok && len(s) <= 4096 {
				switch http.CanonicalHeaderKey(k) {
				case "Authorization", "X-Api-Key", "X-Shopify-Storefront-Access-Token", "X-Shop-Handle":
					h.Set(k, s)
				}
			}
		}
	}
	if hs, ok := p["headers"].(map[string]any); ok {
		set(hs)
	}
	set(p)
	creds.Header = h
	out, err := g.Authenticate(ctx, creds)
	if err == nil && sess != nil {
		if code, reason := sess.admit(creds, auth.FromContext(out)); code != 0 {
			return ctx, code, reason, apperr.New(apperr.Unauthenticated, "%s", reason)
		}
	}
	if err != nil {
		code := closeInternal
		switch apperr.CodeOf(err) {
		case apperr.Unauthenticated, apperr.ShopNotFound, apperr.Forbidden:
			code = closeForbidden
		case apperr.Throttled:
			code = closeThrottled
		}
		msg := "internal error"
		if ae, ok := apperr.As(err); ok && ae.Code != apperr.Internal {
			msg = ae.Message
		}
		return ctx, code, truncate(msg, 100), apperr.New(apperr.CodeOf(err), "%s", msg)
	}
	return out, 0, "", nil
}

// wsCredentials keeps what authentication reads from the upgrade request
// (the connection holds them for its revalidation): the credential and
// shop headers, the Host, the session cookie and the client address.
func wsCredentials(r *http.Request, cookies bool) auth.Credentials {
	creds := auth.Credentials{Header: http.Header{}, Host: r.Host, RemoteIP: auth.FromRequest(r).RemoteIP}
	for _, k := range []string{"Authorization", "X-Api-Key", "X-Shopify-Storefront-Access-Token", "Shopify-Storefront-Private-Token", shop.HeaderHandle} {
		if v := r.Header.Values(k); len(v) > 0 {
			creds.Header[k] = v
		}
	}
	if cookies {
		if ck, err := r.Cookie(auth.SessionCookie); err == nil {
			creds.Cookies = []*http.Cookie{ck}
		}
	}
	return creds
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// isSubscriptionRequest reports a websocket upgrade or an SSE request.
func isSubscriptionRequest(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" ||
		(r.Method == http.MethodPost && strings.Contains(r.Header.Get("Accept"), "text/event-stream"))
}

// withSubscriptions routes websocket upgrades and SSE requests to their own
// chain: no request timeout (they are long-lived); SSE authenticates from
// its headers like any request, websockets in connection_init (browsers
// cannot set headers on an upgrade). Dataloaders and the body limit apply
// to both.
//
// A websocket connection gets its loaders lazily (lazyLoaders): made when
// a subscription first needs one, kept for the connection.
func withSubscriptions(g *auth.Gateway, policy *wsPolicy, loadersMW func(http.Handler) http.Handler, lazyLoaders func(context.Context) context.Context, maxBody, maxBodyPublic int64, gql http.Handler, next http.Handler) http.Handler {
	sse := withAuth(g, false, withBodyLimit(maxBody, maxBodyPublic, loadersMW(gql)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Upgrade") != "":
			// A browser sends its cookies with any websocket upgrade: a
			// page of another origin gets a socket only if CORS admits
			// its origin, and cookies only where CORS would allow
			// credentials (cross-site websocket hijacking).
			allowed, cookies := originVerdict(r)
			if !allowed {
				writeError(w, http.StatusForbidden, apperr.Forbidden, "this origin may not open a websocket here (ALLOWED_ORIGINS or the shop's allowedOrigins)", nil)
				return
			}
			sess := &wsSession{policy: policy}
			defer sess.endUnlessAttached()
			ctx := context.WithValue(r.Context(), wsCredsKey{}, wsCredentials(r, cookies))
			ctx = context.WithValue(ctx, wsSessionKey{}, sess)
			gql.ServeHTTP(w, r.WithContext(lazyLoaders(ctx)))
		case isSubscriptionRequest(r):
			sse.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}
