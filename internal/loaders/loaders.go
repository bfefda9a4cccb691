// Package loaders creates the per-request dataloaders (graph-gophers/dataloader
// v7) that batch every keyed fetch of a GraphQL request into one SQL
// statement per edge. Middleware installs a fresh set per request; resolvers
// fetch through For(ctx). Parent list resolvers prime child loaders with one
// batched query so no request waits for the batch window (see Prime*).
package loaders

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/catalog"
	"cartograph/internal/customers"
	"cartograph/internal/tracing"

	"github.com/google/uuid"
	"github.com/graph-gophers/dataloader/v7"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Catalog is the batch source the loaders need (a *catalog.Service).
type Catalog interface {
	ProductsByIDs(ctx context.Context, ids []uuid.UUID) ([]*catalog.Product, error)
	VariantsByProductIDs(ctx context.Context, ids []uuid.UUID) ([][]*catalog.Variant, error)
	VariantsByIDs(ctx context.Context, ids []uuid.UUID) ([]*catalog.Variant, error)
	ImagesByProductIDs(ctx context.Context, ids []uuid.UUID) ([][]*catalog.Image, error)
	OptionsByProductIDs(ctx context.Context, ids []uuid.UUID) ([][]*catalog.Option, error)
	OptionsByIDs(ctx context.Context, ids []uuid.UUID) ([]*catalog.Option, error)
	CollectionIDsByProductIDs(ctx context.Context, ids []uuid.UUID) ([][]uuid.UUID, error)
	CollectionsByIDs(ctx context.Context, ids []uuid.UUID) ([]*catalog.Collection, error)
	CollectionProductsMany(ctx context.Context, collectionIDs []uuid.UUID, a catalog.ListArgs) ([]*catalog.ProductConnection, error)
}

// Customers is the customer batch source (a *customers.Service).
type Customers interface {
	ByIDs(ctx context.Context, ids []uuid.UUID) ([]*customers.Customer, error)
}

// Loader is a dataloader keyed by row id.
type Loader[V any] = dataloader.Interface[uuid.UUID, V]

// Loaders is one request's set of dataloaders.
type Loaders struct {
	ProductByID          Loader[*catalog.Product]
	VariantsByProduct    Loader[[]*catalog.Variant]
	VariantByID          Loader[*catalog.Variant]
	ImagesByProduct      Loader[[]*catalog.Image]
	OptionsByProduct     Loader[[]*catalog.Option]
	OptionByID           Loader[*catalog.Option]
	CollectionsByProduct Loader[[]uuid.UUID]
	CollectionByID       Loader[*catalog.Collection]
	CustomerByID         Loader[*customers.Customer]
	// CollectionProducts is Collection.products under a list of
	// collections: one statement per distinct page arguments, whatever
	// the number of collections, and the pages' products primed together.
	CollectionProducts dataloader.Interface[CollectionPage, *catalog.ProductConnection]

	src  Catalog
	wait time.Duration
	// baseVariant is BaseVariantByID, made on first use (few requests
	// need it).
	baseOnce    sync.Once
	baseVariant Loader[*catalog.Variant]
}

// BaseVariantByID loads variants at base prices (the shop's currency),
// whatever market the request is presented in (catalog.WithPresenter).
func (l *Loaders) BaseVariantByID() Loader[*catalog.Variant] {
	l.baseOnce.Do(func() {
		l.baseVariant = newLoader("BaseVariantByID", func(ctx context.Context, ids []uuid.UUID) ([]*catalog.Variant, error) {
			return l.src.VariantsByIDs(catalog.WithPresenter(ctx, nil), ids)
		}, l.wait)
	})
	return l.baseVariant
}

