package content

import (
	"context"

	"cartograph/internal/dbq"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// SeedDemo writes a demo shop's content in tx (whose app.shop_id is the
// shop): main-menu and footer menus, About and FAQ pages, the four
// policies, a "news" blog with two articles and a brand. Idempotent: a shop
// that has any menu is left alone.
func SeedDemo(ctx context.Context, tx pgx.Tx, shopID uuid.UUID, shopName string) error {
	q := dbq.New(tx)
	if n, err := q.ContentCount(ctx, dbq.ContentCountParams{ShopID: shopID, Kind: KindMenu}); err != nil || n > 0 {
		return err
	}
	put := func(kind string, parent uuid.UUID, handle, title, body string, data any) (dbq.ContentEntry, error) {
		return q.ContentUpsert(ctx, dbq.ContentUpsertParams{ShopID: shopID, Kind: kind, ParentID: parent, Handle: handle, Title: title, Body: body, Data: mustJSON(data)})
	}
	link := func(title, typ, path string) *MenuItem {
		p := path
		return &MenuItem{ID: uuid.NewSHA1(shopID, []byte("seed-item:"+title+path)), Title: title, Type: typ, URL: &p, Tags: []string{}, Items: []*MenuItem{}}
	}
	menus := []struct {
		handle, title string
		items         []*MenuItem
	}{
		{"main-menu", "Main menu", []*MenuItem{link("All", "CATALOG", "/collections/all"), link("Collections", "COLLECTIONS", "/collections"),
			link("News", "BLOG", "/blogs/news"), link("About", "PAGE", "/pages/about")}},
		{"footer", "Footer", []*MenuItem{link("About", "PAGE", "/pages/about"), link("FAQ", "PAGE", "/pages/faq"),
			link("Privacy Policy", "SHOP_POLICY", "/policies/privacy-policy"), link("Terms of Service", "SHOP_POLICY", "/policies/terms-of-service")}},
	}
	for _, m := range menus {
		if _, err := put(KindMenu, uuid.Nil, m.handle, m.title, "", map[string]any{"items": m.items}); err != nil {
			return err
		}
	}
	pages := [][3]string{
		{"about", "About " + shopName, "<p>" + shopName + " is a demo shop served by Cartograph, a headless-commerce GraphQL gateway.</p>"},
		{"faq", "FAQ", "<h2>Shipping</h2><p>Orders ship within two business days.</p><h2>Returns</h2><p>Returns are accepted within 30 days of delivery.</p>"},
	}
	for _, p := range pages {
		if _, err := put(KindPage, uuid.Nil, p[0], p[1], p[2], map[string]any{}); err != nil {
			return err
		}
	}
	for handle, title := range policyTitles {
		if _, err := put(KindPolicy, uuid.Nil, handle, title, "<p>The "+title+" of "+shopName+".</p>", map[string]any{}); err != nil {
			return err
		}
	}
	blog, err := put(KindBlog, uuid.Nil, "news", "News", "", map[string]any{})
	if err != nil {
		return err
	}
	articles := [][3]string{
		{"hello-world", "Hello, world", "<p>Welcome to the " + shopName + " journal. New arrivals, care guides and stories from the workshop.</p>"},
		{"care-guide", "How to care for what you buy", "<p>Wash cold, dry flat, and store away from sunlight: most things last twice as long.</p>"},
	}
	for _, a := range articles {
		excerpt := PlainText(a[2])
		if _, err := put(KindArticle, blog.ID, a[0], a[1], a[2], articleData{ExcerptHTML: &excerpt, Author: &Author{Name: "Cartograph Team"},
			Tags: []string{"news"}}); err != nil {
			return err
		}
	}
	slogan, desc, primary, secondary := "Made to last", shopName+", a Cartograph demo shop.", "#1f2937", "#f59e0b"
	_, err = put(KindBrand, uuid.Nil, "brand", "", "", Brand{Slogan: &slogan, ShortDescription: &desc, PrimaryColor: &primary, SecondaryColor: &secondary})
	return err
}
