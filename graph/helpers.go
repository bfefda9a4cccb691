package graph

import (
	"context"
	"encoding/json"

	"cartograph/graph/model"
	"cartograph/internal/apperr"
	"cartograph/internal/catalog"
	"cartograph/internal/content"
	"cartograph/internal/loaders"
	"cartograph/internal/localization"
	"cartograph/internal/markets"
	"cartograph/internal/relay"
	"cartograph/internal/shop"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
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
			// ProductOption is @synchronous: its optionValues read the
			// variants, so prime them when optionValues is selected.
			c.Options = true
			if len(subFields(opCtx, f.Selections, "optionValues")) > 0 {
				c.Variants = true
			}
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

func selections(in []*model.SelectedOptionInput) []catalog.Selection {
	out := make([]catalog.Selection, len(in))
	for i, s := range in {
		out[i] = catalog.Selection{Name: s.Name, Value: s.Value}
	}
	return out
}

func matchOptions(ignoreUnknown, caseInsensitive *bool) catalog.MatchOptions {
	return catalog.MatchOptions{IgnoreUnknown: deref(ignoreUnknown, false), CaseInsensitive: deref(caseInsensitive, false)}
}

// encodedVariants encodes the product's variants kept by keep in Shopify's
// v1 option-value encoding; null for a product without variants.
func (r *Resolver) encodedVariants(ctx context.Context, p *catalog.Product, keep func(*catalog.Variant) bool) (*string, error) {
	l := loaders.For(ctx)
	opts, err := l.OptionsByProduct.Load(ctx, p.ID)()
	if err != nil {
		return nil, err
	}
	vs, err := l.VariantsByProduct.Load(ctx, p.ID)()
	if err != nil {
		return nil, err
	}
	s := catalog.EncodeVariants(opts, vs, keep)
	return &s, nil
}

// InContext implements @inContext: the operation runs in the requested
// country and language when the shop sells there, else in its defaults
// (internal/localization), and its catalog prices are the market's of that
// country (internal/markets). buyer and preferredLocationId are accepted
// and not used yet.
func (r *Resolver) InContext(ctx context.Context, _ any, next graphql.Resolver, country *model.CountryCode, language *model.LanguageCode, _ *model.BuyerInput, _ *string) (any, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	var c, l string
	if country != nil {
		c = string(*country)
	}
	if language != nil {
		l = string(*language)
	}
	snap, err := r.Markets.For(ctx, sh)
	if err != nil {
		return nil, err
	}
	loc := localization.ResolveIn(snap.Settings(sh), c, l)
	ctx = localization.With(ctx, loc)
	if p := snap.PricerFor(loc.Country); p != nil {
		ctx = catalog.WithPresenter(ctx, p)
	}
	return next(ctx)
}

func (r *Resolver) content() *content.Service { return r.Content }

// localizationModel describes the shop's markets and the request's context.
func localizationModel(sh *shop.Shop, snap *markets.Snapshot, set localization.Settings, c localization.Context) *model.Localization {
	lang := func(code string) *model.Language {
		return &model.Language{IsoCode: model.LanguageCode(code), Name: localization.LanguageName(code), EndonymName: localization.Endonym(code)}
	}
	langs := make([]*model.Language, len(set.Languages))
	for i, l := range set.Languages {
		langs[i] = lang(l)
	}
	country := func(code string) *model.Country {
		cur := snap.Currency(code)
		unit := model.UnitSystemMetricSystem
		if code == "US" || code == "LR" || code == "MM" {
			unit = model.UnitSystemImperialSystem
		}
		return &model.Country{IsoCode: model.CountryCode(code), Name: localization.CountryName(code), UnitSystem: unit,
			Currency:           &model.Currency{IsoCode: cur, Name: localization.CurrencyName(cur), Symbol: localization.CurrencySymbol(cur)},
			AvailableLanguages: langs, DefaultLanguage: langs[0]}
	}
	out := &model.Localization{Country: country(c.Country), Language: lang(c.Language), AvailableLanguages: langs}
	for _, code := range set.Countries {
		out.AvailableCountries = append(out.AvailableCountries, country(code))
	}
	return out
}

// inList reports whether the current field resolves inside a list element
// (its object, or an object above it, is one of several siblings): batch
// through a loader there, and skip the loader's wait for a lone parent.
func inList(ctx context.Context) bool {
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if fc.Index != nil {
			return true
		}
	}
	return false
}

