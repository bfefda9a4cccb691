package catalog

import "context"

// Presenter rewrites products and variants loaded at base prices (the
// shop's currency) into the prices of the request's market
// (internal/markets). Each object is presented once, as it is loaded.
type Presenter interface {
	PresentProduct(*Product)
	PresentVariant(*Variant)
}

type presenterKey struct{}

// WithPresenter returns ctx whose catalog reads are presented by p (nil:
// base prices).
func WithPresenter(ctx context.Context, p Presenter) context.Context {
	return context.WithValue(ctx, presenterKey{}, p)
}

// PresenterFrom returns the request's presenter (nil: base prices).
func PresenterFrom(ctx context.Context) Presenter {
	p, _ := ctx.Value(presenterKey{}).(Presenter)
	return p
}

func presentProducts(ctx context.Context, ps []*Product) {
	if p := PresenterFrom(ctx); p != nil {
		for _, x := range ps {
			if x != nil {
				p.PresentProduct(x)
			}
		}
	}
}

func presentVariants(ctx context.Context, vs []*Variant) {
	if p := PresenterFrom(ctx); p != nil {
		for _, x := range vs {
			if x != nil {
				p.PresentVariant(x)
			}
		}
	}
}
