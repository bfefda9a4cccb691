// Package content stores and serves a shop's online-store content in the
// Shopify Storefront API shapes: navigation menus, pages, blogs and their
// articles, shop policies and the brand. Everything is stored per shop
// (table content_entries, row-level security) and edited by staff with
// content:write (admin.go); the demo seed writes a default set (seed.go).
// Reads are one indexed statement per call (a list of blogs or articles
// two), and public reads are cached by the response cache like the
// catalog; every write calls OnChange so the shop's cached responses go.
// Callers: graph resolvers, the seed. Errors: SHOP_NOT_FOUND (no shop in
// context), BAD_USER_INPUT (pagination, malformed ids), FORBIDDEN /
// UNAUTHENTICATED for writes without content:write; bad content is a user
// error and writes nothing.
package content

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"sort"
	"strings"
	"time"
	"unicode"

	"cartograph/internal/catalog"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"
	"cartograph/internal/relay"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Entry kinds (content_entries.kind).
const (
	KindMenu    = "menu"
	KindPage    = "page"
	KindBlog    = "blog"
	KindArticle = "article"
	KindPolicy  = "policy"
	KindBrand   = "brand"
)

// Menu is a navigation menu.
type Menu struct {
	ID     uuid.UUID
	Handle string
	Title  string
	Items  []*MenuItem
}

// NodeID is the menu's global id.
func (m *Menu) NodeID() string { return relay.GlobalID("Menu", m.ID) }

// IsNode marks Menu as a Node.
func (*Menu) IsNode() {}

// ItemsCount counts the items, nested ones included.
func (m *Menu) ItemsCount() int { return count(m.Items) }

func count(items []*MenuItem) int {
	n := len(items)
	for _, it := range items {
		n += count(it.Items)
	}
	return n
}

// MenuItem is a menu entry. Type is a Shopify MenuItemType value.
type MenuItem struct {
	ID         uuid.UUID   `json:"id"`
	Title      string      `json:"title"`
	Type       string      `json:"type"`
	URL        *string     `json:"url,omitempty"`
	ResourceID *string     `json:"resourceId,omitempty"`
	Tags       []string    `json:"tags"`
	Items      []*MenuItem `json:"items"`
}

// NodeID is the item's global id.
func (m *MenuItem) NodeID() string { return relay.GlobalID("MenuItem", m.ID) }

// IsNode marks MenuItem as a Node.
func (*MenuItem) IsNode() {}

// Page is an online-store page.
type Page struct {
	ID          uuid.UUID
	Handle      string
	Title       string
	Body        string
	BodySummary string
	Seo         *catalog.SEO
	CreatedAt   time.Time
	UpdatedAt   time.Time
	URL         string
}

// NodeID is the page's global id.
func (p *Page) NodeID() string { return relay.GlobalID("Page", p.ID) }

// IsNode marks Page as a Node.
func (*Page) IsNode() {}

// OnlineStoreURL is the page's URL on the shop's primary host.
func (p *Page) OnlineStoreURL() *string { return &p.URL }

// TrackingParameters is null: no tracking parameters are added.
func (*Page) TrackingParameters() *string { return nil }

// Policy is a shop policy (privacy, refund, shipping, terms of service).
type Policy struct {
	ID     uuid.UUID
	Handle string
	Title  string
	Body   string
	URL    string
}

// NodeID is the policy's global id.
func (p *Policy) NodeID() string { return relay.GlobalID("ShopPolicy", p.ID) }

// IsNode marks Policy as a Node.
func (*Policy) IsNode() {}

// Blog is a blog with its articles (loaded with it).
type Blog struct {
	ID       uuid.UUID
	Handle   string
	Title    string
	Seo      *catalog.SEO
	URL      string
	Articles []*Article
}

// NodeID is the blog's global id.
func (b *Blog) NodeID() string { return relay.GlobalID("Blog", b.ID) }

// IsNode marks Blog as a Node.
func (*Blog) IsNode() {}

// OnlineStoreURL is the blog's URL on the shop's primary host.
func (b *Blog) OnlineStoreURL() *string { return &b.URL }

// Authors are the distinct authors of the blog's articles.
func (b *Blog) Authors() []*Author {
	seen := map[string]bool{}
	out := []*Author{}
	for _, a := range b.Articles {
		if a.Author != nil && !seen[a.Author.Name] {
			seen[a.Author.Name] = true
			out = append(out, a.Author)
		}
	}
	return out
}

