package catalog

import (
	"strings"
	"unicode"

	"cartograph/internal/apperr"
	"cartograph/internal/money"
)

// filter is a parsed `products(query:)` string. All terms are ANDed.
type filter struct {
	titleWords   []string
	tags         []string
	productTypes []string
	vendors      []string
	priceMin     *int64 // some variant costs >= priceMin (price_max >= priceMin)
	priceMax     *int64 // some variant costs <= priceMax (price_min <= priceMax)
	priceMinExcl bool
	priceMaxExcl bool
}

func (f *filter) empty() bool {
	return len(f.titleWords) == 0 && len(f.tags) == 0 && len(f.productTypes) == 0 &&
		len(f.vendors) == 0 && f.priceMin == nil && f.priceMax == nil
}

// maxQueryTerms bounds the work a single filter string can ask for.
const maxQueryTerms = 20

// parseQuery parses the Shopify search syntax subset Cartograph supports:
// bare words (title contains), title:, tag:, product_type:, vendor:,
// variants.price: / price: with >, >=, <, <= (decimal in the shop currency);
// values may be "double quoted"; AND is implicit (and accepted). OR and NOT
// are rejected rather than silently misread. Input is never spliced into
// SQL: every value becomes a bind parameter.
func parseQuery(q string, cur money.Currency) (*filter, error) {
	f := &filter{}
	terms, err := tokenize(q)
	if err != nil {
		return nil, err
	}
	if len(terms) > maxQueryTerms {
		return nil, apperr.BadInput("query", "query has more than %d terms", maxQueryTerms)
	}
	for _, t := range terms {
		switch strings.ToUpper(t) {
		case "AND":
			continue
		case "OR", "NOT":
			return nil, apperr.BadInput("query", "%s is not supported in product queries; terms are combined with AND", strings.ToUpper(t))
		}
		field, value, hasField := strings.Cut(t, ":")
		if !hasField || strings.HasPrefix(t, "\"") {
			f.titleWords = append(f.titleWords, unquote(t))
			continue
		}
		value = unquote(value)
		if value == "" {
			return nil, apperr.BadInput("query", "empty value for %q", field)
		}
		switch strings.ToLower(field) {
		case "title":
			f.titleWords = append(f.titleWords, value)
		case "tag":
			f.tags = append(f.tags, value)
		case "product_type":
			f.productTypes = append(f.productTypes, value)
		case "vendor":
			f.vendors = append(f.vendors, value)
		case "variants.price", "price":
			if err := f.addPrice(value, cur); err != nil {
				return nil, err
			}
		default:
			return nil, apperr.BadInput("query", "unknown filter field %q (supported: title, tag, product_type, vendor, variants.price)", field)
		}
	}
	return f, nil
}

func (f *filter) addPrice(v string, cur money.Currency) error {
	op := ""
	for _, o := range []string{">=", "<=", ">", "<"} {
		if rest, ok := strings.CutPrefix(v, o); ok {
			op, v = o, rest
			break
		}
	}
	n, err := money.ParseMinor(v, cur.Exponent())
	if err != nil || n < 0 {
		return apperr.BadInput("query", "invalid price %q", v)
	}
	switch op {
	case ">=", ">":
		f.priceMin, f.priceMinExcl = &n, op == ">"
	case "<=", "<":
		f.priceMax, f.priceMaxExcl = &n, op == "<"
	default:
		f.priceMin, f.priceMax = &n, &n
	}
	return nil
}

func tokenize(q string) ([]string, error) {
	var out []string
	var b strings.Builder
	inQuote := false
	for _, r := range q {
		switch {
		case r == '"':
			inQuote = !inQuote
			b.WriteRune(r)
		case unicode.IsSpace(r) && !inQuote:
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
		default:
			b.WriteRune(r)
		}
	}
	if inQuote {
		return nil, apperr.BadInput("query", "unterminated quote in query")
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out, nil
}

func unquote(s string) string { return strings.ReplaceAll(s, "\"", "") }

// likeEscape escapes LIKE wildcards so user text matches literally.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}
