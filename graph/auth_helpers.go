package graph

import (
	"cartograph/graph/model"
	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/relay"

	"github.com/google/uuid"
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

// idPage validates first/after for id-ordered admin lists.
func idPage(first *int, after *string, key string) (relay.Page, *uuid.UUID, error) {
	p, err := relay.NewPage(first, nil, after, nil, defaultConnectionSize)
	if err != nil {
		return p, nil, err
	}
	if p.After == "" {
		return p, nil, nil
	}
	parts, err := relay.DecodeCursor("after", p.After, key, 1)
	if err != nil {
		return p, nil, err
	}
	id, err := uuid.Parse(parts[0])
	if err != nil {
		return p, nil, apperr.BadInput("after", "invalid cursor for this query")
	}
	return p, &id, nil
}

func idPageInfo(n int, more, hadAfter bool, cursor func(int) *string) relay.PageInfo {
	info := relay.PageInfo{HasNextPage: more, HasPreviousPage: hadAfter}
	if n > 0 {
		info.StartCursor, info.EndCursor = cursor(0), cursor(n-1)
	}
	return info
}
