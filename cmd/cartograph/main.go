// Command cartograph is the one Cartograph binary:
//
//	cartograph serve                          run the GraphQL gateway
//	cartograph migrate up|down|status         manage the database schema
//	cartograph seed [--products N --shops M]  demo shops, or bulk bench shops
//	cartograph keys create|list|revoke        API keys (operator bootstrap)
//	cartograph schema print                   the GraphQL SDL, for tooling
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
	"strings"
	"syscall"
	"time"

	"cartograph/internal/auth"
	"cartograph/internal/config"
	"cartograph/internal/migrate"
	"cartograph/internal/pg"
	"cartograph/internal/relay"
	"cartograph/internal/seed"
	"cartograph/internal/server"
	"cartograph/internal/shop"

	"cartograph/internal/redisconn"
	"cartograph/internal/tracing"
	"github.com/google/uuid"
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
  seed [--products N --shops M]  seed the demo shops, or N products over M bench shops
  keys create --shop HANDLE --kind public|secret [--scopes a,b] [--expires DURATION] [--name NAME] [--rate-limit N] [--cost-limit N]
  keys list --shop HANDLE
  keys revoke ID
  schema print                   write the GraphQL SDL (with @cost/@listSize) to stdout`

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
	case "keys":
		return keysCmd(ctx, cfg, args[1:])
	case "schema":
		if len(args) != 2 || args[1] != "print" {
			return errors.New("usage: cartograph schema print")
		}
		server.PrintSchema(os.Stdout)
		return nil
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
	// The gateway connects as the application role, never as the owner:
	// row-level security applies to everything it reads and writes.
	dbURL := cfg.AppDatabaseURL
	if cfg.BenchNoRLS {
		dbURL = cfg.DatabaseURL
	}
	pool, stats, err := pg.Open(ctx, dbURL, cfg.DBMaxConns)
	if err != nil {
		return fmt.Errorf("%w (APP_DATABASE_URL; run `cartograph migrate up` first, it creates role cartograph_app)", err)
	}
	defer pool.Close()
	if cfg.Tracing {
		shutdown, err := tracing.Setup(ctx, tracing.Config{ServiceName: cfg.TracingServiceName, SampleRatio: cfg.TracingSampleRatio})
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = shutdown(sctx)
		}()
		log.Info("tracing on (OTLP/HTTP)", "sample_ratio", cfg.TracingSampleRatio)
	}
	rdb, rkind, err := redisconn.Open(cfg.RedisURL)
	if err != nil {
		return err
	}
	log.Info("redis", "deployment", string(rkind))
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	srv, err := server.New(server.Deps{Config: cfg, Log: log, DB: pool, DBStats: stats, Redis: rdb})
	if err != nil {
		return err
	}
	go srv.Background(ctx)
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
		if err := migrate.Up(ctx, pool, os.Stdout); err != nil {
			return err
		}
		if cfg.AppDatabasePassword != "" {
			// The application role authenticates with this password.
			if err := migrate.SetAppPassword(ctx, pool, cfg.AppDatabasePassword); err != nil {
				return err
			}
			fmt.Println("cartograph_app password set")
		}
		return nil
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
	seed.ImageBaseURL = cfg.PublicBaseURL
	if seed.ImageBaseURL == "" {
		seed.ImageBaseURL = "http://" + cfg.ListenAddr
	}
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
	if err := seed.DemoStaff(ctx, pool); err != nil {
		return err
	}
	if err := seed.DemoPricing(ctx, pool); err != nil {
		return err
	}
	if err := seed.DemoMarkets(ctx, pool); err != nil {
		return err
	}
	fmt.Printf("demo shops ready: %v (codes WELCOME10, FREESHIP, SAVE5; shipping and taxes per country; markets: apparel USD/EUR/GBP, electronics EUR/CHF)\n", seed.DemoShops)
	for _, h := range seed.DemoShops {
		fmt.Printf("  staff owner of %-12s %s / %s\n", h+":", seed.DemoOwnerEmail(h), seed.DemoOwnerPassword)
	}
	return nil
}

func keysCmd(ctx context.Context, cfg config.Config, args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	shopHandle := fs.String("shop", "", "shop handle")
	kind := fs.String("kind", "public", "public or secret")
	scopes := fs.String("scopes", "", "comma-separated scopes (default: the kind's default)")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 720h (default: none)")
	name := fs.String("name", "", "a name to recognise the key")
	rateLimit := fs.Int("rate-limit", 0, "requests per minute (default RATE_LIMIT_KEY)")
	costLimit := fs.Int("cost-limit", 0, "the key's query-cost bucket in points (default COST_BUCKET_MAX)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	pool, _, err := pg.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	svc := auth.NewKeyAdmin(pool, nil, cfg.RateLimitKey)
	shops := shop.NewResolver(pool, "", "", 0)
	byHandle := func() (*shop.Shop, error) {
		if *shopHandle == "" {
			return nil, errors.New("--shop HANDLE is required")
		}
		return shops.ByHandle(ctx, *shopHandle)
	}
	switch args[0] {
	case "create":
		sh, err := byHandle()
		if err != nil {
			return err
		}
		var sc []string
		if *scopes != "" {
			sc = strings.Split(*scopes, ",")
		}
		row, plain, ues, err := svc.CreateKey(ctx, sh, auth.KeyInput{Kind: *kind, Name: *name, Scopes: sc, ExpiresIn: *expires, RateLimit: *rateLimit, CostLimit: *costLimit}, nil)
		if err != nil {
			return err
		}
		if len(ues) > 0 {
			return fmt.Errorf("keys create: %s", ues[0].Message)
		}
		fmt.Printf("created %s key %s for shop %s, scopes %s (shown once; only its SHA-256 is stored):\n", row.Kind, relay.GlobalID("ApiKey", row.ID), sh.Handle, strings.Join(row.Scopes, ","))
		fmt.Println(plain)
		return nil
	case "list":
		sh, err := byHandle()
		if err != nil {
			return err
		}
		page, err := svc.ListKeys(ctx, sh.ID, relay.Page{Limit: relay.MaxPage})
		if err != nil {
			return err
		}
		for _, k := range page.Nodes() {
			state := "active"
			if k.RevokedAt != nil {
				state = "revoked"
			} else if k.ExpiresAt != nil && time.Now().After(*k.ExpiresAt) {
				state = "expired"
			}
			fmt.Printf("%s  %-6s %-8s %s…  %s\n", relay.GlobalID("ApiKey", k.ID), k.Kind, state, k.DisplayPrefix, strings.Join(k.Scopes, ","))
		}
		return nil
	case "revoke":
		if fs.NArg() != 1 {
			return errors.New("usage: cartograph keys revoke ID")
		}
		raw := fs.Arg(0)
		id, err := uuid.Parse(raw)
		if err != nil {
			if id, err = relay.ParseTypedID("id", "ApiKey", raw); err != nil {
				return err
			}
		}
		shopID, err := svc.ShopOfKey(ctx, id)
		if err != nil {
			return fmt.Errorf("no such API key %s", raw)
		}
		if _, err := svc.RevokeKey(ctx, shopID, id); err != nil {
			return err
		}
		fmt.Println("revoked", relay.GlobalID("ApiKey", id))
		return nil
	}
	return fmt.Errorf("unknown keys subcommand %q\n%s", args[0], usage)
}
