// Package content serves a shop's online-store content in the Shopify
// Storefront API shapes: navigation menus (main-menu, footer), pages
// (About, FAQ) and shop policies. Until content is stored per shop and
// edited by staff, every shop gets the same default content, written with
// its own name and primary host, under stable ids (derived from the shop id
// and handle, so storefront caches stay correct). Callers: graph resolvers.
// Errors: SHOP_NOT_FOUND (no shop in context), BAD_USER_INPUT (pagination).
package content

import (
	"context"
	"sort"
	"strings"
	"time"

	"cartograph/internal/catalog"
	"cartograph/internal/relay"
	"cartograph/internal/shop"

	"github.com/google/uuid"
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
	ID         uuid.UUID
	Title      string
	Type       string
	URL        *string
	ResourceID *string
	Tags       []string
	Items      []*MenuItem
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

// Service serves content. Safe for concurrent use.
type Service struct {
	baseDomain string
	// since is when the default content was "written" (stable timestamps).
	since time.Time
}

// New returns a content service; baseDomain builds shop URLs.
func New(baseDomain string) *Service {
	return &Service{baseDomain: baseDomain, since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func id(sh *shop.Shop, kind, handle string) uuid.UUID {
	return uuid.NewSHA1(sh.ID, []byte(kind+":"+handle))
}

func (s *Service) base(sh *shop.Shop) string { return "https://" + sh.Host(s.baseDomain) }

// Menu returns the shop's menu by handle, or nil. Next.js Commerce's own
// handles are served as aliases of main-menu and footer.
func (s *Service) Menu(ctx context.Context, handle string) (*Menu, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	base := s.base(sh)
	item := func(title, typ, path string, resource *string) *MenuItem {
		u := base + path
		return &MenuItem{ID: id(sh, "menuitem", handle+path), Title: title, Type: typ, URL: &u, ResourceID: resource, Tags: []string{}, Items: []*MenuItem{}}
	}
	ref := func(typ, h string) *string { g := relay.GlobalID(typ, id(sh, strings.ToLower(typ), h)); return &g }
	switch handle {
	case "main-menu", "next-js-frontend-header-menu":
		return &Menu{ID: id(sh, "menu", handle), Handle: handle, Title: "Main menu", Items: []*MenuItem{
			item("All", "CATALOG", "/collections/all", nil),
			item("Collections", "COLLECTIONS", "/collections", nil),
			item("About", "PAGE", "/pages/about", ref("Page", "about")),
		}}, nil
	case "footer", "next-js-frontend-footer-menu":
		return &Menu{ID: id(sh, "menu", handle), Handle: handle, Title: "Footer", Items: []*MenuItem{
			item("About", "PAGE", "/pages/about", ref("Page", "about")),
			item("FAQ", "PAGE", "/pages/faq", ref("Page", "faq")),
			item("Privacy Policy", "SHOP_POLICY", "/policies/privacy-policy", ref("ShopPolicy", "privacy-policy")),
			item("Terms of Service", "SHOP_POLICY", "/policies/terms-of-service", ref("ShopPolicy", "terms-of-service")),
		}}, nil
	}
	return nil, nil
}

func (s *Service) pages(sh *shop.Shop) []*Page {
	mk := func(handle, title, body string) *Page {
		sum := body
		if len(sum) > 150 {
			sum = sum[:150]
		}
		t, d := title, sum
		return &Page{ID: id(sh, "page", handle), Handle: handle, Title: title, Body: "<p>" + body + "</p>", BodySummary: sum,
			Seo: &catalog.SEO{Title: &t, Description: &d}, CreatedAt: s.since, UpdatedAt: s.since, URL: s.base(sh) + "/pages/" + handle}
	}
	return []*Page{
		mk("about", "About "+sh.Name, sh.Name+" is a demo shop served by Cartograph, a headless-commerce GraphQL gateway."),
		mk("faq", "FAQ", "Orders ship within two business days. Returns are accepted within 30 days of delivery."),
	}
}

// Page returns a page by handle, or nil.
func (s *Service) Page(ctx context.Context, handle string) (*Page, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range s.pages(sh) {
		if p.Handle == handle {
			return p, nil
		}
	}
	return nil, nil
}

// PageByID returns a page by global id, or nil (also for malformed ids).
func (s *Service) PageByID(ctx context.Context, gid string) (*Page, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	u, err := relay.ParseTypedID("id", "Page", gid)
	if err != nil {
		return nil, err
	}
	for _, p := range s.pages(sh) {
		if p.ID == u {
			return p, nil
		}
	}
	return nil, nil
}

// Pages returns the shop's pages sorted by sortKey (ID, TITLE, UPDATED_AT,
// RELEVANCE), a window of them for p, and the window's page info.
func (s *Service) Pages(ctx context.Context, p relay.Page, sortKey string, reverse bool) ([]*Page, []string, relay.PageInfo, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, nil, relay.PageInfo{}, err
	}
	ps := s.pages(sh)
	switch sortKey {
	case "TITLE":
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Title < ps[j].Title })
	default:
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].ID.String() < ps[j].ID.String() })
	}
	if reverse {
		for i, j := 0, len(ps)-1; i < j; i, j = i+1, j-1 {
			ps[i], ps[j] = ps[j], ps[i]
		}
	}
	cur := func(i int) string { return relay.EncodeCursor("PG"+sortKey, ps[i].Handle) }
	lo, hi, info, err := relay.SliceWindow(p, len(ps), cur, func(c string) (int, bool) {
		parts, err := relay.DecodeCursor("after", c, "PG"+sortKey, 1)
		if err != nil {
			return 0, false
		}
		for i := range ps {
			if ps[i].Handle == parts[0] {
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
	return ps[lo:hi], curs, info, nil
}

// Policy returns one of the shop's policies by handle (privacy-policy,
// refund-policy, shipping-policy, terms-of-service), or nil.
func (s *Service) Policy(ctx context.Context, handle string) (*Policy, error) {
	sh, err := shop.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	titles := map[string]string{
		"privacy-policy":   "Privacy Policy",
		"refund-policy":    "Refund Policy",
		"shipping-policy":  "Shipping Policy",
		"terms-of-service": "Terms of Service",
	}
	t, ok := titles[handle]
	if !ok {
		return nil, nil
	}
	return &Policy{ID: id(sh, "shoppolicy", handle), Handle: handle, Title: t,
		Body: "<p>The " + strings.ToLower(t) + " of " + sh.Name + ".</p>", URL: s.base(sh) + "/policies/" + handle}, nil
}
