package qlimits_test

import (
	"fmt"
	"strings"
)

// listingDoc is what a Next.js Commerce storefront sends for a product
// listing: a products(first: 100) connection spreading the product fragment,
// which spreads image and seo.
const listingDoc = `query getProducts($sortKey: ProductSortKeys, $reverse: Boolean, $query: String) {
  products(sortKey: $sortKey, reverse: $reverse, query: $query, first: 100) {
    edges {
      node {
        ...product
      }
    }
  }
}

fragment product on Product {
  id
  handle
  availableForSale
  title
  description
  descriptionHtml
  options {
    id
    name
    values
  }
  priceRange {
    maxVariantPrice {
      amount
      currencyCode
    }
    minVariantPrice {
      amount
      currencyCode
    }
  }
  variants(first: 250) {
    edges {
      node {
        id
        title
        availableForSale
        selectedOptions {
          name
          value
        }
        price {
          amount
          currencyCode
        }
      }
    }
  }
  featuredImage {
    ...image
  }
  images(first: 20) {
    edges {
      node {
        ...image
      }
    }
  }
  seo {
    ...seo
  }
  tags
  updatedAt
}

fragment image on Image {
  url
  altText
  width
  height
}

fragment seo on SEO {
  description
  title
}
`

// collectionListingDoc (~1.5 KB) is Next.js Commerce's collection page:
// the collection's own fields and SEO, then its products with the same
// fragments as listingDoc.
var collectionListingDoc = `query getCollectionProducts($handle: String!, $sortKey: ProductCollectionSortKeys, $reverse: Boolean, $after: String) {
  collection(handle: $handle) {
    id
    handle
    title
    description
    seo {
      ...seo
    }
    image {
      ...image
    }
    updatedAt
    products(sortKey: $sortKey, reverse: $reverse, first: 100, after: $after) {
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        cursor
        node {
          ...product
        }
      }
    }
  }
}
` + listingDoc[strings.Index(listingDoc, "fragment product"):]

// productDoc is a product page: variables with defaults, directives, an
// object-literal argument and aliases.
const productDoc = `query getProduct($handle: String!, $withImages: Boolean = true, $opts: [SelectedOptionInput!] = [{name: "Size", value: "M"}]) @inContext(country: US) {
  product(handle: $handle) {
    id
    title
    chosen: variantBySelectedOptions(selectedOptions: $opts) { id title price { amount currencyCode } }
    images(first: 10) @include(if: $withImages) { edges { node { url(transform: {maxWidth: 800, maxHeight: 800, crop: CENTER}) altText } } }
    small: featuredImage { url(transform: {maxWidth: 100}) }
    large: featuredImage { url(transform: {maxWidth: 1600}) }
    description # plain text
    descriptionHtml
  }
}`

// unionDoc is what Apollo Client sends after adding __typename to every
// selection set, inline fragments included.
const unionDoc = `query search($q: String!) {
  search(query: $q, first: 24) {
    __typename
    edges { __typename node {
      __typename
      ... on Product { __typename id title }
      ... on Collection { __typename id title }
      ... on Page { __typename id title }
      ... on Article { __typename id title }
      ... on Blog { __typename id title }
      ... on ProductVariant { __typename id title }
      ... on Metaobject { __typename id handle }
    } }
  }
}`

// introspectionDoc is graphql-js 16's getIntrospectionQuery (typeDepth 9), as
// GraphiQL sends it: with fragments expanded it is exactly 15 deep, so a
// lower MaxDepth would break GraphiQL.
const introspectionDoc = `query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}`

func repeat(n int, f func(i int) string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(f(i))
		b.WriteByte(' ')
	}
	return b.String()
}

// depthDoc nests n selection sets: { a { a { … a } } }.
func depthDoc(n int) string {
	return "{" + strings.Repeat(" a {", n-1) + " a" + strings.Repeat(" }", n)
}

// inputDepthDoc nests n object values in one argument.
func inputDepthDoc(n int) string {
	return "{ products(filter: " + strings.Repeat("{a: ", n) + "1" + strings.Repeat("}", n) + ") { edges { node { id } } } }"
}

// tokensDoc has exactly n tokens: { a ( x : [ ints ] ) }.
func tokensDoc(n int) string {
	return "{ a(x: [" + strings.Repeat("1 ", n-9) + "]) }"
}

func aliasesDoc(n int) string {
	return "{ x { " + repeat(n, func(i int) string { return fmt.Sprintf("a%d: b", i) }) + "} }"
}

func rootFieldsDoc(n int) string {
	return "{ " + repeat(n, func(i int) string { return fmt.Sprintf("f%d", i) }) + "}"
}

func fragmentsDoc(n int) string {
	return "{ name } " + repeat(n, func(i int) string { return fmt.Sprintf("fragment F%d on Query { name }", i) })
}

func spreadsDoc(n int) string {
	return "{ x { " + repeat(n, func(i int) string { return fmt.Sprintf("f%d { ...F }", i) }) + "} } fragment F on T { name }"
}

func fieldRepeatsDoc(n int) string {
	return "{ x { " + strings.Repeat("a ", n) + "} }"
}

// costDoc selects keys under x, each copy in its own inline fragment, for
// an overlap cost of exactly n: the i-th copy of a key costs 1 for its
// inline fragment plus 2 per earlier copy (compared under x and again under
// the inline fragments), so k copies cost k².
func costDoc(n int) string {
	var b strings.Builder
	b.WriteString("{ x { ")
	for key := 0; n > 0; key++ {
		k := 1
		for (k+1)*(k+1) <= n {
			k++
		}
		n -= k * k
		for range k {
			fmt.Fprintf(&b, "... on T { b%d } ", key)
		}
	}
	b.WriteString("} }")
	return b.String()
}

// expandedFieldsDoc brings n fields in through spreads: F (100 fields,
// one at its top level) under 199 fields, and G (n-19,900) once.
func expandedFieldsDoc(n int) string {
	return "{ x { " + repeat(199, func(i int) string { return fmt.Sprintf("f%d { ...F }", i) }) + "y { ...G } } } " +
		"fragment F on T { a { " + repeat(99, func(i int) string { return fmt.Sprintf("h%d", i) }) + "} } " +
		"fragment G on T { b { " + repeat(n-19900-1, func(i int) string { return fmt.Sprintf("h%d", i) }) + "} }"
}

func directivesDoc(n int) string {
	return "{ x { " + repeat(n, func(i int) string { return fmt.Sprintf("a%d @include(if: true)", i) }) + "} }"
}

// expFragmentsDoc is n fragments, each spreading the next three times: the
// fully expanded document holds 3^n spreads.
func expFragmentsDoc(n int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := range n - 1 {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d ...F%d }\n", i, i+1, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { name }\n", n-1)
	return b.String()
}

// nestedRepeatsDoc is a tree where every selection set selects a five
// times: 5 per selection set, but 5^k fields at the path a.a.…(k).
func nestedRepeatsDoc(levels int) string {
	s := "a"
	for range levels - 1 {
		s = "a { " + strings.Repeat(s+" ", 5) + "}"
	}
	return "{ " + strings.Repeat(s+" ", 5) + "}"
}

// bigTokensDoc is about size bytes of one argument list.
func bigTokensDoc(size int) string {
	return "{ a(x: [" + strings.Repeat("12345678 ", size/9) + "]) }"
}
