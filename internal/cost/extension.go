package cost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/metrics"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// DefaultMaxCost is the per-request maximum when ExtensionConfig.MaxCost
// is nil (Shopify's single-query limit).
const DefaultMaxCost = 1000

// CostOnlyHeader, set to "1", asks for the cost of a document without
// running it: the response has data null and extensions.cost.
const CostOnlyHeader = "X-Cost-Only"

// ExtensionConfig configures the Extension.
type ExtensionConfig struct {
	// Model prices documents. Nil: built from the executable schema when
	// the extension is added to the handler. When given it must have been
	// built from that same schema value.
	Model *Model
	// Buckets holds the shared budgets; nil runs every request unbudgeted
	// (the per-request maximum still applies).
	Buckets *Buckets
	// Limits returns the buckets a request is charged to (e.g. the
	// principal's and the shop's), taken from all or none. Nil or empty:
	// unbudgeted.
	Limits func(ctx context.Context) []Limit
	// Rider, when it returns non-nil, is a Redis call the request still
	// has to make (its rate-limit check): it is sent in the same round
	// trip as the take, or alone when the request is not budgeted. Its
	// error (THROTTLED) refuses the request and returns the points taken.
	Rider func(ctx context.Context) Rider
	// MaxCost is the largest requested cost one request may have; nil
	// means DefaultMaxCost for everyone.
	MaxCost func(ctx context.Context) int
	// Log receives Redis failures (at most one line per 10 s); nil is
	// slog.Default().
	Log *slog.Logger
	// RedisTimeout bounds each bucket call (default 100 ms) and
	// RedisBackoff is how long requests skip Redis after a failure
	// (default 1 s), so a hung Redis slows no request by more than one
	// timeout per backoff period.
	RedisTimeout, RedisBackoff time.Duration
}

// Extension is the gqlgen handler extension enforcing query cost:
//
//   - OperationContextMutator: after validation, before execution, prices
//     the operation; refuses MAX_COST_EXCEEDED above the request's maximum
//     or above a bucket's capacity, THROTTLED (with retryAfter seconds)
//     when a bucket lacks the points; otherwise takes them. When Redis
//     fails the request runs unbudgeted and the failure is logged, so
//     catalog reads survive a Redis outage.
//   - FieldInterceptor: counts resolved objects and list lengths into the
//     response's Tracker; fields that cost nothing return after one map
//     lookup.
//   - ResponseInterceptor: computes the actual cost, refunds what was not
//     used, and sets extensions.cost in Shopify's shape. With the
//     X-Cost-Only: 1 header it answers data null and the cost without
//     executing and without charging.
//
// Add it with handler.Use; it is safe for concurrent use.
type Extension struct {
	cfg       ExtensionConfig
	model     *Model
	log       *slog.Logger
	skipUntil atomic.Int64
	lastLog   atomic.Int64
}

