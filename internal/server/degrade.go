package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/metrics"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// reqInfo is what the GraphQL layer learns about a request that the HTTP
// layer needs afterwards: the operation name and principal kind (metrics)
// and whether a needed dependency was unavailable (HTTP 503).
type reqInfo struct {
	mu          sync.Mutex
	op          string
	principal   string
	root        string
	unavailable bool
	retryAfter  string
}

type reqInfoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	i, _ := ctx.Value(reqInfoKey{}).(*reqInfo)
	return i
}

// unavailableWriter turns the 200 of a GraphQL response that carries a
// SERVICE_UNAVAILABLE error into 503 with Retry-After, so load balancers,
// CDNs and clients back off.
type unavailableWriter struct {
	http.ResponseWriter
	info   *reqInfo
	status int
}

func (w *unavailableWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.info.mu.Lock()
	unavailable, ra := w.info.unavailable, w.info.retryAfter
	w.info.mu.Unlock()
	if unavailable && code == http.StatusOK {
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", ra)
	}
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *unavailableWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *unavailableWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *unavailableWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// withObserve is the outermost layer of the GraphQL endpoint: it records
// the request in /metrics (operation, status, principal kind, latency) and
// turns SERVICE_UNAVAILABLE responses into HTTP 503.
func withObserve(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqInfo{principal: "none", retryAfter: "5"}
		uw := &unavailableWriter{ResponseWriter: w, info: info}
		next.ServeHTTP(uw, r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info)))
		info.mu.Lock()
		op, principal, root := info.op, info.principal, info.root
		info.mu.Unlock()
		status := uw.status
		if status == 0 {
			status = http.StatusOK
		}
		d := time.Since(start)
		metrics.Request(metrics.Operation(op), strconv.Itoa(status), principal, d)
		if root == "" {
			root = "none"
		}
		metrics.RootField(root, d)
	})
}

// observer is the gqlgen side of withObserve, and the one place string
// inputs are checked: invalid UTF-8 or NUL in the document or any variable
// is BAD_USER_INPUT before anything executes.
type observer struct{}

var (
	_ graphql.HandlerExtension        = observer{}
	_ graphql.OperationContextMutator = observer{}
	_ graphql.ResponseInterceptor     = observer{}
)

func (observer) ExtensionName() string                   { return "Observer" }
func (observer) Validate(graphql.ExecutableSchema) error { return nil }
func badString(s string) bool                            { return !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 }
func badInput(msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": string(apperr.BadUserInput)}}
}

// MutateOperationContext records the operation and checks string inputs.
func (observer) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if info := infoFrom(ctx); info != nil {
		info.mu.Lock()
		info.op = oc.OperationName
		if info.op == "" && oc.Operation != nil {
			info.op = oc.Operation.Name
		}
		info.principal = string(auth.FromContext(ctx).Kind)
		info.root = rootField(oc.Operation)
		info.mu.Unlock()
	}
	if badString(oc.RawQuery) || badString(oc.OperationName) {
		return badInput("the document contains invalid UTF-8 or a NUL character")
	}
	for name, v := range oc.Variables {
		if badString(name) || badValue(v, 0) {
			return badInput("variable $" + strings.ToValidUTF8(strings.ReplaceAll(name, "\x00", ""), "") + " contains invalid UTF-8 or a NUL character")
		}
	}
	if oc.Doc != nil {
		for _, op := range oc.Doc.Operations {
			if badSelection(op.SelectionSet, 0) || badDirectives(op.Directives) {
				return badInput("an argument contains invalid UTF-8 or a NUL character")
			}
		}
		for _, f := range oc.Doc.Fragments {
			if badSelection(f.SelectionSet, 0) || badDirectives(f.Directives) {
				return badInput("an argument contains invalid UTF-8 or a NUL character")
			}
		}
	}
	return nil
}

// maxWalk bounds the recursion (documents and variables are already
// bounded in size and depth before this runs).
const maxWalk = 64

