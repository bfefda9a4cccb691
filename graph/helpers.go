package graph

import (
	"context"

	"cartograph/internal/apperr"
	"cartograph/internal/loaders"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// defaultConnectionSize is used by nested connections when neither first nor
// last is given (top-level lists require one, like Shopify's).
const defaultConnectionSize = 20

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// subFields returns the child fields of the field named name inside sels
// (merging repeated selections and fragments).
func subFields(opCtx *graphql.OperationContext, sels ast.SelectionSet, name string) []graphql.CollectedField {
	var out []graphql.CollectedField
	for _, f := range graphql.CollectFields(opCtx, sels, nil) {
		if f.Name == name {
			out = append(out, graphql.CollectFields(opCtx, f.Selections, nil)...)
		}
	}
	return out
}

// productChildren reports which per-product edges a selection of Product
// fields uses, so the parent resolver can prime them in one batch each.
func productChildren(opCtx *graphql.OperationContext, fields []graphql.CollectedField, c *loaders.Children) {
	for _, f := range fields {
		switch f.Name {
		case "variants":
			c.Variants = true
			var vf []graphql.CollectedField
			vf = append(vf, subFields(opCtx, f.Selections, "nodes")...)
			for _, e := range graphql.CollectFields(opCtx, f.Selections, nil) {
				if e.Name == "edges" {
					vf = append(vf, subFields(opCtx, e.Selections, "node")...)
				}
			}
			for _, v := range vf {
				if v.Name == "image" {
					c.Images = true
				}
			}
		case "availableForSale", "totalInventory", "compareAtPriceRange":
			c.Variants = true
		case "featuredImage", "images":
			c.Images = true
		case "options":
			c.Options = true
		case "collections":
			c.Collections = true
		}
	}
}

// connectionChildren inspects the current field (a ProductConnection) and
// returns the product edges its edges.node / nodes selections need.
func connectionChildren(ctx context.Context) loaders.Children {
	var c loaders.Children
	opCtx := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		switch f.Name {
		case "nodes":
			productChildren(opCtx, graphql.CollectFields(opCtx, f.Selections, nil), &c)
		case "edges":
			productChildren(opCtx, subFields(opCtx, f.Selections, "node"), &c)
		}
	}
	return c
}

// productFieldChildren inspects the current field (a Product or a list of
// Products) and returns the edges its selection needs.
func productFieldChildren(ctx context.Context) loaders.Children {
	var c loaders.Children
	productChildren(graphql.GetOperationContext(ctx), graphql.CollectFieldsCtx(ctx, nil), &c)
	return c
}

func relayBothErr(a, b string) error {
	return apperr.BadInput(a, "pass either %s or %s, not both", a, b)
}

func relayNeitherErr(a, b string) error {
	return apperr.BadInput(a, "pass %s or %s", a, b)
}