// NewExtension returns the cost extension.
func NewExtension(cfg ExtensionConfig) *Extension {
	if cfg.RedisTimeout <= 0 {
		cfg.RedisTimeout = 100 * time.Millisecond
	}
	if cfg.RedisBackoff <= 0 {
		cfg.RedisBackoff = time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	return &Extension{cfg: cfg, model: cfg.Model, log: log}
}

var (
	_ graphql.HandlerExtension        = (*Extension)(nil)
	_ graphql.OperationContextMutator = (*Extension)(nil)
	_ graphql.FieldInterceptor        = (*Extension)(nil)
	_ graphql.OperationInterceptor    = (*Extension)(nil)
)

const extensionName = "QueryCost"

// ExtensionName implements graphql.HandlerExtension.
func (e *Extension) ExtensionName() string { return extensionName }

// Validate implements graphql.HandlerExtension: it builds the model from
// the executable schema, or checks that the given one was built from it
// (fields are matched by pointer, so another parse of the same SDL would
// price nothing at run time).
func (e *Extension) Validate(es graphql.ExecutableSchema) error {
	s := es.Schema()
	if e.model != nil {
		if e.model.schema != s {
			return errors.New("cost: the model was built from another *ast.Schema than the executable schema's")
		}
		return nil
	}
	m, err := NewModel(s)
	if err != nil {
		return err
	}
	e.model = m
	return nil
}

// opState is what one operation carries from pricing to its responses.
type opState struct {
	requested int
	tracker   *Tracker
	costOnly  bool
	op        ast.Operation
	// budgeted: cost was taken from limits (Redis answered).
	budgeted bool
	limits   []Limit
	charged  int
	status   Status
	emitted  atomic.Bool // cost-only answer sent
	refunded atomic.Bool
}

type trackerKey struct{}

// MutateOperationContext implements graphql.OperationContextMutator. It
// refuses with MAX_COST_EXCEEDED (above the request's maximum or a
// bucket's capacity), THROTTLED (extensions.retryAfter in seconds),
// BAD_USER_INPUT (a document that cannot be priced) or INTERNAL (the
// extension was never validated against a schema). MAX_COST_EXCEEDED and
// THROTTLED carry extensions.cost.
func (e *Extension) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if e.model == nil {
		return present(apperr.New(apperr.Internal, "query cost model is not initialised"))
	}
	requested, tr, err := e.model.Track(oc.Doc, oc.Operation, oc.Variables)
	if err != nil {
		return present(apperr.Wrap(err, apperr.BadUserInput, "the query cannot be priced: %v", err))
	}
	st := &opState{requested: requested, tracker: tr, op: oc.Operation.Operation}
	st.costOnly = oc.Headers != nil && oc.Headers.Get(CostOnlyHeader) == "1"
	maxCost := DefaultMaxCost
	if e.cfg.MaxCost != nil {
		maxCost = e.cfg.MaxCost(ctx)
	}
	metrics.QueryCost("requested", requested)
	if requested > maxCost && !st.costOnly {
		metrics.CostRejected("max_cost")
		ae := apperr.New(apperr.MaxCostExceeded, "query cost %d exceeds the maximum %d", requested, maxCost)
		ae.Extensions = map[string]any{"cost": map[string]any{
			"requestedQueryCost": requested,
			"actualQueryCost":    nil,
			"maximumQueryCost":   maxCost,
		}}
		return present(ae)
	}
	charge := requested
	if st.costOnly {
		charge = 0
	}
	var limits []Limit
	if e.cfg.Buckets != nil && e.cfg.Limits != nil {
		limits = e.cfg.Limits(ctx)
	}
	var rider Rider
	if e.cfg.Rider != nil {
		rider = e.cfg.Rider(ctx)
	}
	if len(limits) > 0 && time.Now().UnixNano() >= e.skipUntil.Load() {
		status, riderErr, err := e.cfg.Buckets.TakeWith(ctx, e.cfg.RedisTimeout, charge, rider, limits...)
		if riderErr != nil {
			if err == nil && status.OK && charge > 0 {
				e.cfg.Buckets.RefundLater(charge, func(err error) { e.redisFailed(context.WithoutCancel(ctx), err) }, limits...)
			}
			return presentErr(riderErr)
		}
		switch {
		case err != nil:
			if ctx.Err() == nil {
				e.redisFailed(ctx, err)
			}
		case status.NeverFits:
			metrics.CostRejected("max_cost")
			ae := apperr.New(apperr.MaxCostExceeded, "query cost %d exceeds the maximum %d", requested, int(status.Maximum))
			ae.Extensions = map[string]any{"cost": costExtension(requested, nil, &status)}
			return present(ae)
		case !status.OK:
			metrics.CostRejected("throttled")
			retry := max(1, int(math.Ceil(status.RetryAfter.Seconds())))
			ae := apperr.New(apperr.Throttled, "throttled: query cost %d exceeds the %d points available; retry after %ds",
				requested, int(status.Available), retry)
			ae.Extensions = map[string]any{"cost": costExtension(requested, nil, &status), "retryAfter": retry}
			return present(ae)
		default:
			st.budgeted, st.limits, st.charged, st.status = true, limits, charge, status
		}
	} else if rider != nil {
		if err := runRider(ctx, rider); err != nil {
			return presentErr(err)
		}
	}
	oc.Stats.SetExtension(extensionName, st)
	return nil
}

