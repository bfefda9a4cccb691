package documents

import (
	"context"
	"strings"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/shop"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

func init() {
	// A refused document is a request error (400 with
	// application/graphql-response+json), like a parse failure.
	errcode.RegisterErrorType(string(Code), errcode.KindProtocol)
}

// ExtensionKeyDocumentID is where the POST transport puts a request's
// top-level "documentId" (GraphQL-over-HTTP trusted documents).
const ExtensionKeyDocumentID = "documentId"

// Extension resolves document ids to registered documents and, for shops
// in trusted-documents-only mode, refuses every other document from
// public callers. Register it BEFORE extension.AutomaticPersistedQuery and
// qlimits: a registered hash is answered from PostgreSQL (cached) without
// touching the APQ cache, and an untrusted document is refused before APQ
// could store it or anything could parse it.
type Extension struct{ Service *Service }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = Extension{}

// ExtensionName implements graphql.HandlerExtension.
func (Extension) ExtensionName() string { return "TrustedDocuments" }

// Validate implements graphql.HandlerExtension.
func (Extension) Validate(graphql.ExecutableSchema) error { return nil }

// requestedID returns the hash a request names: documentId ("sha256:<hex>")
// or Apollo's extensions.persistedQuery.sha256Hash.
func requestedID(p *graphql.RawParams) (hash string, named, valid bool) {
	if v, ok := p.Extensions[ExtensionKeyDocumentID].(string); ok {
		h, ok := ParseID(v)
		return h, true, ok && strings.HasPrefix(v, "sha256:")
	}
	if pq, ok := p.Extensions["persistedQuery"].(map[string]any); ok {
		if v, ok := pq["sha256Hash"].(string); ok {
			h, ok := ParseID(v)
			return h, true, ok
		}
	}
	return "", false, false
}

func refuse(code apperr.Code, msg string) *gqlerror.Error {
	ae := apperr.New(code, "%s", msg)
	return &gqlerror.Error{Err: ae, Message: msg, Extensions: map[string]any{"code": string(code)}}
}

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (e Extension) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil // no shop: the request fails later with SHOP_NOT_FOUND
	}
	hash, named, valid := requestedID(p)
	if named && !valid && p.Query == "" {
		return refuse(apperr.BadUserInput, "documentId must be sha256:<64 hex digits>")
	}
	if named && valid && p.Query == "" {
		body, ok, err := e.Service.Lookup(ctx, sh.ID, hash)
		if err != nil {
			return refuse(apperr.ServiceUnavailable, "trusted documents are unavailable, retry shortly")
		}
		if ok {
			p.Query = body
			return nil
		}
		if _, isDocID := p.Extensions[ExtensionKeyDocumentID]; isDocID {
			return refuse(Code, "no document with this documentId is registered for this shop")
		}
		// an APQ hash: APQ's own cache may know it, unless the shop
		// accepts only trusted documents (checked below).
	}
	pol, err := e.Service.PolicyOf(ctx, sh.ID)
	if err != nil {
		return refuse(apperr.ServiceUnavailable, "the shop's API policy is unavailable, retry shortly")
	}
	if !pol.TrustedDocumentsOnly || privileged(auth.FromContext(ctx)) {
		return nil
	}
	if p.Query == "" {
		return refuse(Code, "this shop accepts only registered documents: send the documentId of a registered document")
	}
	h := Hash(p.Query)
	if named && valid && h != hash {
		return refuse(apperr.BadUserInput, "the document does not match its hash")
	}
	if _, ok, err := e.Service.Lookup(ctx, sh.ID, h); err != nil {
		return refuse(apperr.ServiceUnavailable, "trusted documents are unavailable, retry shortly")
	} else if !ok {
		return refuse(Code, "this shop accepts only registered documents; this one is not registered")
	}
	return nil
}

// privileged callers (staff, secret keys) are not held to the allow-list:
// admin tools and back ends send ad-hoc documents.
func privileged(p *auth.Principal) bool {
	return p.Kind == auth.Staff || (p.Kind == auth.APIKey && p.KeyKind == "secret")
}
