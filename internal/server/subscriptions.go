package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
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
// and legacy graphql-ws) and SSE transports; call it before the POST
// transport, which would otherwise claim SSE requests. The websocket
// implementation is wrapped by guardedWebsocket (close codes 4401, 4408,
// 4409, 4429 and the subscription cap); connection_init goes through wsInit.
//
// The upgrade's Origin is checked by withSubscriptions (originVerdict: the
// gateway's and the Host's shop's CORS origins), so the websocket library's
// own same-host check is off.
func addSubscriptionTransports(gql *handler.Server, g *auth.Gateway, policy *wsPolicy, ping time.Duration) {
	gql.AddTransport(transport.Websocket{
		Implementation: guardedWebsocket{inner: transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{InsecureSkipVerify: true}}, policy: policy},
		InitFunc:       wsInit(g),
		// 0: guardedWebsocket enforces the init timeout with 4408 (gqlgen's
		// own closes with 1002).
		InitTimeout:           0,
		KeepAlivePingInterval: ping / 2, // legacy graphql-ws "ka"
		PingPongInterval:      ping,     // graphql-transport-ws ping; no pong in 2 intervals drops the client
	})
	gql.AddTransport(transport.SSE{KeepAlivePingInterval: 15 * time.Second})
}

// wsInit authenticates connection_init through the same auth.Gateway as
// HTTP: payload keys (or a "headers" object, as Apollo's connectionParams
// send) named like the HTTP headers — Authorization, X-Api-Key,
// X-Shopify-Storefront-Access-Token, X-Shop-Handle — override the upgrade
// request's headers. Refusals close with 4403 (4429 when throttled).
func wsInit(g *auth.Gateway) transport.WebsocketInitFunc {
	return func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
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
		if err == nil {
			if sess, ok := ctx.Value(wsSessionKey{}).(*wsSession); ok {
				if code, reason := sess.admit(creds, auth.FromContext(out)); code != 0 {
					ctx = transport.WithWebsocketCloseCode(ctx, code)
					return transport.AppendCloseReason(ctx, reason), nil, apperr.New(apperr.Unauthenticated, "%s", reason)
				}
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
			ctx = transport.WithWebsocketCloseCode(ctx, code)
			return transport.AppendCloseReason(ctx, truncate(msg, 100)), nil, apperr.New(apperr.CodeOf(err), "%s", msg)
		}
		return out, nil, nil
	}
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
func withSubscriptions(g *auth.Gateway, policy *wsPolicy, loadersMW func(http.Handler) http.Handler, maxBody, maxBodyPublic int64, gql http.Handler, next http.Handler) http.Handler {
	sse := withAuth(g, withBodyLimit(maxBody, maxBodyPublic, loadersMW(gql)))
	ws := loadersMW(gql)
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
			creds := auth.FromRequest(r)
			if !cookies {
				creds.Cookies = nil
			}
			sess := &wsSession{policy: policy, done: make(chan struct{})}
			defer sess.end()
			ctx := context.WithValue(r.Context(), wsCredsKey{}, creds)
			ctx = context.WithValue(ctx, wsSessionKey{}, sess)
			ws.ServeHTTP(w, r.WithContext(ctx))
		case isSubscriptionRequest(r):
			sse.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}