// InterceptField implements graphql.FieldInterceptor.
func (e *Extension) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	m := e.model
	fc := graphql.GetFieldContext(ctx)
	if m == nil || fc == nil || fc.Field.Field == nil {
		return next(ctx)
	}
	f := fc.Field.Field
	info := m.fields[f.Definition]
	if info == nil || !info.tracked {
		return next(ctx)
	}
	t, _ := ctx.Value(trackerKey{}).(*Tracker)
	if t == nil {
		return next(ctx)
	}
	res, err := next(ctx)
	n := 0
	if info.kind == kindList {
		n = lengthOf(res)
	}
	t.record(info, f, n)
	return res, err
}

// InterceptOperation implements graphql.OperationInterceptor. It wraps
// every inner operation interceptor (register the response cache after
// this extension): a response served from a cache still reports its cost,
// and the refund of requested − actual runs for it too.
func (e *Extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	st, _ := graphql.GetOperationContext(ctx).Stats.GetExtension(extensionName).(*opState)
	if st == nil {
		return next(ctx)
	}
	if st.costOnly {
		return func(context.Context) *graphql.Response {
			if st.emitted.Swap(true) {
				return nil
			}
			var status *Status
			if st.budgeted {
				status = &st.status
			}
			return &graphql.Response{
				Data:       json.RawMessage("null"),
				Extensions: map[string]any{"cost": Report{Requested: st.requested, Status: status}},
			}
		}
	}
	t := st.tracker
	responses := next(context.WithValue(ctx, trackerKey{}, t))
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if resp == nil {
			return nil
		}
		actual := t.Actual()
		metrics.QueryCost("actual", actual)
		var status *Status
		if st.budgeted {
			s := st.status
			if refund := st.charged - actual; refund > 0 && st.op != ast.Subscription && !st.refunded.Swap(true) {
				// The refund is written behind the response (pipelined
				// with others); the status reports the bucket after it.
				logCtx := context.WithoutCancel(ctx)
				e.cfg.Buckets.RefundLater(refund, func(err error) { e.redisFailed(logCtx, err) }, st.limits...)
				s.Available = min(s.Maximum, s.Available+float64(refund))
			}
			status = &s
		}
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions["cost"] = Report{Requested: st.requested, Actual: &actual, Status: status}
		return resp
	}
}

// costExtension is extensions.cost in Shopify's shape, as a map (for
// error extensions, which the error presenter may extend).
func costExtension(requested int, actual *int, st *Status) map[string]any {
	return Report{Requested: requested, Actual: actual, Status: st}.Map()
}

// present wraps an apperr for gqlgen's mutator API; extensions.code is set
// here too so the error reads right even before the server's presenter.
func present(ae *apperr.Error) *gqlerror.Error {
	ext := map[string]any{"code": string(ae.Code)}
	for k, v := range ae.Extensions {
		ext[k] = v
	}
	return &gqlerror.Error{Message: ae.Message, Err: ae, Extensions: ext}
}

// presentErr presents a coded error (an uncoded one as INTERNAL).
func presentErr(err error) *gqlerror.Error {
	if ae, ok := apperr.As(err); ok {
		return present(ae)
	}
	return present(apperr.Wrap(err, apperr.Internal, "internal error"))
}

// redisFailed logs (rate-limited) and skips Redis for RedisBackoff.
func (e *Extension) redisFailed(ctx context.Context, err error) {
	now := time.Now().UnixNano()
	e.skipUntil.Store(now + int64(e.cfg.RedisBackoff))
	last := e.lastLog.Load()
	if now-last >= int64(10*time.Second) && e.lastLog.CompareAndSwap(last, now) {
		e.log.WarnContext(ctx, "query cost budgets unavailable; running unbudgeted", "err", fmt.Sprint(err))
	}
}
