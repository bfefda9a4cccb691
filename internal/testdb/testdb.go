// Package testdb gives integration tests their own real PostgreSQL
// database: created fresh from DATABASE_URL's server, migrated, optionally
// seeded, and dropped when the test ends. Each test package (and each call)
// gets a separate database, so packages run in parallel safely.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"cartograph/internal/migrate"
	"cartograph/internal/pg"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AdminURL is the server tests create databases on: $DATABASE_URL, else the
// local PostgreSQL.
func AdminURL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RedisURL is the Redis tests use: $REDIS_URL, else the local Redis.
func RedisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// DB is a migrated, private test database.
type DB struct {
	// Pool is connected as the owner (seeding, assertions).
	Pool *pgxpool.Pool
	// App is connected as cartograph_app, like the gateway: row-level
	// security applies; AppStats counts its statements.
	App      *pgxpool.Pool
	AppStats *pg.Stats
	Stats    *pg.Stats
	URL      string
	AppURL   string
	Name     string
}

// New creates a migrated database named after prefix and registers its
// removal with t.Cleanup.
func New(t testing.TB, prefix string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := fmt.Sprintf("cartograph_test_%s_%s", strings.ToLower(prefix), hex.EncodeToString(b[:]))
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("testdb: connect %s: %v", AdminURL(), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testdb: create database: %v", err)
	}
	u, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatalf("testdb: parse url: %v", err)
	}
	u.Path = "/" + name
	pool, stats, err := pg.Open(ctx, u.String(), 8)
	if err != nil {
		t.Fatalf("testdb: open: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		// (app pool is closed by its own cleanup, registered later, so first)
		c, err := pgx.Connect(context.Background(), AdminURL())
		if err != nil {
			t.Logf("testdb: drop %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("testdb: drop %s: %v", name, err)
		}
	})
	if err := migrate.Up(ctx, pool, discard{}); err != nil {
		t.Fatalf("testdb: migrate: %v", err)
	}
	au := *u
	au.User = url.User("cartograph_app")
	app, appStats, err := pg.Open(ctx, au.String(), 8)
	if err != nil {
		t.Fatalf("testdb: open as cartograph_app: %v", err)
	}
	t.Cleanup(app.Close)
	return &DB{Pool: pool, Stats: stats, App: app, AppStats: appStats, URL: u.String(), AppURL: au.String(), Name: name}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
