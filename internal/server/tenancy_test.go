package server_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"cartograph/graph/generated"
	"cartograph/internal/config"
	"cartograph/internal/seed"

	"github.com/jackc/pgx/v5"
)

// tenantTables must list every table with a shop_id column; the test
// derives the real list from the catalog and fails on any difference.
var tenantTables = []string{"api_keys", "api_policies", "collection_products", "collections", "content_entries", "customers", "discount_redemptions", "discounts", "exchange_rates", "idempotency_keys", "images", "inventory_ledger", "inventory_levels", "inventory_low_stock_defaults", "inventory_sequences", "inventory_stock_states", "inventory_thresholds", "market_countries", "market_prices", "markets",
	"order_events", "order_lines", "order_reservations", "orders", "product_options", "products", "refunds", "session_revocations", "shipping_rates", "shipping_zones",
	"shop_order_counters", "staff_memberships", "staff_refresh_tokens", "tax_rates", "trusted_documents", "variants", "warehouses"}

// unfilled are tenant tables the fixture leaves empty (no refund or
// refresh token is made); RLS is still checked on them.
// The pricing tables (discounts, shipping, taxes) are filled by
// seed.DemoPricing, which the fixture does not run; pricing_test.go checks
// their isolation with real rows.
var unfilled = map[string]bool{"api_policies": true, "trusted_documents": true, "staff_refresh_tokens": true, "refunds": true, "session_revocations": true,
	"inventory_low_stock_defaults": true, "inventory_thresholds": true,
	"discounts": true, "discount_redemptions": true, "shipping_zones": true, "shipping_rates": true, "tax_rates": true,
	// The demo markets set no fixed prices; markets_test.go writes some.
	"market_prices": true}

func TestRowLevelSecurity(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	e.register(t, "apparel", "a@example.com", "password-a-1")
	e.register(t, "electronics", "b@example.com", "password-b-1")
	for shop, product := range map[string]string{"apparel": "merino-crew-tee", "electronics": "pulse-anc-headphones"} {
		h := e.storefront(t, shop)
		v := e.stock(t, shop, product, 5, 0)
		if _, out := e.checkout(t, h, e.newCart(t, h, v, 1), "rls-"+shop); out.CheckoutBegin.Order == nil {
			t.Fatalf("%s checkout: %+v", shop, out)
		}
	}
	// Markets, their countries and exchange rates in both shops (after
	// the checkouts to GB, which electronics' markets do not sell to).
	if err := seed.DemoMarkets(ctx, e.db.Pool); err != nil {
		t.Fatal(err)
	}

	var got []string
	rows, err := e.db.Pool.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
		WHERE a.attname = 'shop_id' AND c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
		AND c.relname NOT IN ('api_key_index', 'order_expiries') AND c.relrowsecurity AND c.relforcerowsecurity ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		got = append(got, n)
	}
	rows.Close()
	if !slices.Equal(got, tenantTables) {
		t.Fatalf("tables with shop_id and forced RLS = %v, want %v", got, tenantTables)
	}

	var apparel, electronics string
	_ = e.db.Pool.QueryRow(ctx, `SELECT id::text FROM shops WHERE handle = 'apparel'`).Scan(&apparel)
	_ = e.db.Pool.QueryRow(ctx, `SELECT id::text FROM shops WHERE handle = 'electronics'`).Scan(&electronics)

	var role string
	var bypass bool
	if err := e.db.App.QueryRow(ctx, `SELECT current_user, rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&role, &bypass); err != nil || role != "cartograph_app" || bypass {
		t.Fatalf("app pool runs as %q (bypass %v, %v)", role, bypass, err)
	}

	for _, table := range tenantTables {
		t.Run(table, func(t *testing.T) {
			var owner int
			if err := e.db.Pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(DISTINCT shop_id) FROM %s WHERE shop_id IN ($1, $2)`, pgx.Identifier{table}.Sanitize()), apparel, electronics).Scan(&owner); err != nil {
				t.Fatal(err)
			}
			if owner < 2 && !unfilled[table] {
				t.Fatalf("%s: fixture should have rows in both shops, has %d", table, owner)
			}
			count := func(shopSetting string) (n, other int) {
				err := pgx.BeginFunc(ctx, e.db.App, func(tx pgx.Tx) error {
					if shopSetting != "" {
						if _, err := tx.Exec(ctx, `SELECT set_config('app.shop_id', $1, true)`, shopSetting); err != nil {
							return err
						}
					}
					q := fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE shop_id <> $1) FROM %s`, pgx.Identifier{table}.Sanitize())
					return tx.QueryRow(ctx, q, apparel).Scan(&n, &other)
				})
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if n, _ := count(""); n != 0 {
				t.Fatalf("without app.shop_id the app role sees %d rows", n)
			}
			n, other := count(apparel)
			if other != 0 {
				t.Fatalf("with shop A set the app role sees %d rows of other shops", other)
			}
			if n == 0 && !unfilled[table] && owner > 0 {
				t.Fatalf("with shop A set the app role sees none of A's rows")
			}
			// Writing another shop's row is refused by the policy's WITH CHECK.
			err := pgx.BeginFunc(ctx, e.db.App, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `SELECT set_config('app.shop_id', $1, true)`, apparel); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET shop_id = $1 WHERE true`, pgx.Identifier{table}.Sanitize()), electronics)
				return err
			})
			if err == nil && n > 0 {
				t.Fatalf("app role moved rows to another shop")
			}
		})
	}
}

