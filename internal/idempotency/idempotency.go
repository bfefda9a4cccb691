// Package idempotency makes money- and stock-moving mutations safe to retry:
// the first request with a (shop, principal, key) runs, later ones with the
// same request get its stored result, the same key with a different request
// is IDEMPOTENCY_KEY_REUSED, and concurrent duplicates wait for the first
// instead of running twice. Keys live 24 hours.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// KeyReused is the code for a key replayed with a different request.
const KeyReused apperr.Code = "IDEMPOTENCY_KEY_REUSED"

// Store keeps idempotency records in PostgreSQL (row-level security applies).
type Store struct {
	q *dbq.Queries
	// Wait bounds how long a duplicate waits for the first request.
	Wait time.Duration
	// Lease is how long a running record is owned by its request; after it
	// a retry takes over (a crashed owner never blocks its key for long).
	// Operations that place something keep their own uniqueness (checkout
	// finds its order by key), so a takeover never does the work twice.
	Lease time.Duration
}

// New returns a Store over the application pool.
func New(db *pgxpool.Pool) *Store {
	return &Store{q: dbq.New(pg.Tenant{Pool: db}), Wait: 30 * time.Second, Lease: 10 * time.Second}
}

// Do runs fn once per (shop, principal, key). request is hashed to detect a
// key reused for another request; the value fn returns is stored as JSON
// and returned to every retry (decoded into a fresh T). If fn fails with an
// error, nothing is stored and a retry runs fn again.
func Do[T any](ctx context.Context, s *Store, shopID uuid.UUID, principal, key, operation string, request any, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	if key == "" || len(key) > 255 {
		return zero, apperr.BadInput("idempotencyKey", "idempotencyKey must be 1 to 255 characters")
	}
	reqJSON, err := json.Marshal(request)
	if err != nil {
		return zero, apperr.Wrap(err, apperr.Internal, "hashing request")
	}
	h := sha256.Sum256(append([]byte(operation+"\x00"), reqJSON...))
	id := dbq.IdemGetParams{ShopID: shopID, Principal: principal, Key: key}
	deadline := time.Now().Add(s.Wait)
	for {
		n, err := s.q.IdemInsert(ctx, dbq.IdemInsertParams{ShopID: shopID, Principal: principal, Key: key, Operation: operation, RequestHash: h[:]})
		if err != nil {
			return zero, pg.MapError(err)
		}
		if n == 1 {
			return run(ctx, s, id, fn)
		}
		row, err := s.q.IdemGet(ctx, id)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // the first attempt failed and let go; try to be first
		}
		if err != nil {
			return zero, pg.MapError(err)
		}
		if row.ExpiresAt.Before(time.Now()) || (row.State == "running" && time.Since(row.UpdatedAt) > s.Lease) {
			if _, err := s.q.IdemClearExpired(ctx, dbq.IdemClearExpiredParams{ShopID: id.ShopID, Principal: id.Principal, Key: id.Key, LeaseSeconds: s.Lease.Seconds()}); err != nil {
				return zero, pg.MapError(err)
			}
			continue
		}
		if string(row.RequestHash) != string(h[:]) || row.Operation != operation {
			return zero, apperr.New(KeyReused, "idempotencyKey was already used for a different request")
		}
		if row.State == "done" {
			var out T
			if err := json.Unmarshal(row.Response, &out); err != nil {
				return zero, apperr.Wrap(err, apperr.Internal, "stored idempotent response")
			}
			return out, nil
		}
		if time.Now().After(deadline) {
			return zero, apperr.New(apperr.Conflict, "an identical request is still in progress; retry later")
		}
		select {
		case <-ctx.Done():
			return zero, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func run[T any](ctx context.Context, s *Store, id dbq.IdemGetParams, fn func(context.Context) (T, error)) (T, error) {
	out, err := fn(ctx)
	if err != nil {
		// Let a retry run again; use a context that outlives a cancelled request.
		_ = s.q.IdemAbandon(context.WithoutCancel(ctx), dbq.IdemAbandonParams(id))
		return out, err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return out, apperr.Wrap(err, apperr.Internal, "storing idempotent response")
	}
	if err := s.q.IdemFinish(context.WithoutCancel(ctx), dbq.IdemFinishParams{ShopID: id.ShopID, Principal: id.Principal, Key: id.Key, Response: b}); err != nil {
		return out, pg.MapError(err)
	}
	return out, nil
}
