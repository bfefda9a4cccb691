package money_test

import (
	"testing"

	"cartograph/internal/money"
)

func TestAmount(t *testing.T) {
	cases := []struct {
		minor int64
		cur   money.Currency
		want  string
	}{
		{1999, "USD", "19.99"}, {5, "USD", "0.05"}, {0, "USD", "0.00"}, {-250, "EUR", "-2.50"},
		{1999, "JPY", "1999"}, {0, "JPY", "0"}, {1999, "KWD", "1.999"}, {7, "KWD", "0.007"},
		{922337203685477580, "USD", "9223372036854775.80"},
	}
	for _, c := range cases {
		m := money.Money{Minor: c.minor, Currency: c.cur}
		if got := m.Amount(); got != c.want {
			t.Errorf("%d %s: got %s want %s", c.minor, c.cur, got, c.want)
		}
		// AppendAmount (what the response writer uses) appends the same
		// text after what dst holds.
		if got := string(m.AppendAmount([]byte(`"`))); got != `"`+c.want {
			t.Errorf("%d %s: AppendAmount %s want %s", c.minor, c.cur, got, c.want)
		}
	}
	// Extremes round-trip through ParseMinor.
	for _, minor := range []int64{-9223372036854775807, 9223372036854775807, -1, 1, 100} {
		for _, exp := range []int{0, 2, 3} {
			s := money.FormatMinor(minor, exp)
			if back, err := money.ParseMinor(s, exp); err != nil || back != minor {
				t.Errorf("%d exp %d: %s parses as %d %v", minor, exp, s, back, err)
			}
		}
	}
	m := money.Money{Minor: 1999, Currency: "USD"}
	if n := testing.AllocsPerRun(100, func() { _ = m.AppendAmount(make([]byte, 0, 32)[:0]) }); n > 1 {
		t.Errorf("AppendAmount allocates %v times", n)
	}
}

func TestParseMinor(t *testing.T) {
	ok := []struct {
		in   string
		exp  int
		want int64
	}{{"19.99", 2, 1999}, {"19.9", 2, 1990}, {"19", 2, 1900}, {".5", 2, 50}, {"1999", 0, 1999}, {"1.999", 3, 1999}, {"-2.5", 2, -250}}
	for _, c := range ok {
		got, err := money.ParseMinor(c.in, c.exp)
		if err != nil || got != c.want {
			t.Errorf("%q exp %d: got %d %v want %d", c.in, c.exp, got, err, c.want)
		}
	}
	for _, in := range []string{"", "1.999", "abc", "1.2.3", "1e3", ".", "99999999999999999999"} {
		if _, err := money.ParseMinor(in, 2); err == nil {
			t.Errorf("%q: want error", in)
		}
	}
}

func TestCurrencyUnmarshal(t *testing.T) {
	var c money.Currency
	if err := c.UnmarshalGQL("KWD"); err != nil || c.Exponent() != 3 {
		t.Fatalf("KWD: %v %d", err, c.Exponent())
	}
	if err := c.UnmarshalGQL("XXX"); err == nil {
		t.Fatal("XXX accepted")
	}
}
