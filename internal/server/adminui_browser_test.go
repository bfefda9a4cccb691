package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAdminStockPageInBrowser opens /admin/stock in Debian's headless
// Chromium (playwright-core from internal/graphiql/web, installed by `make
// assets`), signs in as the shop owner through the page's form, then
// changes stock through the API — a staff inventoryAdjustQuantities and a
// storefront checkout — and asserts that the page shows the new numbers
// (and the low-stock highlight) within two seconds of each change. A
// screenshot goes to .data/screenshots/admin-stock.png. It must run, not
// skip, under `make test` (CARTOGRAPH_REQUIRE_BROWSER=1).
func TestAdminStockPageInBrowser(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	pwDir, _ := filepath.Abs("../graphiql/web")
	var missing []string
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium+" (apt-get install -y chromium)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node")
	}
	if _, err := os.Stat(filepath.Join(pwDir, "node_modules/playwright-core/package.json")); err != nil {
		missing = append(missing, "internal/graphiql/web/node_modules (make assets)")
	}
	if len(missing) > 0 {
		if os.Getenv("CARTOGRAPH_REQUIRE_BROWSER") != "" {
			t.Fatalf("CARTOGRAPH_REQUIRE_BROWSER is set but the browser test cannot run; missing: %s", strings.Join(missing, ", "))
		}
		t.Skipf("browser test skipped; missing: %s (make test installs them and requires this test)", strings.Join(missing, ", "))
	}

	e := newEnv(t, 0)
	staff := e.staff(t, "apparel")
	store := e.storefront(t, "apparel")
	v := e.stock(t, "apparel", "cashmere-beanie", 6, 0)
	wh := e.warehouses(t, "apparel")
	if out := e.setThreshold(t, staff, v, 4); out.Threshold == nil {
		t.Fatalf("threshold: %+v", out)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "../adminui/web/stock_browser_test.mjs")
	cmd.Env = append(os.Environ(), "BASE="+e.srv.URL, "SHOP=apparel", "EMAIL=owner@apparel.example", "PASSWORD=cartograph-demo",
		"PLAYWRIGHT_DIR="+pwDir, "WITHIN_MS=2000", "FOCUS="+v)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	reply := func() string {
		t.Helper()
		if !lines.Scan() {
			_ = cmd.Wait()
			t.Fatalf("the browser script ended early: %s", stderr.String())
		}
		return lines.Text()
	}
	ask := func(format string, args ...any) string {
		t.Helper()
		if _, err := io.WriteString(stdin, fmt.Sprintf(format, args...)+"\n"); err != nil {
			t.Fatal(err)
		}
		return reply()
	}
	start := time.Now()
	if r := reply(); r != "READY" {
		t.Fatalf("page: %s %s", r, stderr.String())
	}
	t.Logf("page signed in and loaded in %v", time.Since(start).Round(time.Millisecond))
	expect := func(what string, onHand, reserved, available int, low bool) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"variant": v, "warehouse": wh[0], "onHand": onHand, "reserved": reserved, "available": available, "low": low})
		r := ask("EXPECT %s", b)
		if !strings.HasPrefix(r, "OK ") {
			t.Fatalf("%s: %s", what, r)
		}
		t.Logf("%s: shown %s ms after the API answered", what, strings.TrimPrefix(r, "OK "))
	}
	expect("initial levels", 6, 0, 6, false)

	// A staff adjustment through the GraphQL mutation.
	if out := e.adjust(t, staff, v, wh[0], -1, 6, "page-1"); len(out.InventoryAdjustQuantities.UserErrors) > 0 {
		t.Fatalf("adjust: %+v", out.InventoryAdjustQuantities.UserErrors)
	}
	expect("inventoryAdjustQuantities -1", 5, 0, 5, false)

	// A storefront checkout reserves 2: available 3 is below the threshold 4.
	if _, out := e.checkout(t, store, e.newCart(t, store, v, 2), "page-co-1"); out.CheckoutBegin.Order == nil {
		t.Fatalf("checkout: %+v", out.CheckoutBegin)
	}
	expect("checkout of 2", 5, 2, 3, true)

	shots, _ := filepath.Abs("../../.data/screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(shots, "admin-stock.png")
	if r := ask("SHOT %s", shot); r != "OK" {
		t.Fatalf("screenshot: %s", r)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("screenshot not written: %v", err)
	}
	_, _ = io.WriteString(stdin, "QUIT\n")
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("browser script: %v\n%s", err, stderr.String())
	}
	t.Logf("screenshot: %s", shot)
}