func TestRateLimitsAreSharedAcrossInstances(t *testing.T) {
	e := newEnv(t, 0)
	tune := func(c *config.Config) { c.RateLimitAnon = 12 } // burst 2, then 1 per 5 s
	ha, _ := startServer(t, e.db, nil, tune)
	hb, _ := startServer(t, e.db, nil, tune)
	a, b := &env{db: e.db, srv: ha}, &env{db: e.db, srv: hb}
	// Unique client IP per test run: the httptest client is 127.0.0.1, so
	// flush the bucket first.
	if err := flushRateLimits(); err != nil {
		t.Fatal(err)
	}
	// The bucket is the client IP's, shared with the tests that follow.
	t.Cleanup(func() { _ = flushRateLimits() })
	statuses := []int{}
	for i := 0; i < 6; i++ {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		statuses = append(statuses, srv.do(t, map[string]string{"X-Shop-Handle": "apparel"}, `{ shop { name } }`, nil).Status)
	}
	ok := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			ok++
		}
	}
	if ok < 1 || ok > 3 || statuses[len(statuses)-1] != http.StatusTooManyRequests {
		t.Fatalf("two instances did not share one bucket: %v", statuses)
	}
	r := a.do(t, map[string]string{"X-Shop-Handle": "apparel"}, `{ shop { name } }`, nil)
	if r.code() != "THROTTLED" || r.Errors[0].Extensions["retryAfter"] == nil {
		t.Fatalf("want THROTTLED with retryAfter, got %+v", r.Errors)
	}
}

// The GraphQL endpoint's rate-limit check rides in the query-cost take's
// Redis round trip; a request refused before that stage (a syntax error,
// a document limit, an over-long body) makes the check when it ends, so
// it counts against the limit all the same.
func TestRateLimitCountsRequestsRefusedBeforeCost(t *testing.T) {
	e := newEnv(t, 0)
	hs, _ := startServer(t, e.db, nil, func(c *config.Config) { c.RateLimitAnon = 12 }) // burst 2: 3 at once
	s := &env{db: e.db, srv: hs}
	if err := flushRateLimits(); err != nil {
		t.Fatal(err)
	}
	// The bucket is the client IP's, shared with the tests that follow.
	t.Cleanup(func() { _ = flushRateLimits() })
	h := map[string]string{"X-Shop-Handle": "apparel"}
	for i, q := range []string{`{ shop { name `, `{ ` + strings.Repeat("a: __typename ", 40) + `}`, `{ nope }`} {
		r := s.do(t, h, q, nil)
		if r.code() == "" || r.code() == "THROTTLED" {
			t.Fatalf("invalid document %d: status %d %+v", i, r.Status, r.Errors)
		}
	}
	r := s.do(t, h, `{ shop { name } }`, nil)
	if r.Status != http.StatusTooManyRequests || r.code() != "THROTTLED" || r.Errors[0].Extensions["retryAfter"] == nil {
		t.Fatalf("after 3 refused documents (the burst), a valid one: status %d %+v, want 429 THROTTLED with retryAfter", r.Status, r.Errors)
	}
}

func TestLoginIsThrottled(t *testing.T) {
	e := newEnv(t, 0)
	hs, _ := startServer(t, e.db, nil, func(c *config.Config) { c.LoginPerMinute = 3 })
	s := &env{db: e.db, srv: hs}
	if err := flushRateLimits(); err != nil {
		t.Fatal(err)
	}
	var last *gqlResponse
	for i := 0; i < 8; i++ {
		last = s.do(t, map[string]string{"X-Shop-Handle": "apparel"}, `mutation { customerLogin(input: {email: "victim@example.com", password: "guess"}) { accessToken } }`, nil)
	}
	if last.code() != "THROTTLED" {
		t.Fatalf("8 rapid logins were not throttled: %+v", last.Errors)
	}
}

