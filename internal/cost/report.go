package cost

import (
	"math"
	"strconv"
)

// Report is extensions.cost in Shopify's shape:
// {"actualQueryCost":…,"requestedQueryCost":…,"throttleStatus":{…}}. It
// is written without reflection (AppendJSON), byte for byte as
// encoding/json writes the equivalent map: a subscription sends one per
// event to every subscriber.
type Report struct {
	Requested int
	// Actual is nil before execution (refusals, X-Cost-Only).
	Actual *int
	// Status is nil when no bucket was charged.
	Status *Status
}

// Map is the report as the map encoding/json would be given.
func (r Report) Map() map[string]any {
	out := map[string]any{"requestedQueryCost": r.Requested, "actualQueryCost": nil}
	if r.Actual != nil {
		out["actualQueryCost"] = *r.Actual
	}
	if r.Status != nil {
		out["throttleStatus"] = map[string]any{
			"maximumAvailable":   r.Status.Maximum,
			"currentlyAvailable": r.Status.Available,
			"restoreRate":        r.Status.RestoreRate,
		}
	}
	return out
}

// MarshalJSON implements json.Marshaler.
func (r Report) MarshalJSON() ([]byte, error) { return r.AppendJSON(make([]byte, 0, 160)), nil }

// AppendJSON appends the report's JSON (keys sorted, as encoding/json
// sorts a map's).
func (r Report) AppendJSON(b []byte) []byte {
	b = append(b, `{"actualQueryCost":`...)
	if r.Actual == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(*r.Actual), 10)
	}
	b = append(b, `,"requestedQueryCost":`...)
	b = strconv.AppendInt(b, int64(r.Requested), 10)
	if r.Status != nil {
		b = append(b, `,"throttleStatus":{"currentlyAvailable":`...)
		b = appendFloat(b, r.Status.Available)
		b = append(b, `,"maximumAvailable":`...)
		b = appendFloat(b, r.Status.Maximum)
		b = append(b, `,"restoreRate":`...)
		b = appendFloat(b, r.Status.RestoreRate)
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendFloat writes f as encoding/json writes a float64 (NaN and
// infinities, which it refuses, as null).
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
