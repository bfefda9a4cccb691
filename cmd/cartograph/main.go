// Command cartograph is the one Cartograph binary:
//
//	cartograph serve                          run the GraphQL gateway
//	cartograph migrate up|down|status         manage the database schema
//	cartograph seed [--products N --shops M]  demo shops, or bulk bench shops
//
// Configuration comes from the environment only (see internal/config).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"cartograph/internal/config"
	"cartograph/internal/migrate"
	"cartograph/internal/pg"
	"cartograph/internal/seed"
	"cartograph/internal/server"

	"github.com/redis/go-redis/v9"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "cartograph:", err)
		os.Exit(1)
	}
}

const usage = `usage: cartograph <command>
  serve                          run the GraphQL gateway (LISTEN_ADDR)
  migrate up|down|status         manage the database schema (DATABASE_URL)
  seed [--products N --shops M]  seed the demo shops, or N products over M bench shops`

func run(args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "serve":
		return serve(ctx, cfg)
	case "migrate":
		return migrateCmd(ctx, cfg, args[1:])
	case "seed":
		return seedCmd(ctx, cfg, args[1:])
	case "help", "-h", "--help":
		fmt.Println(usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

func logger(cfg config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

func serve(ctx context.Context, cfg config.Config) error {
	log := logger(cfg)
	// A higher GC target trades memory we have for CPU we lack; the soft
	// limit keeps RSS bounded (GUIDE §5: ~30 % less CPU per request).
	if cfg.GCPercent >= 0 {
		debug.SetGCPercent(cfg.GCPercent)
	}
	if cfg.MemLimitBytes > 0 {
		debug.SetMemoryLimit(cfg.MemLimitBytes)
	}
	pool, stats, err := pg.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(ropts)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	srv := server.New(server.Deps{Config: cfg, Log: log, DB: pool, DBStats: stats, Redis: rdb})
	return srv.Run(ctx, func(addr string) {
		log.Info("serving", "addr", addr, "graphiql", "http://"+addr+"/")
	})
}

func migrateCmd(ctx context.Context, cfg config.Config, args []string) error {
	if len(args) == 0 || args[0] == "up" {
		if err := migrate.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
			return err
		}
	}
	pool, _, err := pg.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	cmd := "up"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "up":
		return migrate.Up(ctx, pool, os.Stdout)
	case "down":
		return migrate.Down(ctx, pool, os.Stdout)
	case "status":
		return migrate.Status(ctx, pool, os.Stdout)
	}
	return fmt.Errorf("migrate: unknown subcommand %q (want up, down or status)", cmd)
}

func seedCmd(ctx context.Context, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	products := fs.Int("products", 0, "bulk: number of products (0 seeds the demo shops)")
	shops := fs.Int("shops", 1, "bulk: number of shops (bench-1..bench-N)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pool, _, err := pg.Open(ctx, cfg.DatabaseURL, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	if *products > 0 {
		if *shops < 1 {
			return errors.New("seed: --shops must be >= 1")
		}
		if err := seed.Bulk(ctx, pool, *products, *shops); err != nil {
			return err
		}
		fmt.Printf("seeded %d products over %d bench shops\n", *products, *shops)
		return nil
	}
	if err := seed.Demo(ctx, pool); err != nil {
		return err
	}
	fmt.Printf("demo shops ready: %v\n", seed.DemoShops)
	return nil
}
