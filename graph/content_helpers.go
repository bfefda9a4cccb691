package graph

import (
	"cartograph/graph/model"
	"cartograph/internal/apperr"
	"cartograph/internal/content"
	"cartograph/internal/relay"

	"github.com/google/uuid"
)

func menuItemsIn(in []*model.MenuItemInput) []*content.MenuItemInput {
	out := make([]*content.MenuItemInput, len(in))
	for i, it := range in {
		out[i] = &content.MenuItemInput{Title: it.Title, Type: string(it.Type), URL: it.URL, ResourceID: it.ResourceID, Tags: it.Tags, Items: menuItemsIn(it.Items)}
	}
	return out
}

func deleted(found bool, handle string, err error) (*model.ContentDeletePayload, error) {
	if err != nil {
		return nil, err
	}
	out := &model.ContentDeletePayload{UserErrors: []*apperr.UserError{}}
	if found {
		out.DeletedHandle = &handle
	}
	return out, nil
}

// policyHandles maps ShopPolicyType to the policy's handle.
var policyHandles = map[model.ShopPolicyType]string{
	model.ShopPolicyTypePrivacyPolicy:  "privacy-policy",
	model.ShopPolicyTypeRefundPolicy:   "refund-policy",
	model.ShopPolicyTypeShippingPolicy: "shipping-policy",
	model.ShopPolicyTypeTermsOfService: "terms-of-service",
}

// brandModel maps the stored brand to Shopify's Brand shape (nil: the
// shop has none; colors are never null).
func brandModel(b *content.Brand) *model.Brand {
	colors := &model.BrandColors{Primary: []*model.BrandColorGroup{}, Secondary: []*model.BrandColorGroup{}}
	if b == nil {
		return &model.Brand{Colors: colors}
	}
	if b.PrimaryColor != nil {
		colors.Primary = append(colors.Primary, &model.BrandColorGroup{Background: b.PrimaryColor})
	}
	if b.SecondaryColor != nil {
		colors.Secondary = append(colors.Secondary, &model.BrandColorGroup{Background: b.SecondaryColor})
	}
	media := func(kind string, u *string) *model.MediaImage {
		if u == nil {
			return nil
		}
		id := uuid.NewSHA1(uuid.NameSpaceURL, []byte(kind+":"+*u))
		img := content.ImageAt(id, *u, nil)
		return &model.MediaImage{ID: relay.GlobalID("MediaImage", id), Image: img, PreviewImage: img, MediaContentType: model.MediaContentTypeImage}
	}
	return &model.Brand{Colors: colors, Slogan: b.Slogan, ShortDescription: b.ShortDescription,
		Logo: media("logo", b.LogoURL), SquareLogo: media("square", b.SquareLogoURL)}
}

func articleConnection(as []*content.Article, curs []string, info relay.PageInfo) *model.ArticleConnection {
	conn := &model.ArticleConnection{Edges: make([]*model.ArticleEdge, len(as)), Nodes: as, PageInfo: &info}
	for i, a := range as {
		conn.Edges[i] = &model.ArticleEdge{Cursor: curs[i], Node: a}
	}
	return conn
}

func blogConnection(bs []*content.Blog, curs []string, info relay.PageInfo) *model.BlogConnection {
	conn := &model.BlogConnection{Edges: make([]*model.BlogEdge, len(bs)), Nodes: bs, PageInfo: &info}
	for i, b := range bs {
		conn.Edges[i] = &model.BlogEdge{Cursor: curs[i], Node: b}
	}
	return conn
}