// ArticleByHandle returns the blog's article with handle, or nil.
func (b *Blog) ArticleByHandle(handle string) *Article {
	for _, a := range b.Articles {
		if a.Handle == handle {
			return a
		}
	}
	return nil
}

// Author is an article's author.
type Author struct {
	Name string `json:"name"`
	Bio  string `json:"bio,omitempty"`
}

// FirstName is the first word of the name.
func (a *Author) FirstName() string { f, _, _ := strings.Cut(a.Name, " "); return f }

// LastName is the rest of the name.
func (a *Author) LastName() string { _, l, _ := strings.Cut(a.Name, " "); return l }

// Email is empty: authors' addresses are not published.
func (*Author) Email() string { return "" }

// Article is a blog article.
type Article struct {
	ID          uuid.UUID
	Handle      string
	Title       string
	ContentHTML string
	ExcerptHTML *string
	Author      *Author
	Tags        []string
	Image       *catalog.Image
	Seo         *catalog.SEO
	PublishedAt time.Time
	UpdatedAt   time.Time
	URL         string
	Blog        *Blog
}

// NodeID is the article's global id.
func (a *Article) NodeID() string { return relay.GlobalID("Article", a.ID) }

// IsNode marks Article as a Node.
func (*Article) IsNode() {}

// OnlineStoreURL is the article's URL on the shop's primary host.
func (a *Article) OnlineStoreURL() *string { return &a.URL }

// TrackingParameters is null: no tracking parameters are added.
func (*Article) TrackingParameters() *string { return nil }

// Content is the article's text without markup, cut at truncateAt
// characters when given.
func (a *Article) Content(truncateAt *int) string {
	return truncate(PlainText(a.ContentHTML), truncateAt)
}

// Excerpt is the excerpt's text (null without one), cut like Content.
func (a *Article) Excerpt(truncateAt *int) *string {
	if a.ExcerptHTML == nil {
		return nil
	}
	s := truncate(PlainText(*a.ExcerptHTML), truncateAt)
	return &s
}

// Brand is the shop's brand.
type Brand struct {
	Slogan           *string `json:"slogan,omitempty"`
	ShortDescription *string `json:"shortDescription,omitempty"`
	LogoURL          *string `json:"logoUrl,omitempty"`
	SquareLogoURL    *string `json:"squareLogoUrl,omitempty"`
	PrimaryColor     *string `json:"primaryColor,omitempty"`
	SecondaryColor   *string `json:"secondaryColor,omitempty"`
}

// PlainText strips the markup of an HTML fragment: tags removed, entities
// decoded, whitespace collapsed to single spaces.
func PlainText(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
			b.WriteByte(' ')
		case r == '>' && in:
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.FieldsFunc(html.UnescapeString(b.String()), unicode.IsSpace), " ")
}

func truncate(s string, at *int) string {
	if at == nil || *at < 0 {
		return s
	}
	r := []rune(s)
	if len(r) <= *at {
		return s
	}
	return string(r[:*at])
}

// Service stores and serves content. Safe for concurrent use.
type Service struct {
	db         *pgxpool.Pool
	q          *dbq.Queries
	baseDomain string
	// OnChange, when set, runs after every committed write (the server
	// drops the shop's cached public responses).
	OnChange func(ctx context.Context, shopID uuid.UUID)
}

// New returns a content service over the application pool; baseDomain
// builds shop URLs.
func New(db *pgxpool.Pool, baseDomain string) *Service {
	return &Service{db: db, q: dbq.New(pg.Tenant{Pool: db}), baseDomain: baseDomain}
}

func (s *Service) base(sh *shop.Shop) string { return "https://" + sh.Host(s.baseDomain) }

func tenant(ctx context.Context) (context.Context, *shop.Shop, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return ctx, nil, err
	}
	return pg.WithShopID(ctx, sh.ID), sh, nil
}

func (s *Service) entry(ctx context.Context, sh *shop.Shop, kind string, parent uuid.UUID, handle string) (*dbq.ContentEntry, error) {
	e, err := s.q.ContentEntry(ctx, dbq.ContentEntryParams{ShopID: sh.ID, Kind: kind, ParentID: parent, Handle: handle})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &e, nil
}

func seoOf(data []byte, title string) *catalog.SEO {
	var d struct {
		SeoTitle       *string `json:"seoTitle"`
		SeoDescription *string `json:"seoDescription"`
	}
	_ = json.Unmarshal(data, &d)
	if d.SeoTitle == nil {
		d.SeoTitle = &title
	}
	return &catalog.SEO{Title: d.SeoTitle, Description: d.SeoDescription}
}