// batchFn adapts a key-ordered batch method to dataloader's signature: one
// error fails every key of the batch.
func batchFn[V any](name string, f func(context.Context, []uuid.UUID) ([]V, error)) dataloader.BatchFunc[uuid.UUID, V] {
	spanName := "dataloader " + name
	return func(ctx context.Context, keys []uuid.UUID) []*dataloader.Result[V] {
		var span trace.Span
		if tracing.On() {
			ctx, span = tracing.Start(ctx, spanName, trace.SpanKindInternal)
			span.SetAttributes(attribute.String("dataloader.name", name), attribute.Int("dataloader.batch.size", len(keys)))
			defer span.End()
		}
		vals, err := f(ctx, keys)
		if err != nil && span != nil {
			tracing.Fail(span, err)
		}
		out := make([]*dataloader.Result[V], len(keys))
		for i := range keys {
			if err != nil {
				out[i] = &dataloader.Result[V]{Error: err}
			} else {
				out[i] = &dataloader.Result[V]{Data: vals[i]}
			}
		}
		return out
	}
}

func newLoader[V any](name string, f func(context.Context, []uuid.UUID) ([]V, error), wait time.Duration) Loader[V] {
	return newMemo(dataloader.NewBatchedLoader(batchFn(name, f),
		dataloader.WithWait[uuid.UUID, V](wait),
		dataloader.WithBatchCapacity[uuid.UUID, V](500)))
}

// New returns a fresh set of loaders over src. wait is the batch window:
// short, because parent resolvers prime the hot paths (the v7 default of
// 16 ms would be added to every non-primed request).
func New(src Catalog, cust Customers, wait time.Duration) *Loaders {
	l := &Loaders{
		ProductByID:          newLoader("ProductByID", src.ProductsByIDs, wait),
		VariantsByProduct:    newLoader("VariantsByProduct", src.VariantsByProductIDs, wait),
		VariantByID:          newLoader("VariantByID", src.VariantsByIDs, wait),
		ImagesByProduct:      newLoader("ImagesByProduct", src.ImagesByProductIDs, wait),
		OptionsByProduct:     newLoader("OptionsByProduct", src.OptionsByProductIDs, wait),
		OptionByID:           newLoader("OptionByID", src.OptionsByIDs, wait),
		CollectionsByProduct: newLoader("CollectionsByProduct", src.CollectionIDsByProductIDs, wait),
		CollectionByID:       newLoader("CollectionByID", src.CollectionsByIDs, wait),
		CustomerByID:         newLoader("CustomerByID", cust.ByIDs, wait),
		src:                  src,
		wait:                 wait,
	}
	l.CollectionProducts = dataloader.NewBatchedLoader(l.collectionProducts,
		dataloader.WithWait[CollectionPage, *catalog.ProductConnection](wait),
		dataloader.WithBatchCapacity[CollectionPage, *catalog.ProductConnection](500))
	return l
}

// CollectionPage keys CollectionProducts: a collection, the page asked of
// it and the product edges its selection needs.
type CollectionPage struct {
	Collection uuid.UUID
	Args       catalog.ListArgs
	Want       Children
}

// PrimeCollectionProducts loads the same page of several collections with
// one statement, primes CollectionProducts with them and their products'
// want edges with one statement per edge.
func (l *Loaders) PrimeCollectionProducts(ctx context.Context, ids []uuid.UUID, args catalog.ListArgs, want Children) error {
	conns, err := l.src.CollectionProductsMany(ctx, ids, args)
	if err != nil {
		return err
	}
	var all []*catalog.Product
	for _, c := range conns {
		all = append(all, c.Nodes()...)
	}
	if err := l.PrimeProducts(ctx, all, want); err != nil {
		return err
	}
	for i, id := range ids {
		l.CollectionProducts.Prime(ctx, CollectionPage{Collection: id, Args: args, Want: want}, conns[i])
	}
	return nil
}

// collectionProducts batches CollectionProducts keys: one statement per
// distinct (arguments, children) group, then the child edges of all the
// group's products primed with one statement per edge.
func (l *Loaders) collectionProducts(ctx context.Context, keys []CollectionPage) []*dataloader.Result[*catalog.ProductConnection] {
	out := make([]*dataloader.Result[*catalog.ProductConnection], len(keys))
	type group struct {
		args catalog.ListArgs
		want Children
	}
	groups := map[group][]int{}
	var order []group
	for i, k := range keys {
		g := group{k.Args, k.Want}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], i)
	}
	for _, g := range order {
		idx := groups[g]
		ids := make([]uuid.UUID, len(idx))
		for j, i := range idx {
			ids[j] = keys[i].Collection
		}
		conns, err := l.src.CollectionProductsMany(ctx, ids, g.args)
		if err == nil {
			var all []*catalog.Product
			for _, c := range conns {
				all = append(all, c.Nodes()...)
			}
			err = l.PrimeProducts(ctx, all, g.want)
		}
		for j, i := range idx {
			if err != nil {
				out[i] = &dataloader.Result[*catalog.ProductConnection]{Error: err}
			} else {
				out[i] = &dataloader.Result[*catalog.ProductConnection]{Data: conns[j]}
			}
		}
	}
	return out
}

