package cost

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

// Report.AppendJSON writes exactly what encoding/json writes for the map
// extensions.cost used to be, for every shape and for floats that
// encoding/json writes in exponent form.
func TestReportMatchesEncodingJSON(t *testing.T) {
	floats := []float64{0, 1, 1000, 987.5, 50, 0.1, 1e-7, 1.5e-9, 1e21, 123456789012345678901234.0, -3.25, math.MaxFloat64, math.SmallestNonzeroFloat64}
	for range 200 {
		floats = append(floats, rand.Float64()*math.Pow(10, float64(rand.IntN(30)-10)))
	}
	actual := 42
	for i, f := range floats {
		st := &Status{Maximum: f, Available: floats[(i+1)%len(floats)], RestoreRate: floats[(i+2)%len(floats)]}
		for _, r := range []Report{{Requested: i}, {Requested: i, Actual: &actual}, {Requested: i, Status: st}, {Requested: -i, Actual: &actual, Status: st}} {
			want, err := json.Marshal(r.Map())
			if err != nil {
				t.Fatal(err)
			}
			if got := string(r.AppendJSON(nil)); got != string(want) {
				t.Fatalf("AppendJSON %s\nencoding/json %s", got, want)
			}
			if got, _ := json.Marshal(r); string(got) != string(want) {
				t.Fatalf("MarshalJSON %s\nencoding/json %s", got, want)
			}
		}
	}
	r := Report{Requested: 7, Actual: &actual, Status: &Status{Maximum: 1000, Available: 993, RestoreRate: 50}}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = r.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times", n)
	}
}
