package graph

import (
	"context"

	"cartograph/graph/model"
	"cartograph/internal/documents"
	"cartograph/internal/relay"
)

func (r *Resolver) registerTrustedDocuments(ctx context.Context, docs []*model.TrustedDocumentInput) (*model.TrustedDocumentsRegisterPayload, error) {
	in := make([]documents.Input, len(docs))
	for i, d := range docs {
		in[i] = documents.Input{Body: d.Body, Name: d.Name, Hash: d.ID}
	}
	out, ues, err := r.Documents.Register(ctx, in)
	if err != nil {
		return nil, err
	}
	return &model.TrustedDocumentsRegisterPayload{Documents: out, UserErrors: ptrs(ues)}, nil
}

func (r *Resolver) trustedDocuments(ctx context.Context, first *int, after *string) (*model.TrustedDocumentConnection, error) {
	p, err := relay.NewPage(first, nil, after, nil, defaultConnectionSize)
	if err != nil {
		return nil, err
	}
	c, err := r.Documents.List(ctx, p)
	return connection(c, err, func(cur string, n *documents.Document) *model.TrustedDocumentEdge {
		return &model.TrustedDocumentEdge{Cursor: cur, Node: n}
	}, func(e []*model.TrustedDocumentEdge, n []*documents.Document, info *relay.PageInfo) *model.TrustedDocumentConnection {
		return &model.TrustedDocumentConnection{Edges: e, Nodes: n, PageInfo: info}
	})
}
