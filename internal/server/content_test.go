package server_test

import (
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"cartograph/internal/config"
)

type contentUE struct {
	Field []string `json:"field"`
	Code  string   `json:"code"`
}

// TestContentAdmin: online-store content is stored per shop, edited by
// staff with content:write in the Storefront API shapes, refused with user
// errors (nothing written) when malformed, and dropped from the public
// response cache when it changes.
func TestContentAdmin(t *testing.T) {
	e := newEnvWith(t, 0, func(c *config.Config) { c.PublicCacheTTL = time.Minute })
	staff := e.staff(t, "apparel")
	anon := map[string]string{"X-Shop-Handle": "apparel"}
	count := func() (n int) {
		t.Helper()
		if err := e.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM content_entries c JOIN shops s ON s.id = c.shop_id WHERE s.handle = 'apparel'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	uesOf := func(r *gqlResponse, field string) []contentUE {
		t.Helper()
		var m map[string]struct {
			UserErrors []contentUE `json:"userErrors"`
		}
		if len(r.Errors) > 0 || json.Unmarshal(r.Data, &m) != nil {
			t.Fatalf("%s: %+v", field, r)
		}
		return m[field].UserErrors
	}

	t.Run("SeededContent", func(t *testing.T) {
		var out struct {
			Menu struct {
				Title      string
				ItemsCount int
				Items      []struct{ Title, Type, URL string }
			}
			Page struct{ Title, Body, BodySummary string }
			Blog struct {
				Title    string
				Articles struct {
					Nodes []struct {
						Handle, Title string
						Content       string
						AuthorV2      struct{ Name string }
						Blog          struct{ Handle string }
					}
				}
			}
			Shop struct {
				PrivacyPolicy struct{ Title, Body, URL string }
				Brand         struct {
					Slogan string
					Colors struct {
						Primary []struct{ Background string }
					}
				}
			}
		}
		mustData(t, e.do(t, anon, `{ menu(handle: "main-menu") { title itemsCount items { title type url } }
			page(handle: "faq") { title body bodySummary }
			blog(handle: "news") { title articles(first: 10, sortKey: TITLE) { nodes { handle title content(truncateAt: 12) authorV2 { name } blog { handle } } } }
			shop { privacyPolicy { title body url } brand { slogan colors { primary { background } } } } }`, nil), &out)
		if out.Menu.Title != "Main menu" || out.Menu.ItemsCount != 4 || out.Menu.Items[0].URL != "/collections/all" || out.Menu.Items[0].Type != "CATALOG" {
			t.Fatalf("menu: %+v", out.Menu)
		}
		if !strings.Contains(out.Page.Body, "<h2>") || strings.Contains(out.Page.BodySummary, "<") || !strings.HasPrefix(out.Page.BodySummary, "Shipping Orders ship") {
			t.Fatalf("page: %+v", out.Page)
		}
		arts := out.Blog.Articles.Nodes
		if len(arts) != 2 || arts[0].Title != "Hello, world" || len([]rune(arts[0].Content)) != 12 || arts[0].AuthorV2.Name != "Cartograph Team" || arts[0].Blog.Handle != "news" {
			t.Fatalf("blog: %+v", out.Blog)
		}
		if out.Shop.PrivacyPolicy.Title != "Privacy Policy" || !strings.HasSuffix(out.Shop.PrivacyPolicy.URL, "/policies/privacy-policy") ||
			out.Shop.Brand.Slogan != "Made to last" || len(out.Shop.Brand.Colors.Primary) != 1 {
			t.Fatalf("shop: %+v", out.Shop)
		}
	})

	t.Run("EditsAreServedAndTheCacheDropsThem", func(t *testing.T) {
		q := `{ menu(handle: "main-menu") { title items { title items { title } } } }`
		before := e.do(t, anon, q, nil) // cached now
		if !strings.Contains(string(before.Data), "Main menu") {
			t.Fatalf("before: %s", before.Data)
		}
		r := e.do(t, staff, `mutation { menuUpsert(handle: "main-menu", title: "Winter", items: [
			{title: "Shop", type: CATALOG, url: "/collections/all", items: [{title: "Hats", type: COLLECTION, url: "/collections/hats"}]},
			{title: "Blog", type: HTTP, url: "https://blog.example/winter"}]) { menu { title itemsCount } userErrors { field code } } }`, nil)
		if ues := uesOf(r, "menuUpsert"); len(ues) != 0 {
			t.Fatalf("menuUpsert: %+v", ues)
		}
		after := e.do(t, anon, q, nil)
		if !strings.Contains(string(after.Data), `"Winter"`) || !strings.Contains(string(after.Data), `"Hats"`) {
			t.Fatalf("the edited menu is not served (stale cache?): %s", after.Data)
		}
		r = e.do(t, staff, `mutation { pageUpsert(input: {handle: "shipping", title: "Shipping", body: "<p>Fast &amp; free</p>", seoDescription: "How we ship"}) { page { handle bodySummary seo { title description } } userErrors { code } } }`, nil)
		if !strings.Contains(string(r.Data), `"bodySummary":"Fast & free"`) || !strings.Contains(string(r.Data), `"description":"How we ship"`) {
			t.Fatalf("pageUpsert: %s %+v", r.Data, r.Errors)
		}
		r = e.do(t, staff, `mutation { articleUpsert(input: {blogHandle: "news", handle: "winter-sale", title: "Winter sale", contentHtml: "<p>Everything <b>half</b> off</p>",
			authorName: "Ada Lovelace", tags: ["sale", "winter"], imageUrl: "/images/sale.png", imageAlt: "Sale"}) { article { handle content excerpt authorV2 { firstName lastName } image { url altText } tags blog { handle } } userErrors { code } } }`, nil)
		if s := string(r.Data); !strings.Contains(s, `"content":"Everything half off"`) || !strings.Contains(s, `"firstName":"Ada"`) || !strings.Contains(s, `"altText":"Sale"`) {
			t.Fatalf("articleUpsert: %s %+v", r.Data, r.Errors)
		}
		var arts struct {
			Articles struct{ Nodes []struct{ Handle string } }
		}
		mustData(t, e.do(t, anon, `{ articles(first: 10, query: "winter") { nodes { handle } } }`, nil), &arts)
		if len(arts.Articles.Nodes) != 1 || arts.Articles.Nodes[0].Handle != "winter-sale" {
			t.Fatalf("articles(query: winter): %+v", arts)
		}
		r = e.do(t, staff, `mutation { shopPolicyUpdate(type: REFUND_POLICY, body: "<p>30 days</p>") { shopPolicy { title body } userErrors { code } } }`, nil)
		if !strings.Contains(string(r.Data), `"title":"Refund Policy"`) {
			t.Fatalf("shopPolicyUpdate: %s %+v", r.Data, r.Errors)
		}
		var sh struct {
			Shop struct {
				RefundPolicy struct{ Body string }
				Brand        struct {
					Slogan string
					Logo   struct{ Image struct{ URL string } }
				}
			}
		}
		r = e.do(t, staff, `mutation { shopBrandUpdate(input: {slogan: "Warm", primaryColor: "#112233", logoUrl: "https://cdn.example/logo.png"}) { brand { slogan } userErrors { code } } }`, nil)
		if ues := uesOf(r, "shopBrandUpdate"); len(ues) != 0 {
			t.Fatalf("shopBrandUpdate: %+v", ues)
		}
		mustData(t, e.do(t, anon, `{ shop { refundPolicy { body } brand { slogan logo { image { url } } } } }`, nil), &sh)
		if sh.Shop.RefundPolicy.Body != "<p>30 days</p>" || sh.Shop.Brand.Slogan != "Warm" || sh.Shop.Brand.Logo.Image.URL != "https://cdn.example/logo.png" {
			t.Fatalf("shop after edits: %+v", sh)
		}
	})

	t.Run("BadContentWritesNothing", func(t *testing.T) {
		n := count()
		deep := `{title: "4", type: HTTP, url: "/4"}`
		for i := 3; i >= 1; i-- {
			deep = fmt.Sprintf(`{title: "%d", type: HTTP, url: "/%d", items: [%s]}`, i, i, deep)
		}
		many := make([]string, 201)
		for i := range many {
			many[i] = `{title: "x", type: HTTP, url: "/x"}`
		}
		cases := []struct {
			name, doc, field string
			want             []string
		}{
			{"BadHandle", `mutation { menuUpsert(handle: "Main Menu", title: "x", items: []) { userErrors { field code } } }`, "menuUpsert", []string{"handle"}},
			{"EmptyTitle", `mutation { menuUpsert(handle: "m2", title: " ", items: []) { userErrors { field code } } }`, "menuUpsert", []string{"title"}},
			{"ScriptURL", `mutation { menuUpsert(handle: "m2", title: "x", items: [{title: "x", type: HTTP, url: "javascript:alert(1)"}]) { userErrors { field code } } }`, "menuUpsert", []string{"items", "0", "url"}},
			{"ProtocolRelativeURL", `mutation { menuUpsert(handle: "m2", title: "x", items: [{title: "x", type: HTTP, url: "//evil.example"}]) { userErrors { field code } } }`, "menuUpsert", []string{"items", "0", "url"}},
			{"FourLevels", `mutation { menuUpsert(handle: "m2", title: "x", items: [` + deep + `]) { userErrors { field code } } }`, "menuUpsert", []string{"items", "0", "items", "0", "items", "0", "items", "0"}},
			{"TooManyItems", `mutation { menuUpsert(handle: "m2", title: "x", items: [` + strings.Join(many, ",") + `]) { userErrors { field code } } }`, "menuUpsert", []string{"items"}},
			{"PageHandle", `mutation { pageUpsert(input: {handle: "-x", title: "x", body: "x"}) { userErrors { field code } } }`, "pageUpsert", []string{"input", "handle"}},
			{"UnknownBlog", `mutation { articleUpsert(input: {blogHandle: "nope", handle: "a", title: "A", contentHtml: "A", authorName: "A"}) { userErrors { field code } } }`, "articleUpsert", []string{"input", "blogHandle"}},
			{"NoAuthor", `mutation { articleUpsert(input: {blogHandle: "news", handle: "a", title: "A", contentHtml: "A", authorName: ""}) { userErrors { field code } } }`, "articleUpsert", []string{"input", "authorName"}},
			{"BadColor", `mutation { shopBrandUpdate(input: {primaryColor: "red"}) { userErrors { field code } } }`, "shopBrandUpdate", []string{"input", "primaryColor"}},
		}
		for _, c := range cases {
			ues := uesOf(e.do(t, staff, c.doc, nil), c.field)
			if len(ues) == 0 || !slices.Equal(ues[0].Field, c.want) {
				t.Errorf("%s: user errors %+v, want field %v", c.name, ues, c.want)
			}
		}
		if got := count(); got != n {
			t.Fatalf("refused writes changed the content: %d entries, was %d", got, n)
		}
		pk := e.storefront(t, "apparel")
		if r := e.do(t, pk, `mutation { pageDelete(handle: "faq") { deletedHandle } }`, nil); r.code() != "FORBIDDEN" && r.code() != "UNAUTHENTICATED" {
			t.Fatalf("a public key deleted a page: %+v", r)
		}
		if got := count(); got != n {
			t.Fatal("a refused delete changed the content")
		}
	})

	t.Run("DeletingABlogDeletesItsArticles", func(t *testing.T) {
		r := e.do(t, staff, `mutation { blogDelete(handle: "news") { deletedHandle } }`, nil)
		if !strings.Contains(string(r.Data), `"deletedHandle":"news"`) {
			t.Fatalf("blogDelete: %s %+v", r.Data, r.Errors)
		}
		var n int
		if err := e.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM content_entries c JOIN shops s ON s.id = c.shop_id WHERE s.handle = 'apparel' AND c.kind IN ('blog', 'article')`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("blog and articles left: %d %v", n, err)
		}
		if r := e.do(t, staff, `mutation { blogDelete(handle: "news") { deletedHandle } }`, nil); !strings.Contains(string(r.Data), `"deletedHandle":null`) {
			t.Fatalf("deleting again: %s", r.Data)
		}
	})

	t.Run("BlogsAndArticlesInConstantStatements", func(t *testing.T) {
		const q = `{ blogs(first: 10) { nodes { handle articles(first: 10) { nodes { title blog { handle } } } } } articles(first: 50) { nodes { handle blog { title } } } }`
		stmts := func() int64 {
			before := e.db.AppStats.Statements()
			mustData(t, e.do(t, staff, q, nil), &struct{}{})
			return e.db.AppStats.Statements() - before
		}
		e.do(t, staff, `mutation { blogUpsert(input: {handle: "first", title: "B"}) { blog { id } } }`, nil)
		e.do(t, staff, `mutation { articleUpsert(input: {blogHandle: "first", handle: "a", title: "A", contentHtml: "A", authorName: "A"}) { article { id } } }`, nil)
		one := stmts()
		for i := range 3 {
			h := fmt.Sprintf("blog-%d", i)
			e.do(t, staff, fmt.Sprintf(`mutation { blogUpsert(input: {handle: %q, title: "B"}) { blog { id } } }`, h), nil)
			for j := range 3 {
				e.do(t, staff, fmt.Sprintf(`mutation { articleUpsert(input: {blogHandle: %q, handle: "a-%d", title: "A", contentHtml: "A", authorName: "A"}) { article { id } } }`, h, j), nil)
			}
		}
		if many := stmts(); many != one {
			t.Fatalf("blogs with articles: %d statements for 4 blogs and 10 articles, %d for 1 and 1", many, one)
		}
	})
}

// TestDemoImagesServedOffline: every demo image URL is served by the
// gateway itself as a decodable PNG (no network), cacheable, with a 304
// for a matching ETag; malformed names are 404. Next.js Commerce's home
// page collections are seeded.
func TestDemoImagesServedOffline(t *testing.T) {
	e := newEnv(t, 0)
	var out struct {
		Products struct {
			Nodes []struct {
				FeaturedImage struct{ URL string }
				Images        struct{ Nodes []struct{ URL string } }
			}
		}
		Featured struct {
			Products struct{ Nodes []struct{ Handle string } }
		}
		Carousel struct {
			Products struct{ Nodes []struct{ Handle string } }
		}
	}
	e.query(t, "apparel", `{ products(first: 3) { nodes { featuredImage { url } images(first: 5) { nodes { url } } } }
		featured: collection(handle: "hidden-homepage-featured-items") { products(first: 10) { nodes { handle } } }
		carousel: collection(handle: "hidden-homepage-carousel") { products(first: 10) { nodes { handle } } } }`, nil, &out)
	if len(out.Featured.Products.Nodes) != 3 || len(out.Carousel.Products.Nodes) != 6 {
		t.Fatalf("home-page collections: %+v %+v", out.Featured, out.Carousel)
	}
	get := func(path string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	seen := map[string]bool{}
	for _, p := range out.Products.Nodes {
		for _, im := range append(p.Images.Nodes, struct{ URL string }{p.FeaturedImage.URL}) {
			path, ok := strings.CutPrefix(im.URL, "http://127.0.0.1:8080")
			if !ok || !strings.HasPrefix(path, "/images/demo/") {
				t.Fatalf("image not served by the gateway: %q", im.URL)
			}
			if seen[path] {
				continue
			}
			seen[path] = true
			resp := get(path, nil)
			img, err := png.Decode(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || err != nil ||
				img.Bounds().Dx() != 400 || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=31536000") {
				t.Fatalf("GET %s: %d %v %v", path, resp.StatusCode, resp.Header, err)
			}
			again := get(path, map[string]string{"If-None-Match": resp.Header.Get("ETag")})
			again.Body.Close()
			if again.StatusCode != http.StatusNotModified {
				t.Fatalf("GET %s with its ETag: %d", path, again.StatusCode)
			}
		}
	}
	if len(seen) < 3 {
		t.Fatalf("only %d distinct images", len(seen))
	}
	for _, bad := range []string{"/images/demo/Bad.png", "/images/demo/x.jpg", "/images/demo/..%2Fsecret.png", "/images/demo/" + strings.Repeat("a", 200) + ".png"} {
		if resp := get(bad, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", bad, resp.StatusCode)
		}
	}
}
