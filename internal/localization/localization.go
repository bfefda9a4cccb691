// Package localization decides the country and language a storefront
// request runs in: the values asked with Shopify's
// `@inContext(country:, language:)` directive when the shop sells to that
// country and speaks that language, else the shop's defaults (as Shopify
// falls back). The context actually used travels in the request context so
// any resolver (and the markets/pricing work) can read it with FromContext.
// Nothing here fails: unknown values fall back silently.
package localization

import (
	"context"
	"slices"

	"cartograph/internal/money"
	"cartograph/internal/shop"
)

// Context is the localization a request runs in.
type Context struct {
	// Country is an ISO 3166-1 alpha-2 code the shop sells to.
	Country string
	// Language is a Shopify LanguageCode the shop speaks (EN, DE, PT_BR…).
	Language string
}

// Settings are a shop's markets: the countries it sells to and the
// languages it speaks, defaults first.
type Settings struct {
	Countries []string
	Languages []string
}

// Until shops store their markets, they follow from the shop's currency.
var byCurrency = map[money.Currency]Settings{
	"USD": {Countries: []string{"US"}, Languages: []string{"EN"}},
	"EUR": {Countries: []string{"DE", "AT", "BE", "ES", "FR", "IE", "IT", "NL"}, Languages: []string{"EN", "DE"}},
	"GBP": {Countries: []string{"GB"}, Languages: []string{"EN"}},
	"CAD": {Countries: []string{"CA"}, Languages: []string{"EN", "FR"}},
	"AUD": {Countries: []string{"AU"}, Languages: []string{"EN"}},
	"JPY": {Countries: []string{"JP"}, Languages: []string{"JA", "EN"}},
	"CHF": {Countries: []string{"CH"}, Languages: []string{"DE", "FR", "IT", "EN"}},
}

// For returns the shop's markets (never empty).
func For(sh *shop.Shop) Settings {
	if sh != nil {
		if s, ok := byCurrency[sh.CurrencyCode]; ok {
			return s
		}
	}
	return Settings{Countries: []string{"US"}, Languages: []string{"EN"}}
}

// Resolve picks the context for a request to sh asking country and
// language (either may be empty): each requested value the shop supports
// is used, anything else falls back to the shop's default.
func Resolve(sh *shop.Shop, country, language string) Context {
	return ResolveIn(For(sh), country, language)
}

// ResolveIn is Resolve over the given settings (a shop's markets, from
// internal/markets); s must not be empty.
func ResolveIn(s Settings, country, language string) Context {
	c := Context{Country: s.Countries[0], Language: s.Languages[0]}
	if slices.Contains(s.Countries, country) {
		c.Country = country
	}
	if slices.Contains(s.Languages, language) {
		c.Language = language
	}
	return c
}

type ctxKey struct{}

// With returns ctx carrying c.
func With(ctx context.Context, c Context) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// Set returns the localization @inContext set for the request, if any.
func Set(ctx context.Context) (Context, bool) {
	c, ok := ctx.Value(ctxKey{}).(Context)
	return c, ok
}

// FromContext returns the request's localization: the one set by
// @inContext, else the defaults of the request's shop.
func FromContext(ctx context.Context) Context {
	if c, ok := ctx.Value(ctxKey{}).(Context); ok {
		return c
	}
	sh, _ := shop.FromContext(ctx)
	return Resolve(sh, "", "")
}

// CountryName is the English name of an ISO country code ("" if unknown).
func CountryName(code string) string { return countryNames[code] }

// LanguageName is the English name of a LanguageCode ("" if unknown).
func LanguageName(code string) string { return languageNames[code] }

// endonyms are the languages' names in themselves, for the languages shops
// here speak; others use the English name.
var endonyms = map[string]string{"EN": "English", "DE": "Deutsch", "FR": "français", "IT": "italiano", "ES": "Español", "JA": "日本語", "NL": "Nederlands", "PT_BR": "português (Brasil)"}

// Endonym is the language's name in itself.
func Endonym(code string) string {
	if n, ok := endonyms[code]; ok {
		return n
	}
	return languageNames[code]
}

var currencies = map[money.Currency][2]string{
	"USD": {"United States Dollars", "$"}, "EUR": {"Euro", "€"}, "GBP": {"United Kingdom Pounds", "£"},
	"CAD": {"Canadian Dollars", "$"}, "AUD": {"Australian Dollars", "$"}, "JPY": {"Japanese Yen", "¥"},
	"CHF": {"Swiss Francs", "CHF"}, "SEK": {"Swedish Kronor", "kr"}, "DKK": {"Danish Kroner", "kr."},
	"NOK": {"Norwegian Kroner", "kr"}, "KWD": {"Kuwaiti Dinars", "د.ك"}, "INR": {"Indian Rupees", "₹"},
}

// CurrencyName and CurrencySymbol describe a currency (the code itself
// when unknown).
func CurrencyName(c money.Currency) string {
	if v, ok := currencies[c]; ok {
		return v[0]
	}
	return string(c)
}

// CurrencySymbol is the currency's usual symbol.
func CurrencySymbol(c money.Currency) string {
	if v, ok := currencies[c]; ok {
		return v[1]
	}
	return string(c)
}
