// Package money holds Cartograph's money arithmetic: integer minor units and
// ISO 4217 currency codes, formatted as exact decimals with the currency's own
// exponent (JPY 0, USD 2, KWD 3). No floating point anywhere.
package money

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Currency is an ISO 4217 code; it implements gqlgen's Marshaler so it binds
// to the GraphQL CurrencyCode enum.
type Currency string

// exponents lists currencies whose minor-unit exponent is not 2.
var exponents = map[Currency]int{
	"BHD": 3, "JOD": 3, "KWD": 3, "OMR": 3, "TND": 3,
	"CLP": 0, "ISK": 0, "JPY": 0, "KRW": 0, "VND": 0,
}

// supported is the set exposed by the CurrencyCode enum.
var supported = map[Currency]bool{}

func init() {
	for _, c := range []Currency{"AED", "AUD", "BHD", "BRL", "CAD", "CHF", "CLP", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "IDR", "ILS", "INR", "ISK", "JOD", "JPY",
		"KRW", "KWD", "MXN", "MYR", "NOK", "NZD", "OMR", "PHP", "PLN", "SAR", "SEK", "SGD", "THB", "TND", "TRY", "TWD", "USD", "VND", "ZAR"} {
		supported[c] = true
	}
}

// Exponent returns the number of minor-unit digits of c.
func (c Currency) Exponent() int {
	if e, ok := exponents[c]; ok {
		return e
	}
	return 2
}

// Valid reports whether c is a supported currency.
func (c Currency) Valid() bool { return supported[c] }

// MarshalGQL writes the code as a GraphQL enum value.
func (c Currency) MarshalGQL(w io.Writer) {
	if len(c) == 3 && isUpper(c[0]) && isUpper(c[1]) && isUpper(c[2]) {
		// What strconv.Quote writes for a valid code, without allocating.
		var b [5]byte
		b[0], b[1], b[2], b[3], b[4] = '"', c[0], c[1], c[2], '"'
		_, _ = w.Write(b[:])
		return
	}
	_, _ = io.WriteString(w, strconv.Quote(string(c)))
}

func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }

// UnmarshalGQL accepts a supported currency code.
func (c *Currency) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !Currency(s).Valid() {
		return fmt.Errorf("%v is not a valid CurrencyCode", v)
	}
	*c = Currency(s)
	return nil
}

// Money is an amount in integer minor units of Currency.
type Money struct {
	Minor    int64
	Currency Currency
}

// Amount formats m as an exact decimal string: 1999 USD → "19.99",
// 1999 JPY → "1999", 1999 KWD → "1.999".
func (m Money) Amount() string { return FormatMinor(m.Minor, m.Currency.Exponent()) }

// AppendAmount appends Amount's text to dst (no string is made; the text
// needs no JSON escaping).
func (m Money) AppendAmount(dst []byte) []byte {
	return AppendMinor(dst, m.Minor, m.Currency.Exponent())
}

// CurrencyCode returns the currency (GraphQL field currencyCode).
func (m Money) CurrencyCode() Currency { return m.Currency }

// FormatMinor formats minor units with exp fraction digits.
func FormatMinor(minor int64, exp int) string {
	var buf [32]byte
	return string(AppendMinor(buf[:0], minor, exp))
}

// AppendMinor appends FormatMinor(minor, exp) to dst: an optional '-',
// digits and, when exp > 0, a '.' and exp fraction digits.
func AppendMinor(dst []byte, minor int64, exp int) []byte {
	u := uint64(minor)
	if minor < 0 {
		dst = append(dst, '-')
		u = uint64(-minor)
	}
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], u, 10)
	if exp > 0 {
		if len(d) <= exp {
			dst = append(dst, '0', '.')
			for range exp - len(d) {
				dst = append(dst, '0')
			}
			return append(dst, d...)
		}
		dst = append(dst, d[:len(d)-exp]...)
		dst = append(dst, '.')
		return append(dst, d[len(d)-exp:]...)
	}
	return append(dst, d...)
}

// ParseMinor parses a decimal string into minor units of a currency with exp
// fraction digits; more fraction digits than exp is an error (never rounded).
func ParseMinor(s string, exp int) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty amount")
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	intPart, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			intPart, frac = s[:i], s[i+1:]
			break
		}
	}
	if intPart == "" && frac == "" {
		return 0, fmt.Errorf("malformed amount %q", s)
	}
	if len(frac) > exp {
		return 0, fmt.Errorf("amount %q has more than %d decimal places", s, exp)
	}
	for len(frac) < exp {
		frac += "0"
	}
	digits := intPart + frac
	if digits == "" {
		digits = "0"
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("malformed amount %q", s)
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q out of range", s)
	}
	if neg {
		n = -n
	}
	return n, nil
}

// FormatDecimal formats v with places fraction digits and drops trailing
// zeros of the fraction (9200000000 with 10 places → "0.92", 200000 with
// 4 → "20"), for rates and percentages.
func FormatDecimal(v int64, places int) string {
	s := FormatMinor(v, places)
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}
