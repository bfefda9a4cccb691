package qlimits_test

import (
	"fmt"
	"strings"
	"testing"

	"cartograph/internal/qlimits"
)

func benchCheck(b *testing.B, doc string, refused bool) {
	l := qlimits.Defaults()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Check(doc); (err != nil) != refused {
			b.Fatalf("Check = %v", err)
		}
	}
}

// BenchmarkCheckListing is the storefront's per-request cost (1 KB).
func BenchmarkCheckListing(b *testing.B) { benchCheck(b, listingDoc, false) }

// BenchmarkCheckCollectionListing is a 1.5 KB storefront document.
func BenchmarkCheckCollectionListing(b *testing.B) { benchCheck(b, collectionListingDoc, false) }

func BenchmarkCheckIntrospection(b *testing.B) { benchCheck(b, introspectionDoc, false) }

// BenchmarkCheckHostile100KB: 100 KB of one repeated field, refused at the
// sixth repetition.
func BenchmarkCheckHostile100KB(b *testing.B) {
	benchCheck(b, "{ "+strings.Repeat("name ", 100<<10/5)+"}", true)
}

// BenchmarkCheckHostile100KBLate: 100 KB whose only breach is the token
// count, so Check reads MaxTokens tokens before refusing.
func BenchmarkCheckHostile100KBLate(b *testing.B) {
	benchCheck(b, bigTokensDoc(100<<10), true)
}

// BenchmarkCheckTokens1MiB: a 1 MiB document of tokens, refused after
// MaxTokens.
func BenchmarkCheckTokens1MiB(b *testing.B) { benchCheck(b, bigTokensDoc(1<<20), true) }

// BenchmarkCheckAdmitted10KTokens is the most a document can make Check do
// and still pass: MaxTokens tokens of distinct fields.
func BenchmarkCheckAdmitted10KTokens(b *testing.B) {
	benchCheck(b, tokensDoc(qlimits.Defaults().MaxTokens), false)
}

// BenchmarkCheckHostileOverlapLate: 45 fields a with 200 distinct children
// each (9,200 tokens, 40 KB, 250 ms of validation unrefused), refused only
// after the whole scan, when the replay prices the overlap.
func BenchmarkCheckHostileOverlapLate(b *testing.B) {
	var s strings.Builder
	s.WriteString("{ x { ")
	for i := range 9 {
		s.WriteString("... on T { ")
		for j := range 5 {
			s.WriteString("a { " + repeat(200, func(k int) string { return fmt.Sprintf("g%d_%d_%d", i, j, k) }) + "} ")
		}
		s.WriteString("} ")
	}
	s.WriteString("} }")
	benchCheck(b, s.String(), true)
}

// BenchmarkCheckExponentialFragments: 30 fragments each spreading the next
// three times (2.8 s of validation for such a document unrefused).
func BenchmarkCheckExponentialFragments(b *testing.B) { benchCheck(b, expFragmentsDoc(30), true) }