// primeCollectionProducts runs before the collections of a connection
// resolve (Collection is @synchronous, so their products fields run one
// after another and a loader window would batch nothing): for every
// products(...) selected on its nodes, the pages of all cols load with one
// statement, and their products' child edges with one per edge. Arguments
// it cannot read leave that selection to the resolver.
func primeCollectionProducts(ctx context.Context, cols []*catalog.Collection) error {
	if len(cols) == 0 || !graphql.HasOperationContext(ctx) || graphql.GetFieldContext(ctx) == nil {
		return nil
	}
	opCtx := graphql.GetOperationContext(ctx)
	var fields []graphql.CollectedField
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		switch f.Name {
		case "nodes":
			fields = append(fields, graphql.CollectFields(opCtx, f.Selections, nil)...)
		case "edges":
			fields = append(fields, subFields(opCtx, f.Selections, "node")...)
		}
	}
	var ids []uuid.UUID
	for _, f := range fields {
		if f.Name != "products" {
			continue
		}
		args, ok := collectionProductArgs(f.ArgumentMap(opCtx.Variables))
		if !ok {
			continue
		}
		if ids == nil {
			ids = make([]uuid.UUID, len(cols))
			for i, c := range cols {
				ids[i] = c.ID
			}
		}
		var want loaders.Children
		productChildren(opCtx, connectionFields(opCtx, f.Selections), &want)
		if err := loaders.For(ctx).PrimeCollectionProducts(ctx, ids, args, want); err != nil {
			return err
		}
	}
	return nil
}

// connectionFields returns the Product fields under a ProductConnection
// selection (nodes and edges.node).
func connectionFields(opCtx *graphql.OperationContext, sels ast.SelectionSet) []graphql.CollectedField {
	var out []graphql.CollectedField
	for _, f := range graphql.CollectFields(opCtx, sels, nil) {
		switch f.Name {
		case "nodes":
			out = append(out, graphql.CollectFields(opCtx, f.Selections, nil)...)
		case "edges":
			out = append(out, subFields(opCtx, f.Selections, "node")...)
		}
	}
	return out
}

// collectionProductArgs reads Collection.products' arguments as its
// resolver will see them; false when one is not what the resolver expects
// (the resolver then reports it).
func collectionProductArgs(m map[string]any) (catalog.ListArgs, bool) {
	ok := true
	intArg := func(k string) *int {
		switch v := m[k].(type) {
		case nil:
			return nil
		case int64:
			n := int(v)
			return &n
		case int:
			return &v
		case json.Number:
			n, err := v.Int64()
			ok = ok && err == nil
			i := int(n)
			return &i
		}
		ok = false
		return nil
	}
	strArg := func(k string) *string {
		switch v := m[k].(type) {
		case nil:
			return nil
		case string:
			return &v
		}
		ok = false
		return nil
	}
	first, last, after, before := intArg("first"), intArg("last"), strArg("after"), strArg("before")
	sortKey := strArg("sortKey")
	var reverse bool
	switch v := m["reverse"].(type) {
	case nil:
	case bool:
		reverse = v
	default:
		ok = false
	}
	if !ok {
		return catalog.ListArgs{}, false
	}
	p, err := relay.NewPage(first, last, after, before, defaultConnectionSize)
	if err != nil {
		return catalog.ListArgs{}, false
	}
	sk := string(model.ProductCollectionSortKeysCollectionDefault)
	if sortKey != nil {
		sk = *sortKey
	}
	return catalog.ListArgs{Page: p, SortKey: sk, Reverse: reverse}, true
}
