package content

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
	"cartograph/internal/dbq"
	"cartograph/internal/pg"
	"cartograph/internal/shop"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Bounds of stored content (also enforced by the table's checks).
const (
	// MaxEntries bounds the entries of one kind per shop.
	MaxEntries = 1000
	// MaxMenuItems bounds a menu's items, nested ones included.
	MaxMenuItems = 200
	// MaxMenuDepth bounds a menu's nesting (Shopify allows three levels).
	MaxMenuDepth = 3
	// MaxTags bounds an article's tags.
	MaxTags = 50
)

var (
	handleRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,254}$`)
	colorRE  = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// MenuItemTypes are the Shopify MenuItemType values.
var MenuItemTypes = []string{"ARTICLE", "BLOG", "CATALOG", "COLLECTION", "COLLECTIONS", "CUSTOMER_ACCOUNT_PAGE", "FRONTPAGE",
	"HTTP", "METAOBJECT", "PAGE", "PRODUCT", "SEARCH", "SHOP_POLICY"}

// MenuItemInput is a menu entry as staff write it.
type MenuItemInput struct {
	Title      string
	Type       string
	URL        *string
	ResourceID *string
	Tags       []string
	Items      []*MenuItemInput
}

// PageInput is a page as staff write it.
type PageInput struct {
	Handle, Title, Body      string
	SeoTitle, SeoDescription *string
}

// BlogInput is a blog as staff write it.
type BlogInput struct {
	Handle, Title            string
	SeoTitle, SeoDescription *string
}

// ArticleInput is an article as staff write it.
type ArticleInput struct {
	BlogHandle, Handle, Title, ContentHTML string
	ExcerptHTML                            *string
	AuthorName                             string
	Tags                                   []string
	ImageURL, ImageAlt                     *string
	SeoTitle, SeoDescription               *string
	PublishedAt                            *time.Time
}

type problems []apperr.UserError

func (p *problems) add(msg string, field ...string) {
	*p = append(*p, apperr.UserError{Field: field, Message: msg, Code: "INVALID"})
}

func (p *problems) handle(h string, field ...string) {
	if !handleRE.MatchString(h) {
		p.add("a handle is 1 to 255 lower-case letters, digits and hyphens, starting with a letter or digit", field...)
	}
}

func (p *problems) title(t string, field ...string) {
	if strings.TrimSpace(t) == "" || len([]rune(t)) > 255 {
		p.add("a title is 1 to 255 characters", field...)
	}
}

// link accepts an absolute http(s) URL or a path on the shop ("/…").
func (p *problems) link(u *string, field ...string) {
	if u == nil {
		return
	}
	v, err := url.Parse(*u)
	ok := err == nil && len(*u) <= 2048 && ((v.Scheme == "http" || v.Scheme == "https") && v.Host != "" ||
		v.Scheme == "" && v.Host == "" && strings.HasPrefix(*u, "/") && !strings.HasPrefix(*u, "//"))
	if !ok {
		p.add("a URL is absolute (http or https) or a path starting with /", field...)
	}
}

func (p *problems) seo(title, desc *string, field ...string) {
	if title != nil && len([]rune(*title)) > 255 {
		p.add("an SEO title is at most 255 characters", append(field, "seoTitle")...)
	}
	if desc != nil && len([]rune(*desc)) > 1000 {
		p.add("an SEO description is at most 1000 characters", append(field, "seoDescription")...)
	}
}

// write runs fn in the shop's tenant transaction after checking the scope,
// then calls OnChange.
func (s *Service) write(ctx context.Context, fn func(ctx context.Context, q *dbq.Queries, sh *shop.Shop) error) error {
	if err := auth.Require(ctx, auth.ScopeContentWrite); err != nil {
		return err
	}
	ctx, sh, err := tenant(ctx)
	if err != nil {
		return err
	}
	if err := pg.WithTenantTx(ctx, s.db, func(tx pgx.Tx) error { return fn(ctx, dbq.New(tx), sh) }); err != nil {
		return err
	}
	if s.OnChange != nil {
		s.OnChange(context.WithoutCancel(ctx), sh.ID)
	}
	return nil
}

// upsert writes one entry, refusing a new one past MaxEntries.
func upsert(ctx context.Context, q *dbq.Queries, p dbq.ContentUpsertParams) (dbq.ContentEntry, *apperr.UserError, error) {
	if _, err := q.ContentEntry(ctx, dbq.ContentEntryParams{ShopID: p.ShopID, Kind: p.Kind, ParentID: p.ParentID, Handle: p.Handle}); err == pgx.ErrNoRows {
		n, err := q.ContentCount(ctx, dbq.ContentCountParams{ShopID: p.ShopID, Kind: p.Kind})
		if err != nil {
			return dbq.ContentEntry{}, nil, err
		}
		if n >= MaxEntries {
			return dbq.ContentEntry{}, &apperr.UserError{Field: []string{"handle"}, Message: "a shop has at most " + strconv.Itoa(MaxEntries) + " entries of each kind", Code: "TOO_MANY"}, nil
		}
	} else if err != nil {
		return dbq.ContentEntry{}, nil, err
	}
	e, err := q.ContentUpsert(ctx, p)
	return e, nil, err
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// SetMenu creates or replaces the menu with handle (content:write).
func (s *Service) SetMenu(ctx context.Context, handle, title string, items []*MenuItemInput) (*Menu, []apperr.UserError, error) {
	if err := auth.Require(ctx, auth.ScopeContentWrite); err != nil {
		return nil, nil, err
	}
	var ues problems
	ues.handle(handle, "handle")
	ues.title(title, "title")
	total := 0
	var conv func(in []*MenuItemInput, path []string, depth int, menuID uuid.UUID) []*MenuItem
	conv = func(in []*MenuItemInput, path []string, depth int, menuID uuid.UUID) []*MenuItem {
		out := make([]*MenuItem, 0, len(in))
		for i, it := range in {
			f := append(append([]string{}, path...), strconv.Itoa(i))
			total++
			if depth > MaxMenuDepth {
				ues.add("menus nest at most "+strconv.Itoa(MaxMenuDepth)+" levels", f...)
				return out
			}
			ues.title(it.Title, append(f, "title")...)
			if !slices.Contains(MenuItemTypes, it.Type) {
				ues.add("unknown menu item type", append(f, "type")...)
			}
			ues.link(it.URL, append(f, "url")...)
			tags := it.Tags
			if tags == nil {
				tags = []string{}
			}
			key := strings.Join(f, ".")
			out = append(out, &MenuItem{ID: uuid.NewSHA1(menuID, []byte("item:"+key)), Title: it.Title, Type: it.Type, URL: it.URL,
				ResourceID: it.ResourceID, Tags: tags, Items: conv(it.Items, append(f, "items"), depth+1, menuID)})
		}
		return out
	}
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	menuID := uuid.NewSHA1(sh.ID, []byte("menu:"+handle)) // item ids stay stable across edits
	tree := conv(items, []string{"items"}, 1, menuID)
	if total > MaxMenuItems {
		ues.add("a menu has at most "+strconv.Itoa(MaxMenuItems)+" items", "items")
	}
	if len(ues) > 0 {
		return nil, ues, nil
	}
	var menu *Menu
	err = s.write(ctx, func(ctx context.Context, q *dbq.Queries, sh *shop.Shop) error {
		e, ue, err := upsert(ctx, q, dbq.ContentUpsertParams{ShopID: sh.ID, Kind: KindMenu, Handle: handle, Title: title,
			Data: mustJSON(map[string]any{"items": tree})})
		if err != nil || ue != nil {
			if ue != nil {
				ues = append(ues, *ue)
			}
			return err
		}
		menu, err = menuOf(&e)
		return err
	})
	if err != nil || len(ues) > 0 {
		return nil, ues, err
	}
	return menu, nil, nil
}

// SetPage creates or replaces the page with in.Handle (content:write).
func (s *Service) SetPage(ctx context.Context, in PageInput) (*Page, []apperr.UserError, error) {
	if err := auth.Require(ctx, auth.ScopeContentWrite); err != nil {
		return nil, nil, err
	}
	var ues problems
	ues.handle(in.Handle, "input", "handle")
	ues.title(in.Title, "input", "title")
	ues.seo(in.SeoTitle, in.SeoDescription, "input")
	if len(ues) > 0 {
		return nil, ues, nil
	}
	var page *Page
	err := s.write(ctx, func(ctx context.Context, q *dbq.Queries, sh *shop.Shop) error {
		e, ue, err := upsert(ctx, q, dbq.ContentUpsertParams{ShopID: sh.ID, Kind: KindPage, Handle: in.Handle, Title: in.Title, Body: in.Body,
			Data: mustJSON(map[string]any{"seoTitle": in.SeoTitle, "seoDescription": in.SeoDescription})})
		if ue != nil {
			ues = append(ues, *ue)
		}
		if err == nil && ue == nil {
			page = s.pageOf(sh, &e)
		}
		return err
	})
	return page, ues, err
}

// SetBlog creates or replaces the blog with in.Handle (content:write).
func (s *Service) SetBlog(ctx context.Context, in BlogInput) (*Blog, []apperr.UserError, error) {
	if err := auth.Require(ctx, auth.ScopeContentWrite); err != nil {
		return nil, nil, err
	}
	var ues problems
	ues.handle(in.Handle, "input", "handle")
	ues.title(in.Title, "input", "title")
	ues.seo(in.SeoTitle, in.SeoDescription, "input")
	if len(ues) > 0 {
		return nil, ues, nil
	}
	var blog *Blog
	err := s.write(ctx, func(ctx context.Context, q *dbq.Queries, sh *shop.Shop) error {
		e, ue, err := upsert(ctx, q, dbq.ContentUpsertParams{ShopID: sh.ID, Kind: KindBlog, Handle: in.Handle, Title: in.Title,
			Data: mustJSON(map[string]any{"seoTitle": in.SeoTitle, "seoDescription": in.SeoDescription})})
		if ue != nil {
			ues = append(ues, *ue)
		}
		if err == nil && ue == nil {
			blog = s.blogOf(sh, &e)
			return s.withArticles(ctx, sh, []*Blog{blog})
		}
		return err
	})
	return blog, ues, err
}

// SetArticle creates or replaces the article in.Handle of the blog
// in.BlogHandle (content:write). An unknown blog is a user error.
func (s *Service) SetArticle(ctx context.Context, in ArticleInput) (*Article, []apperr.UserError, error) {
	if err := auth.Require(ctx, auth.ScopeContentWrite); err != nil {
		return nil, nil, err
	}
	var ues problems
	ues.handle(in.Handle, "input", "handle")
	ues.title(in.Title, "input", "title")
	ues.seo(in.SeoTitle, in.SeoDescription, "input")
	if n := len([]rune(strings.TrimSpace(in.AuthorName))); n == 0 || n > 255 {
		ues.add("an author name is 1 to 255 characters", "input", "authorName")
	}
	if len(in.Tags) > MaxTags {
		ues.add("an article has at most "+strconv.Itoa(MaxTags)+" tags", "input", "tags")
	}
	for i, t := range in.Tags {
		if strings.TrimSpace(t) == "" || len([]rune(t)) > 255 {
			ues.add("a tag is 1 to 255 characters", "input", "tags", strconv.Itoa(i))
		}
	}
	ues.link(in.ImageURL, "input", "imageUrl")
	if len(ues) > 0 {
		return nil, ues, nil
	}
	var art *Article
	err := s.write(ctx, func(ctx context.Context, q *dbq.Queries, sh *shop.Shop) error {
		be, err := q.ContentEntry(ctx, dbq.ContentEntryParams{ShopID: sh.ID, Kind: KindBlog, Handle: in.BlogHandle})
		if err == pgx.ErrNoRows {
			ues = append(ues, apperr.UserError{Field: []string{"input", "blogHandle"}, Message: "no blog has this handle", Code: "NOT_FOUND"})
			return nil
		} else if err != nil {
			return err
		}
		tags := in.Tags
		if tags == nil {
			tags = []string{}
		}
		data := articleData{ExcerptHTML: in.ExcerptHTML, Author: &Author{Name: strings.TrimSpace(in.AuthorName)}, Tags: tags,
			ImageURL: in.ImageURL, ImageAlt: in.ImageAlt, SeoTitle: in.SeoTitle, SeoDescription: in.SeoDescription}
		e, ue, err := upsert(ctx, q, dbq.ContentUpsertParams{ShopID: sh.ID, Kind: KindArticle, ParentID: be.ID, Handle: in.Handle,
			Title: in.Title, Body: in.ContentHTML, Data: mustJSON(data), PublishedAt: in.PublishedAt})
		if ue != nil {
			ues = append(ues, *ue)
		}
		if err == nil && ue == nil {
			art = s.articleOf(&e, s.blogOf(sh, &be))
		}
		return err
	})
	return art, ues, err
}

// SetPolicy writes one of the shop's policies (content:write): handle is
// privacy-policy, refund-policy, shipping-policy or terms-of-service.
func (s *Service) SetPolicy(ctx context.Context, handle, body string) (*Policy, []apperr.UserError, error) {
	if err := auth.Require(ctx, auth.ScopeContentWrite); err != nil {
		return nil, nil, err
	}
	title, ok := policyTitles[handle]
	if !ok {
		return nil, []apperr.UserError{{Field: []string{"type"}, Message: "unknown policy", Code: "INVALID"}}, nil
	}
	var pol *Policy
	err := s.write(ctx, func(ctx context.Context, q *dbq.Queries, sh *shop.Shop) error {
		e, _, err := upsert(ctx, q, dbq.ContentUpsertParams{ShopID: sh.ID, Kind: KindPolicy, Handle: handle, Title: title, Body: body, Data: []byte("{}")})
		if err == nil {
			pol = &Policy{ID: e.ID, Handle: e.Handle, Title: e.Title, Body: e.Body, URL: s.base(sh) + "/policies/" + e.Handle}
		}
		return err
	})
	return pol, nil, err
}

// SetBrand replaces the shop's brand (content:write). Colors are #rrggbb;
// logos are URLs.
func (s *Service) SetBrand(ctx context.Context, b Brand) (*Brand, []apperr.UserError, error) {
	if err := auth.Require(ctx, auth.ScopeContentWrite); err != nil {
		return nil, nil, err
	}
	var ues problems
	for f, c := range map[string]*string{"primaryColor": b.PrimaryColor, "secondaryColor": b.SecondaryColor} {
		if c != nil && !colorRE.MatchString(*c) {
			ues.add("a color is #rrggbb", "input", f)
		}
	}
	ues.link(b.LogoURL, "input", "logoUrl")
	ues.link(b.SquareLogoURL, "input", "squareLogoUrl")
	if b.Slogan != nil && len([]rune(*b.Slogan)) > 255 {
		ues.add("a slogan is at most 255 characters", "input", "slogan")
	}
	if b.ShortDescription != nil && len([]rune(*b.ShortDescription)) > 1000 {
		ues.add("a short description is at most 1000 characters", "input", "shortDescription")
	}
	if len(ues) > 0 {
		return nil, ues, nil
	}
	err := s.write(ctx, func(ctx context.Context, q *dbq.Queries, sh *shop.Shop) error {
		_, _, err := upsert(ctx, q, dbq.ContentUpsertParams{ShopID: sh.ID, Kind: KindBrand, Handle: "brand", Data: mustJSON(b)})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return &b, nil, nil
}

// Delete removes the entry of kind with handle (an article: of the blog
// blogHandle; a blog: with its articles) and reports whether it existed
// (content:write).
func (s *Service) Delete(ctx context.Context, kind, handle, blogHandle string) (bool, error) {
	found := false
	err := s.write(ctx, func(ctx context.Context, q *dbq.Queries, sh *shop.Shop) error {
		parent := uuid.Nil
		if kind == KindArticle {
			be, err := q.ContentEntry(ctx, dbq.ContentEntryParams{ShopID: sh.ID, Kind: KindBlog, Handle: blogHandle})
			if err == pgx.ErrNoRows {
				return nil
			} else if err != nil {
				return err
			}
			parent = be.ID
		}
		ids, err := q.ContentDelete(ctx, dbq.ContentDeleteParams{ShopID: sh.ID, Kind: kind, ParentID: parent, Handle: handle})
		found = len(ids) > 0
		return err
	})
	return found, err
}