func badValue(v any, depth int) bool {
	if depth > maxWalk {
		return false
	}
	switch x := v.(type) {
	case string:
		return badString(x)
	case map[string]any:
		for k, e := range x {
			if badString(k) || badValue(e, depth+1) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if badValue(e, depth+1) {
				return true
			}
		}
	}
	return false
}

func badAST(v *ast.Value, depth int) bool {
	if v == nil || depth > maxWalk {
		return false
	}
	if (v.Kind == ast.StringValue || v.Kind == ast.BlockValue || v.Kind == ast.EnumValue) && badString(v.Raw) {
		return true
	}
	for _, c := range v.Children {
		if badString(c.Name) || badAST(c.Value, depth+1) {
			return true
		}
	}
	return false
}

func badDirectives(ds ast.DirectiveList) bool {
	for _, d := range ds {
		for _, a := range d.Arguments {
			if badAST(a.Value, 0) {
				return true
			}
		}
	}
	return false
}

func badSelection(set ast.SelectionSet, depth int) bool {
	if depth > maxWalk {
		return false
	}
	for _, s := range set {
		switch x := s.(type) {
		case *ast.Field:
			for _, a := range x.Arguments {
				if badAST(a.Value, 0) {
					return true
				}
			}
			if badDirectives(x.Directives) || badSelection(x.SelectionSet, depth+1) {
				return true
			}
		case *ast.InlineFragment:
			if badDirectives(x.Directives) || badSelection(x.SelectionSet, depth+1) {
				return true
			}
		case *ast.FragmentSpread:
			if badDirectives(x.Directives) {
				return true
			}
		}
	}
	return false
}

// InterceptResponse flags SERVICE_UNAVAILABLE for the HTTP layer.
func (observer) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	info := infoFrom(ctx)
	if resp == nil || info == nil {
		return resp
	}
	for _, e := range resp.Errors {
		code, _ := e.Extensions["code"].(string)
		metrics.GraphQLError(code)
		if code == string(apperr.ServiceUnavailable) {
			info.mu.Lock()
			info.unavailable = true
			if ra, ok := e.Extensions["retryAfter"]; ok {
				info.retryAfter = toString(ra)
			}
			info.mu.Unlock()
			break
		}
	}
	return resp
}

func toString(v any) string {
	switch x := v.(type) {
	case int:
		return strconv.Itoa(x)
	case string:
		return x
	}
	return "5"
}

// readiness reports each dependency. Only PostgreSQL failing makes the
// instance not ready (503): without Redis it still serves catalog reads
// (carts and checkout answer SERVICE_UNAVAILABLE), and failing every
// instance for an outage none of them can fix would take the whole
// storefront down. Body: {"status":"ok|degraded|unavailable",
// "postgres":"ok|unreachable","redis":"ok|unreachable","ratelimit":"shared|local"}.
func (s *Server) readiness(ctx context.Context) (map[string]string, int) {
	status := map[string]string{"status": "ok", "postgres": "ok", "redis": "ok", "ratelimit": "shared"}
	code := http.StatusOK
	rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if err := s.deps.Redis.Ping(rctx).Err(); err != nil {
		status["redis"], status["status"] = "unreachable", "degraded"
	}
	if s.limiter != nil && s.limiter.Degraded() {
		status["ratelimit"] = "local"
	}
	if err := s.deps.DB.Ping(ctx); err != nil {
		status["postgres"], status["status"], code = "unreachable", "unavailable", http.StatusServiceUnavailable
	}
	return status, code
}

// rootField is the operation's first root field as a metrics label: a
// schema field name (validated documents only), so the label set is
// bounded by the schema.
func rootField(op *ast.OperationDefinition) string {
	if op == nil {
		return ""
	}
	for _, s := range op.SelectionSet {
		if f, ok := s.(*ast.Field); ok && f.Definition != nil {
			return f.Definition.Name
		}
	}
	return ""
}
