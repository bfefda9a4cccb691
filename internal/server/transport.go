package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"cartograph/graph/generated"
	"cartograph/internal/apperr"
	"cartograph/internal/documents"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

const (
	ctGraphQLResponse = "application/graphql-response+json"
	ctJSON            = "application/json"
)

// postJSON is the GraphQL-over-HTTP POST transport. It replaces gqlgen's
// transport.POST for one reason: that one re-encodes the whole response
// through encoding/json, which validates and compacts the already-encoded
// data (8 % of CPU on the listing benchmark). Here the data bytes gqlgen
// produced are written as they are; only errors/extensions go through
// encoding/json. Status codes follow the spec: a body that is not a
// GraphQL-over-HTTP request (bad JSON, no query) is 400; with
// application/graphql-response+json, a request error (no data) is 400 too.
type postJSON struct{}

var _ graphql.Transport = postJSON{}

func (postJSON) Supports(r *http.Request) bool {
	if r.Method != http.MethodPost || r.Header.Get("Upgrade") != "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == ctJSON
}

// responseType picks the response media type: application/graphql-response+json
// only when the client names it; application/json for no Accept, */*,
// application/* or application/json (what legacy clients and curl expect).
func responseType(r *http.Request) string {
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == ctGraphQLResponse {
			return ctGraphQLResponse
		}
	}
	return ctJSON
}

// errorStatus is the HTTP status for a response whose errors say the
// request was refused as a whole: THROTTLED is 429 (with Retry-After),
// whatever the media type, so every client backs off the same way;
// MAX_COST_EXCEEDED and document-limit errors (no data) are 400.
func errorStatus(w http.ResponseWriter, resp *graphql.Response) int {
	for _, e := range resp.Errors {
		switch e.Extensions["code"] {
		case string(apperr.Throttled):
			if ra, ok := e.Extensions["retryAfter"]; ok {
				w.Header().Set("Retry-After", fmt.Sprint(ra))
			}
			return http.StatusTooManyRequests
		case string(apperr.MaxCostExceeded), "QUERY_TOO_COMPLEX", string(documents.Code):
			if len(resp.Data) == 0 || string(resp.Data) == "null" {
				return http.StatusBadRequest
			}
		}
	}
	return http.StatusOK
}

func (postJSON) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	ct := responseType(r)
	w.Header().Set("Content-Type", ct)
	start := graphql.Now()
	body, err := bodyBytes(r)
	if err != nil {
		status := http.StatusBadRequest
		if _, ok := err.(*http.MaxBytesError); ok {
			status = http.StatusRequestEntityTooLarge
		}
		writeResponse(w, status, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body")}))
		return
	}
	var req struct {
		graphql.RawParams
		// DocumentID names a registered document (GraphQL-over-HTTP
		// trusted documents): internal/documents resolves it.
		DocumentID string `json:"documentId"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err = dec.Decode(&req)
	params := req.RawParams
	if req.DocumentID != "" {
		if params.Extensions == nil {
			params.Extensions = map[string]any{}
		}
		params.Extensions[documents.ExtensionKeyDocumentID] = req.DocumentID
	}
	if err != nil {
		writeResponse(w, http.StatusBadRequest, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("request body is not valid GraphQL-over-HTTP JSON: %v", err)}))
		return
	}
	if params.Query == "" && params.Extensions["persistedQuery"] == nil && req.DocumentID == "" {
		writeResponse(w, http.StatusBadRequest, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("request has no query")}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	rc, errs := exec.CreateOperationContext(ctx, &params)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		status := errorStatus(w, resp)
		if status == http.StatusOK && ct == ctGraphQLResponse && errcode.GetErrorKind(errs) == errcode.KindProtocol {
			status = http.StatusBadRequest
		}
		writeResponse(w, status, resp)
		return
	}
	// The data is marshalled into a pooled buffer, returned once written.
	ctx, release := generated.WithResponseData(ctx)
	defer release()
	responses, ctx := exec.DispatchOperation(ctx, rc)
	resp := responses(ctx)
	writeResponse(w, errorStatus(w, resp), resp)
}

// writeResponse writes status and {"errors":…,"data":…,"extensions":…}
// with the data bytes as produced by the executor, written as they are
// (not copied into another buffer) after a Content-Length that counts
// them.
func writeResponse(w http.ResponseWriter, status int, resp *graphql.Response) {
	head := append(make([]byte, 0, 128), '{')
	if len(resp.Errors) > 0 {
		head = appendMember(head, "errors", resp.Errors)
	}
	if resp.Data != nil {
		if len(head) > 1 {
			head = append(head, ',')
		}
		head = append(head, `"data":`...)
	}
	var tail []byte
	if len(resp.Extensions) > 0 {
		if len(head) > 1 {
			tail = append(tail, ',')
		}
		tail = append(tail, `"extensions":`...)
		tail = appendExtensions(tail, resp.Extensions)
	}
	tail = append(tail, '}')
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+len(resp.Data)+len(tail)))
	w.WriteHeader(status)
	_, _ = w.Write(head)
	_, _ = w.Write(resp.Data)
	_, _ = w.Write(tail)
}

// jsonAppender is a value that writes its own JSON without reflection
// (cost.Report: extensions.cost on every response and subscription event).
type jsonAppender interface{ AppendJSON([]byte) []byte }

// appendExtensions appends ext as encoding/json writes it (keys sorted),
// values that are jsonAppenders by themselves.
func appendExtensions(b []byte, ext map[string]any) []byte {
	var one [4]string
	keys := one[:0]
	for k := range ext {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, k)
		if a, ok := ext[k].(jsonAppender); ok {
			b = a.AppendJSON(b)
			continue
		}
		v, err := json.Marshal(ext[k])
		if err != nil {
			v = []byte("null")
		}
		b = append(b, v...)
	}
	return append(b, '}')
}

// appendKey appends "k": (escaped by encoding/json unless plain ASCII).
func appendKey(b []byte, k string) []byte {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			kb, _ := json.Marshal(k)
			return append(append(b, kb...), ':')
		}
	}
	b = append(b, '"')
	b = append(b, k...)
	return append(b, '"', ':')
}

// appendMember appends "name":v.
func appendMember(b []byte, name string, v any) []byte {
	enc, err := json.Marshal(v)
	if err != nil {
		enc = []byte("null")
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return append(b, enc...)
}