type ctxKey struct{}

// With returns ctx carrying l.
func With(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// lazy makes a set of loaders on first use.
type lazy struct {
	once sync.Once
	make func() *Loaders
	l    *Loaders
}

// WithLazy returns ctx carrying loaders made by mk the first time a
// resolver asks for them: for a long-lived websocket connection, whose
// subscriptions often select no field that needs a loader, so an idle
// connection holds no dataloader caches.
func WithLazy(ctx context.Context, mk func() *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, &lazy{make: mk})
}

// For returns the request's loaders. It panics when the middleware is
// missing: that is a wiring bug, recovered as INTERNAL by the server.
func For(ctx context.Context) *Loaders {
	switch l := ctx.Value(ctxKey{}).(type) {
	case *Loaders:
		return l
	case *lazy:
		l.once.Do(func() { l.l = l.make() })
		return l.l
	}
	panic(apperr.New(apperr.Internal, "loaders: middleware not installed"))
}

// Middleware installs a fresh set of loaders per request.
func Middleware(src Catalog, cust Customers, wait time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(With(r.Context(), New(src, cust, wait))))
	})
}

// Children names which per-product edges a query selected.
type Children struct {
	Variants, Images, Options, Collections bool
}

// PrimeProducts loads the selected child edges of products with one batched
// statement per edge and primes the loaders, so the child resolvers find
// their data without waiting for a batch window. It also primes ProductByID.
func (l *Loaders) PrimeProducts(ctx context.Context, products []*catalog.Product, want Children) error {
	if len(products) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(products))
	for i, p := range products {
		ids[i] = p.ID
		l.ProductByID.Prime(ctx, p.ID, p)
	}
	// Each edge is one statement; run them concurrently (each on its own
	// pooled connection) so a product page pays one round trip, not four.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	run := func(i int, on bool, f func() error) {
		if on {
			wg.Go(func() { errs[i] = f() })
		}
	}
	run(0, want.Variants, func() error { return prime(ctx, l.VariantsByProduct, ids, l.src.VariantsByProductIDs) })
	run(1, want.Images, func() error { return prime(ctx, l.ImagesByProduct, ids, l.src.ImagesByProductIDs) })
	run(2, want.Options, func() error { return prime(ctx, l.OptionsByProduct, ids, l.src.OptionsByProductIDs) })
	run(3, want.Collections, func() error { return l.primeCollections(ctx, ids) })
	wg.Wait()
	return errors.Join(errs...)
}

func prime[V any](ctx context.Context, l Loader[V], ids []uuid.UUID, f func(context.Context, []uuid.UUID) ([]V, error)) error {
	vals, err := f(ctx, ids)
	if err != nil {
		return err
	}
	for i, id := range ids {
		l.Prime(ctx, id, vals[i])
	}
	return nil
}

// primeCollections primes the product→collection ids edge and then the
// collections themselves, each with one statement.
func (l *Loaders) primeCollections(ctx context.Context, productIDs []uuid.UUID) error {
	idLists, err := l.src.CollectionIDsByProductIDs(ctx, productIDs)
	if err != nil {
		return err
	}
	seen := map[uuid.UUID]bool{}
	var cids []uuid.UUID
	for i, list := range idLists {
		l.CollectionsByProduct.Prime(ctx, productIDs[i], list)
		for _, id := range list {
			if !seen[id] {
				seen[id] = true
				cids = append(cids, id)
			}
		}
	}
	if len(cids) == 0 {
		return nil
	}
	return prime(ctx, l.CollectionByID, cids, l.src.CollectionsByIDs)
}
