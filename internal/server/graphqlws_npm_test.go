package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestGraphQLWsNpmClient runs the real npm graphql-ws client (installed at
// build/test time by `make assets`, never committed) against the gateway:
// a live event, a resume with since after a disconnect, and a 4403 refusal
// the client does not retry (testdata/graphql_ws_client.mjs). Required under
// `make test` (CARTOGRAPH_REQUIRE_BROWSER=1), skipped elsewhere when node or
// the npm packages are missing.
func TestGraphQLWsNpmClient(t *testing.T) {
	npmDir, _ := filepath.Abs("../graphiql/web")
	node, err := exec.LookPath("node")
	_, err2 := os.Stat(filepath.Join(npmDir, "node_modules/graphql-ws/package.json"))
	if err != nil || err2 != nil {
		if os.Getenv("CARTOGRAPH_REQUIRE_BROWSER") != "" {
			t.Fatalf("CARTOGRAPH_REQUIRE_BROWSER is set but node or internal/graphiql/web/node_modules/graphql-ws (make assets) is missing")
		}
		t.Skip("node or the graphql-ws npm package is missing (make assets)")
	}
	e := newEnv(t, 0)
	v := e.stock(t, "apparel", "cashmere-beanie", 10, 0)
	wh := e.warehouses(t, "apparel")
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--experimental-websocket", "--no-warnings", "testdata/graphql_ws_client.mjs")
	cmd.Env = append(os.Environ(), "BASE="+e.srv.URL, "SHOP=apparel", "TOKEN="+e.staffToken(t, "apparel"),
		"VARIANT="+v, "WAREHOUSE="+wh[0], "AVAIL="+strconv.Itoa(10), "NPM_DIR="+npmDir)
	out, err := cmd.CombinedOutput()
	t.Logf("node graphql_ws_client.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("graphql-ws client: %v", err)
	}
}