// nextJSAliases are the menu handles Next.js Commerce asks for, served by
// the shop's main-menu and footer when it has no menu of that handle.
var nextJSAliases = map[string]string{"next-js-frontend-header-menu": "main-menu", "next-js-frontend-footer-menu": "footer"}

// Menu returns the shop's menu by handle, or nil.
func (s *Service) Menu(ctx context.Context, handle string) (*Menu, error) {
	ctx, sh, err := tenant(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.entry(ctx, sh, KindMenu, uuid.Nil, handle)
	if err == nil && e == nil && nextJSAliases[handle] != "" {
		e, err = s.entry(ctx, sh, KindMenu, uuid.Nil, nextJSAliases[handle])
	}
	if err != nil || e == nil {
		return nil, err
	}
	return menuOf(e)
}

func menuOf(e *dbq.ContentEntry) (*Menu, error) {
	var d struct {
		Items []*MenuItem `json:"items"`
	}
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return nil, err
	}
	if d.Items == nil {
		d.Items = []*MenuItem{}
	}
	return &Menu{ID: e.ID, Handle: e.Handle, Title: e.Title, Items: d.Items}, nil
}

func (s *Service) pageOf(sh *shop.Shop, e *dbq.ContentEntry) *Page {
	summaryLen := 150
	sum := truncate(PlainText(e.Body), &summaryLen)
	seo := seoOf(e.Data, e.Title)
	if seo.Description == nil {
		seo.Description = &sum
	}
	return &Page{ID: e.ID, Handle: e.Handle, Title: e.Title, Body: e.Body, BodySummary: sum, Seo: seo,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, URL: s.base(sh) + "/pages/" + e.Handle}
}

