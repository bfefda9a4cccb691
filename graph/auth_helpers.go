package graph

import (
	"cartograph/graph/model"
	"cartograph/internal/auth"
	"cartograph/internal/relay"
)

// ptrs points at each element of xs (gqlgen models want []*T).
func ptrs[T any](xs []T) []*T {
	out := make([]*T, len(xs))
	for i := range xs {
		out[i] = &xs[i]
	}
	return out
}

func staffSession(s *auth.Session, err error) (*model.StaffSession, error) {
	if err != nil {
		return nil, err
	}
	return &model.StaffSession{AccessToken: s.AccessToken, ExpiresAt: s.ExpiresAt, RefreshToken: s.RefreshToken, Role: s.Role, Scopes: s.Scopes}, nil
}

// connection maps a service page (relay.Conn) onto a generated GraphQL
// connection: the one mechanical mapping for every paginated admin list.
func connection[N, E, C any](c relay.Conn[N], err error, edge func(cursor string, n N) E, build func(edges []E, nodes []N, info *relay.PageInfo) C) (C, error) {
	if err != nil {
		var zero C
		return zero, err
	}
	edges := make([]E, len(c.Edges))
	for i := range c.Edges {
		edges[i] = edge(c.Edges[i].Cursor, c.Edges[i].Node)
	}
	info := c.PageInfo
	return build(edges, c.Nodes(), &info), nil
}
