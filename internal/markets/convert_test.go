package markets_test

import (
	"math"
	"testing"

	"cartograph/internal/markets"
	"cartograph/internal/money"
)

// Rates are ×10^10: 0.92 EUR per USD, 150.2345 JPY per USD, 0.307 KWD
// per USD, and USD per JPY (0.0066564) for a shop selling in yen.
const (
	eurPerUSD = 9_200_000_000
	jpyPerUSD = 1_502_345_000_000
	kwdPerUSD = 3_070_000_000
	usdPerJPY = 66_564_000
	one       = markets.RateScale
)

func TestConvert(t *testing.T) {
	cases := []struct {
		name     string
		minor    int64
		from, to money.Currency
		rate     int64
		adj      int64
		round    markets.Rounding
		want     int64
	}{
		// NONE: half up to the minor unit of the target currency.
		{"TwoToTwoHalfUp", 1999, "USD", "EUR", eurPerUSD, 0, markets.RoundNone, 1839},    // 18.3908
		{"TwoToTwoExactHalf", 50, "USD", "EUR", 5_000_000_000, 0, markets.RoundNone, 25}, // 0.25 exactly
		{"HalfRoundsUp", 1, "USD", "EUR", 5_000_000_000, 0, markets.RoundNone, 1},        // 0.005 → 0.01
		{"BelowHalfRoundsDown", 1, "USD", "EUR", 4_999_999_999, 0, markets.RoundNone, 0},
		{"TwoToZero", 1999, "USD", "JPY", jpyPerUSD, 0, markets.RoundNone, 3003},         // 3003.18 → ¥3003
		{"TwoToThree", 1999, "USD", "KWD", kwdPerUSD, 0, markets.RoundNone, 6137},        // 6.13693 → 6.137 KD
		{"ZeroToTwo", 3000, "JPY", "USD", usdPerJPY, 0, markets.RoundNone, 1997},         // 19.9692 → 19.97
		{"SameCurrencyAdjusted", 1999, "EUR", "EUR", one, 1000, markets.RoundNone, 2199}, // +10 %: 21.989 → 21.99
		{"NegativeAdjustment", 1000, "USD", "USD", one, -2500, markets.RoundNone, 750},
		// WHOLE: up to a whole unit.
		{"WholeTwo", 1999, "USD", "EUR", eurPerUSD, 0, markets.RoundWhole, 1900},
		{"WholeExact", 2000, "USD", "USD", one, 0, markets.RoundWhole, 2000},
		{"WholeZeroDecimals", 1999, "USD", "JPY", jpyPerUSD, 0, markets.RoundWhole, 3004}, // 3003.18 → 3004
		{"WholeThree", 1999, "USD", "KWD", kwdPerUSD, 0, markets.RoundWhole, 7000},
		// END_99: up to the next .99 (99 of a hundred without decimals).
		{"End99Two", 1999, "USD", "EUR", eurPerUSD, 0, markets.RoundEnd99, 1899}, // 18.39 → 18.99
		{"End99Whole", 2000, "USD", "USD", one, 0, markets.RoundEnd99, 2099},     // 20.00 → 20.99
		{"End99AlreadyThere", 1899, "USD", "USD", one, 0, markets.RoundEnd99, 1899},
		{"End99Small", 10, "USD", "USD", one, 0, markets.RoundEnd99, 99},
		{"End99Zero", 1999, "USD", "JPY", jpyPerUSD, 0, markets.RoundEnd99, 3099},  // ¥3003.18 → ¥3099
		{"End99Three", 1999, "USD", "KWD", kwdPerUSD, 0, markets.RoundEnd99, 6990}, // 6.137 → 6.990
		// Free stays free under every rule.
		{"FreeStaysFreeEnd99", 0, "USD", "EUR", eurPerUSD, 1000, markets.RoundEnd99, 0},
		{"FreeStaysFreeWhole", 0, "USD", "EUR", eurPerUSD, 0, markets.RoundWhole, 0},
		// Huge amounts take the big-integer path and cap instead of wrapping.
		{"OverflowCaps", math.MaxInt64, "USD", "JPY", jpyPerUSD, 100000, markets.RoundNone, math.MaxInt64},
		{"BigPathExact", 9_000_000_000_000_000, "USD", "USD", one, 0, markets.RoundNone, 9_000_000_000_000_000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := markets.Convert(c.minor, c.from, c.to, c.rate, c.adj, c.round); got != c.want {
				t.Fatalf("Convert(%d %s→%s) = %d, want %d", c.minor, c.from, c.to, got, c.want)
			}
		})
	}
}

// Conversion is monotonic in the base price (so a product's converted
// price range is the converted range) under every rule.
func TestConvertMonotonic(t *testing.T) {
	for _, r := range []markets.Rounding{markets.RoundNone, markets.RoundWhole, markets.RoundEnd99} {
		for _, to := range []money.Currency{"EUR", "JPY", "KWD"} {
			prev := int64(-1)
			for minor := int64(0); minor < 5000; minor += 7 {
				got := markets.Convert(minor, "USD", to, eurPerUSD, 1234, r)
				if got < prev {
					t.Fatalf("%s %s: %d → %d after %d", r, to, minor, got, prev)
				}
				prev = got
			}
		}
	}
}

func TestToShop(t *testing.T) {
	cases := []struct {
		name         string
		minor        int64
		market, shop money.Currency
		rate, want   int64
	}{
		{"EURToUSD", 1839, "EUR", "USD", eurPerUSD, 1999}, // 18.39 / 0.92 = 19.989 → 19.99
		{"JPYToUSD", 3003, "JPY", "USD", jpyPerUSD, 1999}, // 19.9888 → 19.99
		{"KWDToUSD", 6137, "KWD", "USD", kwdPerUSD, 1999}, // 19.99023 → 19.99
		{"USDToJPY", 1997, "USD", "JPY", usdPerJPY, 3000}, // 3000.12 → 3000
		{"Zero", 0, "EUR", "USD", eurPerUSD, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := markets.ToShop(c.minor, c.market, c.shop, c.rate); got != c.want {
				t.Fatalf("ToShop(%d %s→%s) = %d, want %d", c.minor, c.market, c.shop, got, c.want)
			}
		})
	}
}