// Page returns a page by handle, or nil.
func (s *Service) Page(ctx context.Context, handle string) (*Page, error) {
	ctx, sh, err := tenant(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.entry(ctx, sh, KindPage, uuid.Nil, handle)
	if err != nil || e == nil {
		return nil, err
	}
	return s.pageOf(sh, e), nil
}

func (s *Service) byID(ctx context.Context, sh *shop.Shop, kind, typ, gid string) (*dbq.ContentEntry, error) {
	id, err := relay.ParseTypedID("id", typ, gid)
	if err != nil {
		return nil, err
	}
	e, err := s.q.ContentEntryByID(ctx, dbq.ContentEntryByIDParams{ShopID: sh.ID, Kind: kind, ID: id})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &e, nil
}

// PageByID returns a page by global id, or nil.
func (s *Service) PageByID(ctx context.Context, gid string) (*Page, error) {
	ctx, sh, err := tenant(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.byID(ctx, sh, KindPage, "Page", gid)
	if err != nil || e == nil {
		return nil, err
	}
	return s.pageOf(sh, e), nil
}

// window sorts items (less), reverses them when asked, and returns the
// page p of them with its cursors (keyed by key(item)) and page info.
func window[T any](p relay.Page, items []T, cursorKey string, key func(T) string, less func(a, b T) bool, reverse bool) ([]T, []string, relay.PageInfo, error) {
	sort.SliceStable(items, func(i, j int) bool { return less(items[i], items[j]) })
	if reverse {
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	}
	cur := func(i int) string { return relay.EncodeCursor(cursorKey, key(items[i])) }
	lo, hi, info, err := relay.SliceWindow(p, len(items), cur, func(c string) (int, bool) {
		parts, err := relay.DecodeCursor("after", c, cursorKey, 1)
		if err != nil {
			return 0, false
		}
		for i := range items {
			if key(items[i]) == parts[0] {
				return i, true
			}
		}
		return 0, false
	})
	if err != nil {
		return nil, nil, info, err
	}
	curs := make([]string, 0, hi-lo)
	for i := lo; i < hi; i++ {
		curs = append(curs, cur(i))
	}
	return items[lo:hi], curs, info, nil
}

// Pages returns a window of the shop's pages sorted by sortKey (ID, TITLE,
// UPDATED_AT, RELEVANCE) and the window's cursors and page info.
func (s *Service) Pages(ctx context.Context, p relay.Page, sortKey string, reverse bool) ([]*Page, []string, relay.PageInfo, error) {
	ctx, sh, err := tenant(ctx)
	if err != nil {
		return nil, nil, relay.PageInfo{}, err
	}
	rows, err := s.q.ContentEntries(ctx, dbq.ContentEntriesParams{ShopID: sh.ID, Kind: KindPage})
	if err != nil {
		return nil, nil, relay.PageInfo{}, err
	}
	ps := make([]*Page, len(rows))
	for i := range rows {
		ps[i] = s.pageOf(sh, &rows[i])
	}
	less := func(a, b *Page) bool { return a.ID.String() < b.ID.String() }
	switch sortKey {
	case "TITLE":
		less = func(a, b *Page) bool { return a.Title < b.Title }
	case "UPDATED_AT":
		less = func(a, b *Page) bool { return a.UpdatedAt.Before(b.UpdatedAt) }
	}
	return window(p, ps, "PG"+sortKey, func(x *Page) string { return x.Handle }, less, reverse)
}

var policyTitles = map[string]string{
	"privacy-policy":   "Privacy Policy",
	"refund-policy":    "Refund Policy",
	"shipping-policy":  "Shipping Policy",
	"terms-of-service": "Terms of Service",
}

// Policy returns one of the shop's policies by handle (privacy-policy,
// refund-policy, shipping-policy, terms-of-service), or nil when the shop
// has not written it.
func (s *Service) Policy(ctx context.Context, handle string) (*Policy, error) {
	ctx, sh, err := tenant(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.entry(ctx, sh, KindPolicy, uuid.Nil, handle)
	if err != nil || e == nil {
		return nil, err
	}
	return &Policy{ID: e.ID, Handle: e.Handle, Title: e.Title, Body: e.Body, URL: s.base(sh) + "/policies/" + e.Handle}, nil
}

// Brand returns the shop's brand, or nil when it has none.
func (s *Service) Brand(ctx context.Context) (*Brand, error) {
	ctx, sh, err := tenant(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.entry(ctx, sh, KindBrand, uuid.Nil, "brand")
	if err != nil || e == nil {
		return nil, err
	}
	var b Brand
	if err := json.Unmarshal(e.Data, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

type articleData struct {
	ExcerptHTML    *string  `json:"excerptHtml,omitempty"`
	Author         *Author  `json:"author,omitempty"`
	Tags           []string `json:"tags"`
	ImageURL       *string  `json:"imageUrl,omitempty"`
	ImageAlt       *string  `json:"imageAlt,omitempty"`
	SeoTitle       *string  `json:"seoTitle,omitempty"`
	SeoDescription *string  `json:"seoDescription,omitempty"`
}

func (s *Service) blogOf(sh *shop.Shop, e *dbq.ContentEntry) *Blog {
	return &Blog{ID: e.ID, Handle: e.Handle, Title: e.Title, Seo: seoOf(e.Data, e.Title), URL: s.base(sh) + "/blogs/" + e.Handle, Articles: []*Article{}}
}

func (s *Service) articleOf(e *dbq.ContentEntry, b *Blog) *Article {
	var d articleData
	_ = json.Unmarshal(e.Data, &d)
	a := &Article{ID: e.ID, Handle: e.Handle, Title: e.Title, ContentHTML: e.Body, ExcerptHTML: d.ExcerptHTML, Author: d.Author,
		Tags: d.Tags, Seo: seoOf(e.Data, e.Title), UpdatedAt: e.UpdatedAt, Blog: b, URL: b.URL + "/" + e.Handle}
	if a.Tags == nil {
		a.Tags = []string{}
	}
	a.PublishedAt = e.CreatedAt
	if e.PublishedAt != nil {
		a.PublishedAt = *e.PublishedAt
	}
	if d.ImageURL != nil {
		a.Image = ImageAt(uuid.NewSHA1(e.ID, []byte("image")), *d.ImageURL, d.ImageAlt)
	}
	return a
}

// ImageAt is an Image at url (content images are not product images).
func ImageAt(id uuid.UUID, url string, alt *string) *catalog.Image {
	return &catalog.Image{Image: dbq.Image{ID: id, Url: url, AltText: alt}}
}

// withArticles loads the articles of blogs (one statement) into them.
func (s *Service) withArticles(ctx context.Context, sh *shop.Shop, blogs []*Blog) error {
	if len(blogs) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(blogs))
	byID := make(map[uuid.UUID]*Blog, len(blogs))
	for i, b := range blogs {
		ids[i], byID[b.ID] = b.ID, b
	}
	rows, err := s.q.ContentEntriesByParents(ctx, dbq.ContentEntriesByParentsParams{ShopID: sh.ID, Kind: KindArticle, Parents: ids})
	if err != nil {
		return err
	}
	for i := range rows {
		b := byID[rows[i].ParentID]
		b.Articles = append(b.Articles, s.articleOf(&rows[i], b))
	}
	return nil
}

// Blog returns a blog (with its articles) by handle or global id, or nil.
func (s *Service) Blog(ctx context.Context, gid, handle *string) (*Blog, error) {
	ctx, sh, err := tenant(ctx)
	if err != nil {
		return nil, err
	}
	var e *dbq.ContentEntry
	if gid != nil {
		e, err = s.byID(ctx, sh, KindBlog, "Blog", *gid)
	} else if handle != nil {
		e, err = s.entry(ctx, sh, KindBlog, uuid.Nil, *handle)
	}
	if err != nil || e == nil {
		return nil, err
	}
	b := s.blogOf(sh, e)
	return b, s.withArticles(ctx, sh, []*Blog{b})
}

func (s *Service) allBlogs(ctx context.Context, sh *shop.Shop) ([]*Blog, error) {
	rows, err := s.q.ContentEntries(ctx, dbq.ContentEntriesParams{ShopID: sh.ID, Kind: KindBlog})
	if err != nil {
		return nil, err
	}
	bs := make([]*Blog, len(rows))
	for i := range rows {
		bs[i] = s.blogOf(sh, &rows[i])
	}
	return bs, s.withArticles(ctx, sh, bs)
}

// Blogs returns a window of the shop's blogs (with their articles; two
// statements in all) sorted by sortKey (HANDLE, ID, TITLE, RELEVANCE).
func (s *Service) Blogs(ctx context.Context, p relay.Page, sortKey string, reverse bool) ([]*Blog, []string, relay.PageInfo, error) {
	ctx, sh, err := tenant(ctx)
	if err != nil {
		return nil, nil, relay.PageInfo{}, err
	}
	bs, err := s.allBlogs(ctx, sh)
	if err != nil {
		return nil, nil, relay.PageInfo{}, err
	}
	less := func(a, b *Blog) bool { return a.ID.String() < b.ID.String() }
	switch sortKey {
	case "TITLE":
		less = func(a, b *Blog) bool { return a.Title < b.Title }
	case "HANDLE":
		less = func(a, b *Blog) bool { return a.Handle < b.Handle }
	}
	return window(p, bs, "BL"+sortKey, func(x *Blog) string { return x.Handle }, less, reverse)
}

// SortArticles returns a window of the articles matching query (title,
// tags or author containing it, case-insensitive; "" matches all) sorted
// by sortKey (AUTHOR, BLOG_TITLE, ID, PUBLISHED_AT, TITLE, UPDATED_AT,
// RELEVANCE).
func SortArticles(p relay.Page, as []*Article, query, sortKey string, reverse bool) ([]*Article, []string, relay.PageInfo, error) {
	as = filterArticles(as, query)
	less := func(a, b *Article) bool { return a.ID.String() < b.ID.String() }
	switch sortKey {
	case "TITLE":
		less = func(a, b *Article) bool { return a.Title < b.Title }
	case "PUBLISHED_AT":
		less = func(a, b *Article) bool { return a.PublishedAt.Before(b.PublishedAt) }
	case "UPDATED_AT":
		less = func(a, b *Article) bool { return a.UpdatedAt.Before(b.UpdatedAt) }
	case "BLOG_TITLE":
		less = func(a, b *Article) bool { return a.Blog.Title < b.Blog.Title }
	case "AUTHOR":
		name := func(a *Article) string {
			if a.Author == nil {
				return ""
			}
			return a.Author.Name
		}
		less = func(a, b *Article) bool { return name(a) < name(b) }
	}
	return window(p, as, "AR"+sortKey, func(x *Article) string { return x.Blog.Handle + "/" + x.Handle }, less, reverse)
}

// filterArticles copies the articles whose title, tags or author contain
// query (case-insensitive); an empty query keeps all.
func filterArticles(as []*Article, query string) []*Article {
	q := strings.ToLower(strings.TrimSpace(query))
	if q == "" {
		return append([]*Article(nil), as...)
	}
	var out []*Article
	for _, a := range as {
		hay := strings.ToLower(a.Title + " " + strings.Join(a.Tags, " "))
		if a.Author != nil {
			hay += " " + strings.ToLower(a.Author.Name)
		}
		if strings.Contains(hay, q) {
			out = append(out, a)
		}
	}
	return out
}

// AllArticles returns every article of the shop, each with its blog (two
// statements).
func (s *Service) AllArticles(ctx context.Context) ([]*Article, error) {
	ctx, sh, err := tenant(ctx)
	if err != nil {
		return nil, err
	}
	bs, err := s.allBlogs(ctx, sh)
	if err != nil {
		return nil, err
	}
	as := []*Article{}
	for _, b := range bs {
		as = append(as, b.Articles...)
	}
	return as, nil
}
