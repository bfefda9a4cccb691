package inventory

import (
	"context"
	"slices"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Stock alerts and availability flips written onto ledger rows.
const (
	// AlertLow: the variant's total available stock fell below its
	// low-stock threshold.
	AlertLow = "low"
	// AlertRestocked: it is back at or above the threshold.
	AlertRestocked = "restocked"
	// AvailabilitySoldOut: the variant's total available stock reached zero.
	AvailabilitySoldOut = "sold_out"
	// AvailabilityAvailable: it is above zero again.
	AvailabilityAvailable = "available"
)

// IsAlert reports a change that carries a low-stock alert.
func (c *Change) IsAlert() bool { return c.StockAlert != "" }

// IsAvailabilityFlip reports a change that flipped its variant between
// available and sold out.
func (c *Change) IsAvailabilityFlip() bool { return c.Availability != "" }

// flip is what crossing a variant's movement caused.
type flip struct {
	alert, availability  string
	available, threshold int
	productAvailable     bool
}

// evaluateFlips runs inside a movement's transaction, after its level rows
// changed and before the sequence counter is taken: it locks the moved
// variants' stock states (variant order; levels → states → counter is the
// one lock order of every movement) and, for each variant whose low or
// sold-out state the movement flipped, stores the new state and writes the
// flip onto the variant's last move. Because the state row is locked until
// commit, concurrent movements of a variant evaluate one after the other,
// each against the state the previous one left: one alert per crossing,
// never one per change, and none for a movement that rolls back.
func evaluateFlips(ctx context.Context, tx pgx.Tx, shopID uuid.UUID, moves []move) error {
	net := map[uuid.UUID]int{}
	lastOf := map[uuid.UUID]int{}
	for i, mv := range moves {
		net[mv.VariantID] += mv.OnHandDelta - mv.ReservedDelta
		lastOf[mv.VariantID] = i
	}
	ids := make([]uuid.UUID, 0, len(net))
	for id := range net {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	deltas := make([]int32, len(ids))
	for i, id := range ids {
		deltas[i] = int32(net[id])
	}
	q := dbq.New(tx)
	if err := q.InventoryStockStatesEnsure(ctx, dbq.InventoryStockStatesEnsureParams{ShopID: shopID, VariantIds: ids, Deltas: deltas}); err != nil {
		return pg.MapError(err)
	}
	states, err := q.InventoryStockStatesLock(ctx, dbq.InventoryStockStatesLockParams{ShopID: shopID, VariantIds: ids})
	if err != nil {
		return pg.MapError(err)
	}
	// A new statement, so a new snapshot: it sees every movement that held
	// these locks before us.
	totals, err := q.InventoryStockTotals(ctx, dbq.InventoryStockTotalsParams{ShopID: shopID, VariantIds: ids})
	if err != nil {
		return pg.MapError(err)
	}
	byID := make(map[uuid.UUID]dbq.InventoryStockTotalsRow, len(totals))
	for _, t := range totals {
		byID[t.VariantID] = t
	}
	for _, st := range states {
		t, ok := byID[st.VariantID]
		if !ok {
			continue
		}
		low := t.Threshold >= 0 && t.Available < t.Threshold
		soldOut := t.Available <= 0
		if low == st.Low && soldOut == st.SoldOut {
			continue
		}
		if err := q.InventoryStockStateSet(ctx, dbq.InventoryStockStateSetParams{ShopID: shopID, VariantID: st.VariantID, Low: low, SoldOut: soldOut}); err != nil {
			return pg.MapError(err)
		}
		f := flip{available: int(t.Available), threshold: int(t.Threshold), productAvailable: t.ProductAvailable}
		if low != st.Low {
			f.alert = AlertRestocked
			if low {
				f.alert = AlertLow
			}
		}
		if soldOut != st.SoldOut {
			f.availability = AvailabilityAvailable
			if soldOut {
				f.availability = AvailabilitySoldOut
			}
		}
		moves[lastOf[st.VariantID]].flip = f
	}
	return nil
}

// maxThreshold bounds a low-stock threshold.
const maxThreshold = maxQuantity

// ThresholdResult is the outcome of setting a threshold: the effective
// threshold now (nil: none) or user errors.
type ThresholdResult struct {
	Threshold  *int
	UserErrors []apperr.UserError
}

// SetThreshold sets (or, with nil, removes) a variant's low-stock
// threshold; without one the shop's default applies. The variant's low
// state follows the new threshold at once, without an alert (alerts mark
// crossings caused by stock movements). inventory:write: UNAUTHENTICATED,
// FORBIDDEN; NOT_FOUND and INVALID_QUANTITY_TOO_LOW/HIGH as user errors.
func (s *Service) SetThreshold(ctx context.Context, variantID uuid.UUID, threshold *int) (ThresholdResult, error) {
	sh, err := authorize(ctx, auth.ScopeInventoryWrite)
	if err != nil {
		return ThresholdResult{}, err
	}
	if ue := thresholdErr(threshold); ue != nil {
		return ThresholdResult{UserErrors: []apperr.UserError{*ue}}, nil
	}
	var res ThresholdResult
	err = pg.WithTenantTx(pg.WithShopID(ctx, sh.ID), s.db, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		ok, err := q.InventoryVariantExists(ctx, dbq.InventoryVariantExistsParams{ShopID: sh.ID, VariantID: variantID})
		if err != nil {
			return pg.MapError(err)
		}
		if !ok {
			res.UserErrors = []apperr.UserError{{Field: []string{"variantId"}, Message: "variant not found in this shop", Code: CodeNotFound}}
			return nil
		}
		ids := []uuid.UUID{variantID}
		if _, err := q.InventoryStockStatesLock(ctx, dbq.InventoryStockStatesLockParams{ShopID: sh.ID, VariantIds: ids}); err != nil {
			return pg.MapError(err)
		}
		if threshold == nil {
			err = q.InventoryThresholdDelete(ctx, dbq.InventoryThresholdDeleteParams{ShopID: sh.ID, VariantID: variantID})
		} else {
			_, err = q.InventoryThresholdUpsert(ctx, dbq.InventoryThresholdUpsertParams{ShopID: sh.ID, VariantID: variantID, Threshold: int32(*threshold)})
		}
		if err != nil {
			return pg.MapError(err)
		}
		if err := q.InventoryStockStateRebase(ctx, dbq.InventoryStockStateRebaseParams{ShopID: sh.ID, VariantIds: ids}); err != nil {
			return pg.MapError(err)
		}
		totals, err := q.InventoryStockTotals(ctx, dbq.InventoryStockTotalsParams{ShopID: sh.ID, VariantIds: ids})
		if err != nil {
			return pg.MapError(err)
		}
		if len(totals) == 1 && totals[0].Threshold >= 0 {
			t := int(totals[0].Threshold)
			res.Threshold = &t
		}
		return nil
	})
	return res, err
}

// SetDefaultThreshold sets (or, with nil, removes) the shop's default
// low-stock threshold, used by variants without their own. Like
// SetThreshold, states follow without alerts. inventory:write.
func (s *Service) SetDefaultThreshold(ctx context.Context, threshold *int) (ThresholdResult, error) {
	sh, err := authorize(ctx, auth.ScopeInventoryWrite)
	if err != nil {
		return ThresholdResult{}, err
	}
	if ue := thresholdErr(threshold); ue != nil {
		ue.Field = []string{"threshold"}
		return ThresholdResult{UserErrors: []apperr.UserError{*ue}}, nil
	}
	err = pg.WithTenantTx(pg.WithShopID(ctx, sh.ID), s.db, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		if _, err := q.InventoryStockStatesLock(ctx, dbq.InventoryStockStatesLockParams{ShopID: sh.ID, VariantIds: []uuid.UUID{}}); err != nil {
			return pg.MapError(err)
		}
		var err error
		if threshold == nil {
			err = q.InventoryDefaultThresholdDelete(ctx, sh.ID)
		} else {
			err = q.InventoryDefaultThresholdUpsert(ctx, dbq.InventoryDefaultThresholdUpsertParams{ShopID: sh.ID, Threshold: int32(*threshold)})
		}
		if err != nil {
			return pg.MapError(err)
		}
		return pg.MapError(q.InventoryStockStateRebase(ctx, dbq.InventoryStockStateRebaseParams{ShopID: sh.ID, VariantIds: []uuid.UUID{}}))
	})
	if err != nil {
		return ThresholdResult{}, err
	}
	return ThresholdResult{Threshold: threshold}, nil
}

// DefaultThreshold is the shop's default low-stock threshold (nil: none).
// inventory:read.
func (s *Service) DefaultThreshold(ctx context.Context) (*int, error) {
	sh, err := authorize(ctx, auth.ScopeInventoryRead)
	if err != nil {
		return nil, err
	}
	n, err := s.q.InventoryDefaultThreshold(pg.WithShopID(ctx, sh.ID), sh.ID)
	if err != nil || n < 0 {
		return nil, pg.MapError(err)
	}
	v := int(n)
	return &v, nil
}

func thresholdErr(threshold *int) *apperr.UserError {
	switch {
	case threshold == nil:
		return nil
	case *threshold < 0:
		return &apperr.UserError{Field: []string{"threshold"}, Message: "threshold must not be negative", Code: CodeTooLow}
	case *threshold > maxThreshold:
		return &apperr.UserError{Field: []string{"threshold"}, Message: "threshold is too high", Code: CodeTooHigh}
	}
	return nil
}