// TestCrossTenantMatrix walks every root field of the schema. Each must be
// declared @public or @hasPermission, and each must have a probe below in
// which a principal of shop A addresses shop B's objects and gets nothing
// of B's: NOT_FOUND/FORBIDDEN/UNAUTHENTICATED or null/empty. A new field
// without a probe fails this test.
func TestCrossTenantMatrix(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	bCustomer := e.register(t, "electronics", "b-cust@example.com", "password-b-1")
	bKeyID, _ := e.createKey(t, "electronics", "PUBLIC", "")
	var bProduct, bCollection, bVariant string
	var bl listing
	e.query(t, "electronics", `{ products(first: 1) { edges { node { id variants(first: 1) { edges { node { id } } } } } } }`, nil, &bl)
	bProduct, bVariant = bl.Products.Edges[0].Node.ID, bl.Products.Edges[0].Node.Variants.Edges[0].Node.ID
	var bc struct {
		Collections struct{ Nodes []struct{ ID string } }
	}
	e.query(t, "electronics", `{ collections(first: 1) { nodes { id } } }`, nil, &bc)
	bCollection = bc.Collections.Nodes[0].ID
	// Shop B's cart and order (manual payment, so cancel/refund are real).
	hB := e.storefront(t, "electronics")
	bVariantStocked := e.stock(t, "electronics", "pulse-anc-headphones", 20, 0)
	bCart := e.newCart(t, hB, bVariantStocked, 1)
	_, bOut := e.checkout(t, hB, e.newCart(t, hB, bVariantStocked, 1), "b-order")
	if bOut.CheckoutBegin.Order == nil {
		t.Fatalf("shop B checkout: %+v", bOut)
	}
	bOrder := bOut.CheckoutBegin.Order.ID
	bLine := strings.Replace(bVariantStocked, "ProductVariant", "CartLine", 1)
	bWarehouses := e.warehouses(t, "electronics")
	bWarehouse, bWarehouse2 := bWarehouses[0], bWarehouses[1]

	// Shop B's discount, shipping zone and rate.
	var bDiscount, bZone, bRate string
	if err := e.db.Pool.QueryRow(ctx, `INSERT INTO discounts (shop_id, code, title, kind, value, currency_code)
		SELECT id, 'B-ONLY', 'B only', 'PERCENTAGE', 1000, 'EUR' FROM shops WHERE handle = 'electronics' RETURNING 'gid://cartograph/Discount/' || id`).Scan(&bDiscount); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Pool.QueryRow(ctx, `WITH z AS (INSERT INTO shipping_zones (shop_id, name, areas) SELECT id, 'B zone', '{DE}' FROM shops WHERE handle = 'electronics' RETURNING shop_id, id)
		INSERT INTO shipping_rates (shop_id, zone_id, handle, title, amount, currency_code) SELECT shop_id, id, 'b-rate', 'B rate', 100, 'EUR' FROM z
		RETURNING 'gid://cartograph/ShippingZone/' || zone_id, 'gid://cartograph/ShippingRate/' || id`).Scan(&bZone, &bRate); err != nil {
		t.Fatal(err)
	}

	e.exec(t, `INSERT INTO tax_rates (shop_id, country, title, rate, included) SELECT id, 'AT', 'B-ONLY-VAT', 200000, true FROM shops WHERE handle = 'electronics'`)

	// Shop B's markets: a primary one and its EUR rate.
	var bMarket string
	if err := e.db.Pool.QueryRow(ctx, `WITH m AS (INSERT INTO markets (shop_id, handle, name, currency_code, is_primary)
		SELECT id, 'b-only-market', 'B market', 'EUR', true FROM shops WHERE handle = 'electronics' RETURNING shop_id, id),
		c AS (INSERT INTO market_countries (shop_id, market_id, country, position) SELECT shop_id, id, 'AT', 1 FROM m),
		r AS (INSERT INTO exchange_rates (shop_id, currency_code, rate_e10, set_by) SELECT shop_id, 'CHF', 77700000000, 'b' FROM m)
		SELECT 'gid://cartograph/Market/' || id FROM m`).Scan(&bMarket); err != nil {
		t.Fatal(err)
	}

	// Shop B's trusted document and API policy.
	const bDoc = `query BOnly { shop { name } }`
	bDocID := "sha256:" + sha(bDoc)
	if _, err := e.db.Pool.Exec(ctx, `INSERT INTO trusted_documents (shop_id, hash, body) SELECT id, $1, $2 FROM shops WHERE handle = 'electronics'`, sha(bDoc), bDoc); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Pool.Exec(ctx, `INSERT INTO api_policies (shop_id, max_query_cost) SELECT id, 777 FROM shops WHERE handle = 'electronics'`); err != nil {
		t.Fatal(err)
	}

	// Shop B's content: its blog's id, and a fingerprint of all of it.
	contentOfB := func() (fp string) {
		t.Helper()
		if err := e.db.Pool.QueryRow(ctx, `SELECT string_agg(c.kind || ':' || c.handle || ':' || c.title || ':' || md5(c.body || c.data::text), ',' ORDER BY c.kind, c.handle, c.id)
			FROM content_entries c JOIN shops s ON s.id = c.shop_id WHERE s.handle = 'electronics'`).Scan(&fp); err != nil {
			t.Fatal(err)
		}
		return fp
	}
	bContent := contentOfB()
	var bBlog string
	if err := e.db.Pool.QueryRow(ctx, `SELECT 'gid://cartograph/Blog/' || c.id FROM content_entries c JOIN shops s ON s.id = c.shop_id
		WHERE s.handle = 'electronics' AND c.kind = 'blog' AND c.handle = 'news'`).Scan(&bBlog); err != nil {
		t.Fatal(err)
	}

	// Principals of shop A.
	staffA := e.staffToken(t, "apparel")
	_, skA := e.createKey(t, "apparel", "SECRET", `scopes: ["catalog:read", "customers:read", "apikeys:manage", "orders:read", "orders:write", "checkout:write"]`)
	_, pkA := e.createKey(t, "apparel", "PUBLIC", "")
	e.register(t, "apparel", "a-cust@example.com", "password-a-1")
	custA, _ := e.customerLogin(t, "apparel", "a-cust@example.com", "password-a-1")
	principals := map[string]map[string]string{
		"anonymous": {"X-Shop-Handle": "apparel"},
		"staff":     {"X-Shop-Handle": "apparel", "Authorization": "Bearer " + staffA},
		"secretKey": {"X-Api-Key": skA},
		"customer":  {"X-Shop-Handle": "apparel", "Authorization": "Bearer " + custA},
		"publicKey": {"X-Shopify-Storefront-Access-Token": pkA},
	}
	// Each probe returns true when the response leaked nothing of shop B.
	type probe struct {
		query string
		vars  map[string]any
		safe  func(r *gqlResponse) bool
	}
	denied := func(r *gqlResponse) bool {
		c := r.code()
		return c == "NOT_FOUND" || c == "FORBIDDEN" || c == "UNAUTHENTICATED"
	}
	nullOr := func(path string) func(r *gqlResponse) bool {
		return func(r *gqlResponse) bool {
			return denied(r) || strings.Contains(string(r.Data), `"`+path+`":null`)
		}
	}
	noB := func(r *gqlResponse) bool {
		s := string(r.Data)
		return denied(r) || !(strings.Contains(s, bProduct) || strings.Contains(s, bCustomer) || strings.Contains(s, bKeyID) ||
			strings.Contains(s, "Voltline") || strings.Contains(s, bOrder) || strings.Contains(s, bCart))
	}
	probes := map[string]probe{
		"node":                     {`query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": bProduct}, nullOr("node")},
		"nodes":                    {`query($id: ID!) { nodes(ids: [$id]) { id } }`, map[string]any{"id": bVariant}, func(r *gqlResponse) bool { return denied(r) || string(r.Data) == `{"nodes":[null]}` }},
		"shop":                     {`{ shop { name } }`, nil, noB},
		"product":                  {`query($id: ID!) { product(id: $id) { id } }`, map[string]any{"id": bProduct}, nullOr("product")},
		"products":                 {`{ products(first: 250) { nodes { id } } }`, nil, noB},
		"collection":               {`query($id: ID!) { collection(id: $id) { id } }`, map[string]any{"id": bCollection}, nullOr("collection")},
		"collections":              {`{ collections(first: 250) { nodes { id } } }`, nil, func(r *gqlResponse) bool { return !strings.Contains(string(r.Data), bCollection) }},
		"productRecommendations":   {`query($id: ID!) { productRecommendations(productId: $id) { id } }`, map[string]any{"id": bProduct}, nullOr("productRecommendations")},
		"me":                       {`{ me { id } }`, nil, noB},
		"customer":                 {`query($id: ID!) { customer(id: $id) { id } }`, map[string]any{"id": bCustomer}, nullOr("customer")},
		"customers":                {`{ customers(first: 250) { nodes { id } } }`, nil, noB},
		"apiKeys":                  {`{ apiKeys(first: 250) { nodes { id } } }`, nil, noB},
		"apiPolicy":                {`{ apiPolicy { maxQueryCost } }`, nil, func(r *gqlResponse) bool { return denied(r) || !strings.Contains(string(r.Data), "777") }},
		"trustedDocuments":         {`{ trustedDocuments(first: 250) { nodes { id } } }`, nil, func(r *gqlResponse) bool { return denied(r) || !strings.Contains(string(r.Data), bDocID) }},
		"apiPolicyUpdate":          {`mutation { apiPolicyUpdate(input: {trustedDocumentsOnly: false, maxQueryCost: 999999}) { apiPolicy { maxQueryCost } } }`, nil, noB},
		"trustedDocumentsRegister": {`mutation($b: String!) { trustedDocumentsRegister(documents: [{body: $b}]) { documents { id } } }`, map[string]any{"b": bDoc}, noB},
		"trustedDocumentsRemove":   {`mutation($id: String!) { trustedDocumentsRemove(ids: [$id]) { removed } }`, map[string]any{"id": bDocID}, noB},
		"customerRegister":         {`mutation { customerRegister(input: {email: "b-cust@example.com", password: "password-x-1"}) { customer { id } } }`, nil, noB},
		"customerLogin":            {`mutation { customerLogin(input: {email: "b-cust@example.com", password: "password-b-1"}) { accessToken } }`, nil, nullOr("accessToken")},
		"customerLogout":           {`mutation { customerLogout { loggedOut } }`, nil, noB},
		"staffLogin":               {`mutation { staffLogin(input: {email: "owner@electronics.example", password: "cartograph-demo"}) { accessToken } }`, nil, denied},
		"staffTokenRefresh":        {`mutation { staffTokenRefresh(refreshToken: "0000") { accessToken } }`, nil, denied},
		"apiKeyCreate":             {`mutation { apiKeyCreate(input: {kind: PUBLIC}) { apiKey { id } } }`, nil, noB},
		"apiKeyRevoke":             {`mutation($id: ID!) { apiKeyRevoke(id: $id) { apiKey { id } } }`, map[string]any{"id": bKeyID}, denied},
		"cart":                     {`query($id: ID!) { cart(id: $id) { id } }`, map[string]any{"id": bCart}, nullOr("cart")},
		"order":                    {`query($id: ID!) { order(id: $id) { id } }`, map[string]any{"id": bOrder}, nullOr("order")},
		"orders":                   {`{ orders(first: 250) { nodes { id } } }`, nil, noB},
		"cartCreate":               {`mutation($v: ID!) { cartCreate(input: {lines: [{merchandiseId: $v}]}) { cart { id } } }`, map[string]any{"v": bVariantStocked}, nullOr("cart")},
		"cartLinesAdd":             {`mutation($c: ID!, $v: ID!) { cartLinesAdd(cartId: $c, lines: [{merchandiseId: $v}]) { cart { id } } }`, map[string]any{"c": bCart, "v": bVariantStocked}, denied},
		"cartLinesUpdate":          {`mutation($c: ID!, $l: ID!) { cartLinesUpdate(cartId: $c, lines: [{id: $l, quantity: 5}]) { cart { id } } }`, map[string]any{"c": bCart, "l": bLine}, denied},
		"cartLinesRemove":          {`mutation($c: ID!, $l: ID!) { cartLinesRemove(cartId: $c, lineIds: [$l]) { cart { id } } }`, map[string]any{"c": bCart, "l": bLine}, denied},
		"cartBuyerIdentityUpdate":  {`mutation($c: ID!) { cartBuyerIdentityUpdate(cartId: $c, buyerIdentity: {email: "x@example.com"}) { cart { id } } }`, map[string]any{"c": bCart}, denied},
		"checkoutBegin": {`mutation($c: ID!) { checkoutBegin(input: {cartId: $c, email: "x@example.com", idempotencyKey: "xt", shippingAddress: {address1: "a", city: "b", country: "DE"}}) { order { id } } }`,
			map[string]any{"c": bCart}, denied},
		"orderMarkPaid": {`mutation($id: ID!) { orderMarkPaid(id: $id) { order { id } } }`, map[string]any{"id": bOrder}, denied},
		"orderFulfill":  {`mutation($id: ID!) { orderFulfill(id: $id) { order { id } } }`, map[string]any{"id": bOrder}, denied},
		"orderCancel":   {`mutation($id: ID!) { orderCancel(id: $id, reason: "x") { order { id } } }`, map[string]any{"id": bOrder}, denied},
		"orderRefund":   {`mutation($id: ID!) { orderRefund(id: $id, idempotencyKey: "x") { order { id } } }`, map[string]any{"id": bOrder}, denied},
		// Content and localization (content.graphqls, localization.graphqls): shop A's own, never B's name, host or markets.
		"menu":         {`{ menu(handle: "main-menu") { title items { title url } } }`, nil, func(r *gqlResponse) bool { return noB(r) && !strings.Contains(string(r.Data), "electronics") }},
		"page":         {`{ page(handle: "about") { title body onlineStoreUrl } }`, nil, func(r *gqlResponse) bool { return noB(r) && !strings.Contains(string(r.Data), "electronics") }},
		"pageByHandle": {`{ pageByHandle(handle: "about") { title body } }`, nil, noB},
		"pages":        {`{ pages(first: 250) { nodes { title body } } }`, nil, noB},
		"blog":         {`query($id: ID) { blog(id: $id) { id } }`, map[string]any{"id": bBlog}, nullOr("blog")},
		// Content administration: what A writes or deletes is A's.
		"menuUpsert":       {`mutation { menuUpsert(handle: "main-menu", title: "A", items: [{title: "x", type: HTTP, url: "/x"}]) { menu { id title } } }`, nil, noB},
		"menuDelete":       {`mutation { menuDelete(handle: "footer") { deletedHandle } }`, nil, noB},
		"pageUpsert":       {`mutation { pageUpsert(input: {handle: "faq", title: "A", body: "<p>A</p>"}) { page { id } } }`, nil, noB},
		"pageDelete":       {`mutation { pageDelete(handle: "about") { deletedHandle } }`, nil, noB},
		"blogUpsert":       {`mutation { blogUpsert(input: {handle: "news", title: "A"}) { blog { id articles(first: 10) { nodes { id } } } } }`, nil, noB},
		"blogDelete":       {`mutation { blogDelete(handle: "news") { deletedHandle } }`, nil, noB},
		"articleUpsert":    {`mutation { articleUpsert(input: {blogHandle: "news", handle: "a", title: "A", contentHtml: "A", authorName: "A"}) { article { id blog { id } } } }`, nil, noB},
		"articleDelete":    {`mutation { articleDelete(blogHandle: "news", handle: "hello-world") { deletedHandle } }`, nil, noB},
		"shopPolicyUpdate": {`mutation { shopPolicyUpdate(type: PRIVACY_POLICY, body: "A") { shopPolicy { id body } } }`, nil, noB},
		"shopBrandUpdate":  {`mutation { shopBrandUpdate(input: {slogan: "A"}) { brand { slogan } } }`, nil, noB},
		"blogs":            {`{ blogs(first: 250) { nodes { id } } }`, nil, noB},
		"articles":         {`{ articles(first: 250) { nodes { id } } }`, nil, noB},
		"localization":     {`{ localization { country { isoCode } availableCountries { isoCode } } }`, nil, func(r *gqlResponse) bool { return noB(r) && !strings.Contains(string(r.Data), `"DE"`) }},
		// Cart metadata mutations: shop B's cart is unknown in shop A.
		"cartNoteUpdate":          {`mutation($c: ID!) { cartNoteUpdate(cartId: $c, note: "x") { cart { id } } }`, map[string]any{"c": bCart}, denied},
		"cartAttributesUpdate":    {`mutation($c: ID!) { cartAttributesUpdate(cartId: $c, attributes: [{key: "k", value: "v"}]) { cart { id } } }`, map[string]any{"c": bCart}, denied},
		"cartDiscountCodesUpdate": {`mutation($c: ID!) { cartDiscountCodesUpdate(cartId: $c, discountCodes: ["X"]) { cart { id } } }`, map[string]any{"c": bCart}, denied},
		"cartGiftCardCodesUpdate": {`mutation($c: ID!) { cartGiftCardCodesUpdate(cartId: $c, giftCardCodes: ["X"]) { cart { id } } }`, map[string]any{"c": bCart}, denied},
		"cartGiftCardCodesAdd":    {`mutation($c: ID!) { cartGiftCardCodesAdd(cartId: $c, giftCardCodes: ["X"]) { cart { id } } }`, map[string]any{"c": bCart}, denied},
		"cartGiftCardCodesRemove": {`mutation($c: ID!) { cartGiftCardCodesRemove(cartId: $c, appliedGiftCardIds: ["gid://shopify/AppliedGiftCard/1"]) { cart { id } } }`, map[string]any{"c": bCart}, denied},
		"cartSelectedDeliveryOptionsUpdate": {`mutation($c: ID!) { cartSelectedDeliveryOptionsUpdate(cartId: $c, selectedDeliveryOptions: [{deliveryGroupId: "gid://cartograph/CartDeliveryGroup/0", deliveryOptionHandle: "b-rate"}]) { cart { id } } }`,
			map[string]any{"c": bCart}, denied},
		// Pricing administration (pricing.graphqls): B's discounts, zones and rates are unknown in A; what A creates is A's.
		"discountCreate":         {`mutation { discountCreate(input: {code: "B-ONLY", title: "x", kind: PERCENTAGE, percentage: "5"}) { discount { id code } } }`, nil, noB},
		"discountUpdate":         {`mutation($id: ID!) { discountUpdate(id: $id, input: {title: "x", kind: PERCENTAGE, percentage: "99"}) { discount { id } } }`, map[string]any{"id": bDiscount}, denied},
		"discountDeactivate":     {`mutation($id: ID!) { discountDeactivate(id: $id) { discount { id } } }`, map[string]any{"id": bDiscount}, denied},
		"shippingZoneCreate":     {`mutation { shippingZoneCreate(input: {name: "x", areas: ["DE"]}) { shippingZone { id } } }`, nil, noB},
		"shippingRateCreate":     {`mutation($z: ID!) { shippingRateCreate(input: {zoneId: $z, handle: "x", title: "x", price: "1.00"}) { shippingRate { id } } }`, map[string]any{"z": bZone}, nullOr("shippingRate")},
		"shippingRateDeactivate": {`mutation($id: ID!) { shippingRateDeactivate(id: $id) { shippingRate { id } } }`, map[string]any{"id": bRate}, denied},
		"taxRateSet":             {`mutation { taxRateSet(input: {countryCode: "DE", title: "MwSt", ratePercentage: "0", included: true, shipping: true}) { taxRate { id } } }`, nil, noB},
		"discounts":              {`{ discounts(first: 250) { id code } }`, nil, func(r *gqlResponse) bool { return denied(r) || !strings.Contains(string(r.Data), bDiscount) }},
		"shippingZones":          {`{ shippingZones(first: 250) { id } }`, nil, func(r *gqlResponse) bool { return denied(r) || !strings.Contains(string(r.Data), bZone) }},
		"shippingRates": {`query($z: ID) { all: shippingRates(first: 250) { id } ofB: shippingRates(zoneId: $z) { id } }`, map[string]any{"z": bZone},
			func(r *gqlResponse) bool {
				return denied(r) || !strings.Contains(string(r.Data), bRate) && strings.Contains(string(r.Data), `"ofB":[]`)
			}},
		"taxRates": {`{ taxRates(first: 250) { id title } }`, nil, func(r *gqlResponse) bool { return denied(r) || !strings.Contains(string(r.Data), "B-ONLY-VAT") }},
		// Markets (markets.graphqls): B's markets and rates are unknown in A; what A creates is A's.
		"markets":       {`{ markets { handle } }`, nil, func(r *gqlResponse) bool { return denied(r) || !strings.Contains(string(r.Data), "b-only-market") }},
		"exchangeRates": {`{ exchangeRates { rate } }`, nil, func(r *gqlResponse) bool { return denied(r) || !strings.Contains(string(r.Data), "7.77") }},
		"marketCreate": {`mutation { marketCreate(input: {handle: "a-market", name: "A", currencyCode: USD, countries: [US], primary: true}) { market { id handle } } }`, nil,
			func(r *gqlResponse) bool { return noB(r) && !strings.Contains(string(r.Data), bMarket) }},
		"marketUpdate": {`mutation($id: ID!) { marketUpdate(id: $id, input: {handle: "x", name: "x", currencyCode: EUR, countries: [AT]}) { market { id } } }`, map[string]any{"id": bMarket}, denied},
		"marketDelete": {`mutation($id: ID!) { marketDelete(id: $id) { deletedMarketId } }`, map[string]any{"id": bMarket}, denied},
		"marketFixedPricesSet": {`mutation($id: ID!, $v: ID!) { marketFixedPricesSet(marketId: $id, prices: [{variantId: $v, price: "1"}]) { market { id } } }`,
			map[string]any{"id": bMarket, "v": bVariant}, denied},
		"exchangeRateSet": {`mutation { exchangeRateSet(currencyCode: CHF, rate: "1") { exchangeRate { rate } } }`, nil, func(r *gqlResponse) bool { return noB(r) && !strings.Contains(string(r.Data), "7.77") }},
		// Inventory (inventory.graphqls): shop B's variants and warehouses are unknown in shop A.
		"inventoryLevels": {`query($v: ID!) { inventoryLevels(first: 250, variantIds: [$v]) { nodes { onHand } } }`, map[string]any{"v": bVariantStocked},
			func(r *gqlResponse) bool { return denied(r) || string(r.Data) == `{"inventoryLevels":{"nodes":[]}}` }},
		"inventoryHistory": {`query($v: ID!) { inventoryHistory(variantId: $v, first: 250) { nodes { sequence } } }`, map[string]any{"v": bVariantStocked},
			func(r *gqlResponse) bool { return denied(r) || string(r.Data) == `{"inventoryHistory":{"nodes":[]}}` }},
		"inventoryAdjustQuantities": {`mutation($v: ID!, $w: ID!) { inventoryAdjustQuantities(input: {name: "available", reason: "correction", changes: [{inventoryItemId: $v, locationId: $w, delta: 5, changeFromQuantity: 19}]}, idempotencyKey: "xt-adjust") { inventoryAdjustmentGroup { id } } }`,
			map[string]any{"v": bVariantStocked, "w": bWarehouse}, nullOr("inventoryAdjustmentGroup")},
		"inventorySetQuantities": {`mutation($v: ID!, $w: ID!) { inventorySetQuantities(input: {name: "on_hand", reason: "correction", quantities: [{inventoryItemId: $v, locationId: $w, quantity: 0, changeFromQuantity: 20}]}, idempotencyKey: "xt-set") { inventoryAdjustmentGroup { id } } }`,
			map[string]any{"v": bVariantStocked, "w": bWarehouse}, nullOr("inventoryAdjustmentGroup")},
		"inventoryTransfer": {`mutation($v: ID!, $w: ID!, $w2: ID!) { inventoryTransfer(input: {inventoryItemId: $v, fromLocationId: $w, toLocationId: $w2, quantity: 1, changeFromQuantity: 19}, idempotencyKey: "xt-transfer") { inventoryAdjustmentGroup { id } } }`,
			map[string]any{"v": bVariantStocked, "w": bWarehouse, "w2": bWarehouse2}, nullOr("inventoryAdjustmentGroup")},
		// Over POST a subscription is refused; over websockets see TestInventorySubscriptionAuth.
		"inventoryChanged": {`subscription($v: ID!) { inventoryChanged(variantIds: [$v], since: 0) { sequence } }`, map[string]any{"v": bVariantStocked},
			func(r *gqlResponse) bool { return !strings.Contains(string(r.Data), "sequence") }},
		// Shop A's staff setting a threshold on B's variant: NOT_FOUND, nothing set.
		"inventorySetLowStockThreshold": {`mutation($v: ID!) { inventorySetLowStockThreshold(variantId: $v, threshold: 3) { threshold } }`, map[string]any{"v": bVariantStocked},
			nullOr("threshold")},
		// The default is per shop: A's call reads and sets A's only (B's is never visible).
		"inventoryDefaultLowStockThreshold": {`{ inventoryDefaultLowStockThreshold }`, nil,
			func(r *gqlResponse) bool {
				return denied(r) || string(r.Data) == `{"inventoryDefaultLowStockThreshold":null}`
			}},
		"inventorySetDefaultLowStockThreshold": {`mutation { inventorySetDefaultLowStockThreshold(threshold: null) { threshold } }`, nil,
			func(r *gqlResponse) bool {
				return denied(r) || string(r.Data) == `{"inventorySetDefaultLowStockThreshold":{"threshold":null}}`
			}},
		// Over POST subscriptions are refused; over websockets see TestLowStockAlerts and TestProductAvailabilityChanged.
		"inventoryLowStock": {`subscription($v: ID!) { inventoryLowStock(variantIds: [$v], since: 0) { sequence } }`, map[string]any{"v": bVariantStocked},
			func(r *gqlResponse) bool { return !strings.Contains(string(r.Data), "sequence") }},
		"productAvailabilityChanged": {`subscription { productAvailabilityChanged { productId } }`, nil,
			func(r *gqlResponse) bool { return !strings.Contains(string(r.Data), "productId") }},
	}

	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	for _, root := range []string{"Query", "Mutation", "Subscription"} {
		def := schema.Types[root]
		if def == nil {
			continue
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			name := f.Name
			t.Run(root+"."+name, func(t *testing.T) {
				pub, perm := f.Directives.ForName("public") != nil, f.Directives.ForName("hasPermission") != nil
				if pub == perm {
					t.Fatalf("%s.%s must carry exactly one of @public / @hasPermission", root, name)
				}
				p, ok := probes[name]
				if !ok {
					t.Fatalf("%s.%s has no cross-tenant probe in TestCrossTenantMatrix", root, name)
				}
				for who, h := range principals {
					r := e.do(t, h, p.query, p.vars)
					if !p.safe(r) {
						t.Fatalf("%s of shop A reached shop B through %s: %d %s %+v", who, name, r.Status, r.Data, r.Errors)
					}
				}
			})
		}
	}
	// Shop B's pricing is untouched by everything shop A did.
	var bActive bool
	var bValue, bRateActive, bTaxes int
	if err := e.db.Pool.QueryRow(ctx, `SELECT d.active, d.value, (SELECT count(*) FROM shipping_rates r JOIN shops s ON s.id = r.shop_id WHERE s.handle = 'electronics' AND r.active),
		(SELECT count(*) FROM tax_rates x JOIN shops s ON s.id = x.shop_id WHERE s.handle = 'electronics')
		FROM discounts d WHERE d.code = 'B-ONLY' AND d.currency_code = 'EUR'`).Scan(&bActive, &bValue, &bRateActive, &bTaxes); err != nil {
		t.Fatal(err)
	}
	if !bActive || bValue != 1000 || bRateActive != 1 || bTaxes != 1 {
		t.Fatalf("shop B's pricing changed: active %v value %d active rates %d tax rates %d", bActive, bValue, bRateActive, bTaxes)
	}
	// Shop B's market, its country and rate are untouched.
	if n := e.count(t, `SELECT (SELECT count(*) FROM markets m JOIN shops s ON s.id = m.shop_id WHERE s.handle = 'electronics' AND m.name = 'B market' AND m.currency_code = 'EUR')
		+ (SELECT count(*) FROM market_countries c JOIN shops s ON s.id = c.shop_id WHERE s.handle = 'electronics')
		+ (SELECT count(*) FROM exchange_rates x JOIN shops s ON s.id = x.shop_id WHERE s.handle = 'electronics')
		+ (SELECT count(*) FROM market_prices p JOIN shops s ON s.id = p.shop_id WHERE s.handle = 'electronics')`); n != 3 {
		t.Fatalf("shop B's markets changed: %d rows, want 3", n)
	}
	// Shop B's trusted document and policy are untouched.
	var bDocs, bMax int
	if err := e.db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM trusted_documents d JOIN shops s ON s.id = d.shop_id WHERE s.handle = 'electronics'),
		(SELECT p.max_query_cost FROM api_policies p JOIN shops s ON s.id = p.shop_id WHERE s.handle = 'electronics')`).Scan(&bDocs, &bMax); err != nil {
		t.Fatal(err)
	}
	if bDocs != 1 || bMax != 777 {
		t.Fatalf("shop B's trusted documents (%d) or policy (max %d) changed", bDocs, bMax)
	}
	if got := contentOfB(); got != bContent {
		t.Fatalf("shop A changed shop B's content:\nbefore %s\nafter  %s", bContent, got)
	}
	if st := e.orderStatus(t, bOrder); st != "PENDING_PAYMENT" {
		t.Fatalf("shop A moved shop B's order to %s", st)
	}
	var bc2 struct{ Cart struct{ TotalQuantity int } }
	mustData(t, e.do(t, hB, `query($c: ID!) { cart(id: $c) { totalQuantity } }`, map[string]any{"c": bCart}), &bc2)
	if bc2.Cart.TotalQuantity != 1 {
		t.Fatalf("shop A changed shop B's cart: %d", bc2.Cart.TotalQuantity)
	}
	var revoked bool
	if err := e.db.Pool.QueryRow(ctx, `SELECT bool_or(k.revoked_at IS NOT NULL) FROM api_keys k JOIN shops s ON s.id = k.shop_id WHERE s.handle = 'electronics'`).Scan(&revoked); err != nil || revoked {
		t.Fatalf("shop B's key after shop A's revoke attempts: revoked=%v err=%v", revoked, err)
	}
}

func TestPlaintextKeyNeverLogged(t *testing.T) {
	e := newEnv(t, 0)
	_, pk := e.createKey(t, "apparel", "PUBLIC", "")
	e.do(t, map[string]string{"X-Api-Key": pk}, `{ shop { name } }`, nil)
	e.do(t, map[string]string{"X-Api-Key": pk[:len(pk)-1] + "0"}, `{ shop { name } }`, nil)
	logs := e.logs.String()
	if !strings.Contains(logs, `"request"`) {
		t.Fatalf("expected request logs at debug level, got %q", logs)
	}
	if strings.Contains(logs, pk[len(pk)-64:]) || strings.Contains(logs, pk[len(pk)-64:len(pk)-1]) {
		t.Fatal("the plaintext key appeared in the logs")
	}
}
