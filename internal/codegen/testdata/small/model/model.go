// Package model holds the Go types of internal/codegen's small test schema.
package model

// Shelf is a Shelf.
type Shelf struct {
	Name      string
	Books     []*Book
	Favourite *Book
}

// Book is a Book; Title panics for a book named "panic", the way a bug in
// a field method would.
type Book struct {
	Name  string
	Isbn  *string
	Pages int
	Tags  []string
	Price Money
	Heavy int
}

// Title is a method leaf (rewritten by the plugin).
func (b *Book) Title() string {
	if b.Name == "panic" {
		panic("title of a broken book")
	}
	return b.Name
}

// Weight is a priced leaf (@cost): never rewritten.
func (b *Book) Weight() int { return b.Heavy }

// Money is a plain object.
type Money struct {
	Amount       string
	CurrencyCode string
}
