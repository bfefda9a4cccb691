// Package model holds the GraphQL models: gqlgen generates models_gen.go;
// the hand-written views here wrap domain rows (never exposing secrets such
// as password or key hashes).
package model

import (
	"cartograph/internal/dbq"
	"cartograph/internal/relay"
	"strings"
)

// Customer is the GraphQL view of a customer (never the password hash).
type Customer struct{ dbq.Customer }

// IsNode marks Customer as a Node.
func (*Customer) IsNode() {}

// NodeID is the customer's global ID.
func (c *Customer) NodeID() string { return relay.GlobalID("Customer", c.ID) }

// DisplayName is "First Last", or the email when no name is known.
func (c *Customer) DisplayName() string {
	if n := strings.TrimSpace(c.FirstName + " " + c.LastName); n != "" {
		return n
	}
	return c.Email
}

// CustomerEdge is an edge of CustomerConnection.
type CustomerEdge struct {
	Cursor string
	Node   *Customer
}

// CustomerConnection is a page of customers.
type CustomerConnection struct {
	Edges    []CustomerEdge
	PageInfo relay.PageInfo
}

// Nodes lists the page's customers.
func (c *CustomerConnection) Nodes() []*Customer {
	return relay.Nodes(c.Edges, func(e *CustomerEdge) *Customer { return e.Node })
}

// APIKey is the GraphQL view of an API key (never its hash).
type APIKey struct{ dbq.ApiKey }

// IsNode marks APIKey as a Node.
func (*APIKey) IsNode() {}

// NodeID is the key's global ID.
func (k *APIKey) NodeID() string { return relay.GlobalID("ApiKey", k.ID) }

// KindEnum maps the stored kind to the GraphQL enum.
func (k *APIKey) KindEnum() APIKeyKind {
	if k.Kind == "secret" {
		return APIKeyKindSecret
	}
	return APIKeyKindPublic
}

// APIKeyEdge is an edge of APIKeyConnection.
type APIKeyEdge struct {
	Cursor string
	Node   *APIKey
}

// APIKeyConnection is a page of API keys.
type APIKeyConnection struct {
	Edges    []APIKeyEdge
	PageInfo relay.PageInfo
}

// Nodes lists the page's keys.
func (c *APIKeyConnection) Nodes() []*APIKey {
	return relay.Nodes(c.Edges, func(e *APIKeyEdge) *APIKey { return e.Node })
}
