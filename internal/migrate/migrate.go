// Package migrate applies the embedded schema migrations (db/migrations)
// with goose. Used by `cartograph migrate` and by test databases.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"

	"cartograph/db/migrations"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// EnsureDatabase creates the database named in url when it does not exist
// yet, connecting to the same server's "postgres" database to do so, so that
// `cartograph migrate up` works on a fresh server.
func EnsureDatabase(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("migrate: parse DATABASE_URL: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return fmt.Errorf("migrate: connect: %w", err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("migrate: connect to create database %q: %w", name, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("migrate: create database %q: %w", name, err)
	}
	return nil
}

func provider(pool *pgxpool.Pool) (*goose.Provider, *sql.DB, error) {
	db := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS)
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	return p, db, nil
}

// Up applies every pending migration.
func Up(ctx context.Context, pool *pgxpool.Pool, out io.Writer) error {
	p, db, err := provider(pool)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := p.Up(ctx)
	for _, r := range res {
		fmt.Fprintf(out, "applied %s (%s)\n", r.Source.Path, r.Duration)
	}
	return err
}

// Down rolls back the latest migration.
func Down(ctx context.Context, pool *pgxpool.Pool, out io.Writer) error {
	p, db, err := provider(pool)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := p.Down(ctx)
	if r != nil {
		fmt.Fprintf(out, "rolled back %s\n", r.Source.Path)
	}
	return err
}

// Status prints each migration and whether it is applied.
func Status(ctx context.Context, pool *pgxpool.Pool, out io.Writer) error {
	p, db, err := provider(pool)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := p.Status(ctx)
	if err != nil {
		return err
	}
	for _, s := range st {
		fmt.Fprintf(out, "%-8s %s\n", s.State, s.Source.Path)
	}
	return nil
}

// SetAppPassword sets the password the application role cartograph_app
// logs in with (ALTER ROLE takes no bind parameters, so it is quoted here).
func SetAppPassword(ctx context.Context, pool *pgxpool.Pool, password string) error {
	lit := "'" + strings.ReplaceAll(password, "'", "''") + "'"
	if _, err := pool.Exec(ctx, "ALTER ROLE cartograph_app PASSWORD "+lit); err != nil {
		return fmt.Errorf("setting the cartograph_app password: %w", err)
	}
	return nil
}
