package markets

import (
	"math"
	"math/big"
	"math/bits"

	"cartograph/internal/money"
)

// RateScale is the denominator of an exchange rate: a rate is how many
// units of the market's currency one unit of the shop's currency buys,
// times 10^10 (0.92 EUR per USD = 9_200_000_000), so rates are exact to
// ten decimals.
const RateScale = 10_000_000_000

// PercentScale is the denominator of a price adjustment: 10000 = 100 %
// (+10 % = 1000, −25 % = −2500).
const PercentScale = 10_000

// Rounding is how a converted price is rounded (a market's rule).
//
//   - NONE: half up to the currency's minor unit (1 ¥, 0.01 $, 0.001 KD).
//   - WHOLE: up to the next whole unit of the currency (21.37 → 22.00;
//     for zero-decimal currencies the minor unit is the whole unit, so
//     WHOLE is NONE rounded up).
//   - END_99: up to the next price ending in .99 of a unit (21.37 →
//     21.99, 22.00 → 22.99; 3 decimals: 5.120 → 5.990). A zero-decimal
//     currency has no .99, so there the price ends in 99 of a hundred
//     (¥1,234 → ¥1,299).
//
// A base price of zero stays zero under every rule: a free item is never
// made to cost .99. Conversion is exact (integer arithmetic on the
// rational base × rate × (1 + adjustment)), and the rule applies once to
// that exact value, never to an already rounded one.
type Rounding string

// Rounding rules.
const (
	RoundNone  Rounding = "NONE"
	RoundWhole Rounding = "WHOLE"
	RoundEnd99 Rounding = "END_99"
)

// Valid reports whether r is a known rule.
func (r Rounding) Valid() bool { return r == RoundNone || r == RoundWhole || r == RoundEnd99 }

var pow10 = [...]uint64{1, 10, 100, 1000, 10_000, 100_000, 1_000_000}

// Convert prices a base amount (minor units of from) in the currency to,
// at rateE10 (RateScale = 1:1) with the adjustment (hundredths of a
// percent) and the rounding rule. Amounts that would overflow int64 are
// capped at math.MaxInt64 (no real price comes near).
func Convert(minor int64, from, to money.Currency, rateE10, adjustment int64, r Rounding) int64 {
	if minor <= 0 {
		return minor
	}
	ef, et := from.Exponent(), to.Exponent()
	num := []uint64{uint64(rateE10), uint64(PercentScale + adjustment)}
	den := []uint64{RateScale, PercentScale}
	if et > ef {
		num = append(num, pow10[et-ef])
	} else if ef > et {
		den = append(den, pow10[ef-et])
	}
	q, rem, d := ratio(uint64(minor), num, den)
	var c uint64 // the exact value rounded up to the minor unit
	switch {
	case r == RoundNone || !r.Valid():
		if rem >= d-rem { // rem/d ≥ 1/2: half up
			q++
		}
		return capped(q)
	case rem > 0:
		c = q + 1
	default:
		c = q
	}
	if r == RoundWhole {
		unit := pow10[et]
		return capped((c + unit - 1) / unit * unit)
	}
	step, end := uint64(100), uint64(99)
	if et >= 2 {
		step, end = pow10[et], pow10[et]-pow10[et-2]
	}
	k := uint64(0)
	if c > end {
		k = (c - end + step - 1) / step
	}
	return capped(k*step + end)
}

// ToShop converts an amount in the market's currency back to the shop's
// currency at the same rate, half up (for the order's shop-currency
// figures).
func ToShop(minor int64, market, shop money.Currency, rateE10 int64) int64 {
	if minor <= 0 {
		return minor
	}
	em, es := market.Exponent(), shop.Exponent()
	num := []uint64{RateScale}
	den := []uint64{uint64(rateE10)}
	if es > em {
		num = append(num, pow10[es-em])
	} else if em > es {
		den = append(den, pow10[em-es])
	}
	q, rem, d := ratio(uint64(minor), num, den)
	if rem >= d-rem {
		q++
	}
	return capped(q)
}

func capped(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// ratio returns a × Π num ÷ Π den as quotient and remainder with the
// denominator: in 128-bit integer arithmetic when it fits (every price of
// a real catalog), else with math/big.
func ratio(a uint64, num, den []uint64) (q, rem, d uint64) {
	hi, lo := uint64(0), a
	ok := true
	for _, n := range num {
		h1, l1 := bits.Mul64(lo, n)
		h2, l2 := bits.Mul64(hi, n)
		if h2 != 0 {
			ok = false
			break
		}
		var c uint64
		hi, c = bits.Add64(h1, l2, 0)
		lo = l1
		if c != 0 {
			ok = false
			break
		}
	}
	d = 1
	for _, x := range den {
		h, l := bits.Mul64(d, x)
		if h != 0 {
			ok = false
			break
		}
		d = l
	}
	if ok && hi < d {
		q, rem = bits.Div64(hi, lo, d)
		return q, rem, d
	}
	return ratioBig(a, num, den)
}

func ratioBig(a uint64, num, den []uint64) (q, rem, d uint64) {
	n := new(big.Int).SetUint64(a)
	for _, x := range num {
		n.Mul(n, new(big.Int).SetUint64(x))
	}
	dd := big.NewInt(1)
	for _, x := range den {
		dd.Mul(dd, new(big.Int).SetUint64(x))
	}
	qq, rr := new(big.Int).QuoRem(n, dd, new(big.Int))
	if !qq.IsUint64() || qq.Uint64() > math.MaxInt64 {
		return math.MaxInt64, 0, 1
	}
	// Scale the remainder to a 63-bit denominator: only its comparison
	// with half the denominator and with zero matter.
	if !dd.IsUint64() || dd.Uint64() > math.MaxInt64 {
		switch rr.Cmp(new(big.Int).Rsh(dd, 1)) {
		case -1:
			if rr.Sign() == 0 {
				return qq.Uint64(), 0, 4
			}
			return qq.Uint64(), 1, 4
		case 0:
			if dd.Bit(0) == 0 {
				return qq.Uint64(), 2, 4
			}
			return qq.Uint64(), 1, 4
		default:
			return qq.Uint64(), 3, 4
		}
	}
	return qq.Uint64(), rr.Uint64(), dd.Uint64()
}
