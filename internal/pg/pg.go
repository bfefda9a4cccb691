// Package pg owns Cartograph's PostgreSQL access: the pgx pool, the SQL
// statement counter used by tests and the benchmark, transactions, and the
// single place where PostgreSQL errors become apperr codes.
package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"

	"cartograph/internal/apperr"
	"cartograph/internal/metrics"
	"cartograph/internal/tracing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Stats counts SQL statements sent to PostgreSQL by a pool. A query, an exec
// and every statement of a batch each count once, except the tenant
// set_config that pg.Tenant pipelines in front of each statement (same round
// trip), which is counted apart.
type Stats struct {
	statements atomic.Int64
	tenantSets atomic.Int64
}

// Statements returns the number of statements sent since the pool opened.
func (s *Stats) Statements() int64 { return s.statements.Load() }

// TenantSettings returns how many app.shop_id settings were pipelined.
func (s *Stats) TenantSettings() int64 { return s.tenantSets.Load() }

type counterKey struct{}

// WithCounter returns a context whose SQL statements are also counted into c,
// so one request's statements can be measured (tests, debug stats).
func WithCounter(ctx context.Context, c *atomic.Int64) context.Context {
	return context.WithValue(ctx, counterKey{}, c)
}

type tracer struct{ stats *Stats }

func (t tracer) count(ctx context.Context, n int64) {
	t.stats.statements.Add(n)
	metrics.SQLStatements(n)
	if c, ok := ctx.Value(counterKey{}).(*atomic.Int64); ok {
		c.Add(n)
	}
}

func (t tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if d.SQL == setShop {
		t.stats.tenantSets.Add(1)
		return ctx
	}
	t.count(ctx, 1)
	if tracing.On() {
		return startSQLSpan(ctx, d.SQL)
	}
	return ctx
}
func (t tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	endSQLSpan(ctx, d.Err)
}
func (t tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	if tracing.On() {
		ctx, span := tracing.Start(ctx, "sql batch", trace.SpanKindClient)
		span.SetAttributes(attribute.String("db.system.name", "postgresql"), attribute.Int("db.operation.batch.size", d.Batch.Len()))
		return context.WithValue(ctx, sqlSpanKey{}, span)
	}
	return ctx
}
func (t tracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	if d.SQL == setShop {
		t.stats.tenantSets.Add(1)
		return
	}
	t.count(ctx, 1)
	if span, ok := ctx.Value(sqlSpanKey{}).(trace.Span); ok && span.IsRecording() {
		// A tenant statement travels as a batch behind its set_config:
		// name the span for the statement, not the batch.
		span.SetName("sql " + sqlOp(d.SQL))
		span.SetAttributes(attribute.String("db.query.text", clip(d.SQL)))
		if d.Err != nil {
			tracing.Fail(span, d.Err)
		}
	}
}
func (t tracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchEndData) {
	endSQLSpan(ctx, d.Err)
}

// sqlSpanKey carries the statement's span from its start to its end (the
// tracing side of the tracer; the counting side needs no state).
type sqlSpanKey struct{}

// startSQLSpan starts a client span named for the statement's first word
// (SELECT, INSERT, ...), the text as db.query.text (parameters are never
// recorded: they travel separately).
func startSQLSpan(ctx context.Context, sql string) context.Context {
	ctx, span := tracing.Start(ctx, "sql "+sqlOp(sql), trace.SpanKindClient)
	span.SetAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.query.text", clip(sql)))
	return context.WithValue(ctx, sqlSpanKey{}, span)
}

// sqlOp is the statement's first word, upper-cased (SELECT, INSERT, ...).
// sqlc prefixes each statement with "-- name: X :one": skip comments.
func sqlOp(sql string) string {
	op := strings.TrimSpace(sql)
	for strings.HasPrefix(op, "--") {
		i := strings.IndexByte(op, '\n')
		if i < 0 {
			return "QUERY"
		}
		op = strings.TrimSpace(op[i+1:])
	}
	if i := strings.IndexAny(op, " \n\t("); i > 0 {
		op = op[:i]
	}
	if len(op) > 16 {
		op = op[:16]
	}
	return strings.ToUpper(op)
}

func clip(sql string) string {
	if len(sql) > 2048 {
		return sql[:2048]
	}
	return sql
}

func endSQLSpan(ctx context.Context, err error) {
	span, ok := ctx.Value(sqlSpanKey{}).(trace.Span)
	if !ok {
		return
	}
	if err != nil {
		tracing.Fail(span, err)
	}
	span.End()
}

// Open connects a pool to url with at most maxConns connections and a
// statement counter, and pings it.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, *Stats, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("pg: parse DATABASE_URL: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	stats := &Stats{}
	cfg.ConnConfig.Tracer = tracer{stats: stats}
	cfg.ConnConfig.RuntimeParams["application_name"] = "cartograph"
	// A stuck statement or an abandoned transaction must not hold locks
	// and connections forever (the URL may override either).
	for k, v := range map[string]string{"statement_timeout": "30s", "idle_in_transaction_session_timeout": "60s"} {
		if _, ok := cfg.ConnConfig.RuntimeParams[k]; !ok {
			cfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	// Encode and scan google/uuid natively (binary), not through its
	// driver.Valuer string form: ids are in every query.
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		pgxuuid.Register(c.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("pg: open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("pg: ping: %w", err)
	}
	return pool, stats, nil
}

// WithTx runs fn in a transaction: committed when fn returns nil, rolled back
// otherwise (the rollback is deferred so a panic cannot leak an open tx).
func WithTx(ctx context.Context, db *pgxpool.Pool, fn func(pgx.Tx) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return MapError(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := fn(tx); err != nil {
		return err
	}
	return MapError(tx.Commit(ctx))
}

// PostgreSQL SQLSTATE codes mapped to domain errors.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
	checkViolation      = "23514"
	notNullViolation    = "23502"
	invalidTextRep      = "22P02"
)

// MapError converts a PostgreSQL error into a coded apperr: constraint
// violations become CONFLICT / NOT_FOUND / BAD_USER_INPUT with a generic
// message (constraint, table and column names stay in the logged cause,
// never in the client message), an unreachable server or a statement
// timeout SERVICE_UNAVAILABLE, anything else INTERNAL. nil stays nil and
// existing apperr errors pass through.
func MapError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := apperr.As(err); ok {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case uniqueViolation:
			return apperr.Wrap(err, apperr.Conflict, "already exists")
		case foreignKeyViolation:
			return apperr.Wrap(err, apperr.NotFound, "a referenced object does not exist")
		case checkViolation, notNullViolation:
			return apperr.Wrap(err, apperr.BadUserInput, "value rejected")
		case invalidTextRep, "22021", "54000":
			return apperr.Wrap(err, apperr.BadUserInput, "malformed value")
		case "57014", "57P01", "57P02", "57P03", "53300", "08000", "08003", "08006", "08001", "08004":
			return unavailable(err)
		}
		return apperr.Wrap(err, apperr.Internal, "database error")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) || errors.Is(err, io.ErrUnexpectedEOF) {
		return unavailable(err)
	}
	return apperr.Wrap(err, apperr.Internal, "database error")
}

func unavailable(err error) error {
	e := apperr.Wrap(err, apperr.ServiceUnavailable, "the database is temporarily unavailable; retry shortly")
	e.Extensions = map[string]any{"retryAfter": 5}
	return e
}
